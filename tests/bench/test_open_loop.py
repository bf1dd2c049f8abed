"""Open-loop load: latency from the intended send time, so a slow server's queue shows in the figures.

A fake HTTP server answers one request at a time, each after a fixed pause: offered more than it
can serve, its queue grows for the whole window. A closed loop cannot see that (it waits for each
answer before sending the next); the open loop must.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench import loadgen
from bench.runner import hdr_percentiles
from bench.workload import Templates

SERVICE_SECONDS = 0.05  # one answer per 50 ms: 20/s at most
REQUEST = b"GET /x HTTP/1.1\r\nhost: test\r\n\r\n"


async def slow_server(pause: float | None) -> AsyncIterator[int]:
    lock = asyncio.Lock()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if pause is None:  # never answers
                    await asyncio.sleep(3600)
                    continue
                async with lock:  # one at a time, like a saturated single-core server
                    await asyncio.sleep(pause)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def spec(port: int, rate: float, connections: int = 4, drain: float = 2.0) -> loadgen.Spec:
    templates = Templates("rest", REQUEST, REQUEST, REQUEST, REQUEST, "rsv_x", "rsv_x")
    return loadgen.Spec("rest", "127.0.0.1", port, "get", connections, 0, connections, 1, templates,
                        rate=rate, drain=drain)  # fmt: skip


async def run(spec_: loadgen.Spec, warmup: float, duration: float) -> dict[str, Any]:
    start: asyncio.Future[tuple[float, float, float]] = asyncio.get_running_loop().create_future()
    begin = time.time() + 0.1
    start.set_result((begin, begin + warmup, begin + warmup + duration))
    return await loadgen.run_worker(spec_, start)


def p99_ms(result: dict[str, Any]) -> float:
    histogram = loadgen.histogram()
    histogram.decode_and_add(result["histograms"]["all"].encode())
    return hdr_percentiles(histogram)["p99"]


async def test_open_loop_latency_includes_the_queue_a_closed_loop_hides() -> None:
    async for port in slow_server(SERVICE_SECONDS):
        closed = await run(spec(port, rate=0.0), 0.0, 1.0)
        opened = await run(spec(port, rate=40.0), 0.0, 1.0)  # twice what the server can answer
    closed_p99 = max(closed["latencies"]["get"]) * 1000
    # Closed loop: 4 connections wait their turn, about 4 pauses at worst.
    assert closed_p99 < 8 * SERVICE_SECONDS * 1000
    # Open loop: 40 offered per second, 20 served: by the end of the second ~20 wait in line (~1 s).
    assert p99_ms(opened) > 2 * closed_p99
    assert p99_ms(opened) > 400
    assert opened["intended"] == pytest.approx(40, abs=4)
    assert opened["operations"] < 0.75 * opened["intended"]  # it could not keep up


async def test_open_loop_below_capacity_has_no_queue() -> None:
    async for port in slow_server(0.001):
        opened = await run(spec(port, rate=40.0), 0.2, 1.0)
    assert opened["intended"] == pytest.approx(40, abs=4)
    assert opened["unfinished"] == 0
    assert opened["operations"] >= opened["intended"] - 4
    assert p99_ms(opened) < 400  # far below the saturated case's queue (noisy machine: generous)


async def test_an_answer_that_never_comes_is_unfinished_at_the_drain_bound() -> None:
    async for port in slow_server(None):
        opened = await run(spec(port, rate=20.0, connections=2, drain=0.3), 0.0, 0.5)
    assert opened["operations"] == 0
    assert opened["unfinished"] == opened["intended"] > 0
    assert p99_ms(opened) >= 300  # at least the drain: never reported as fast


async def test_an_answer_with_connection_close_is_followed_by_a_new_connection_not_an_error() -> None:
    """nginx closes a keep-alive connection after `keepalive_requests` (1000) answers, saying so in the
    last one; the edge rows counted the next request on that connection as failed until this held."""
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        closed = await run(spec(server.sockets[0].getsockname()[1], rate=0.0, connections=1), 0.0, 0.3)
    finally:
        server.close()
        await server.wait_closed()
    assert closed["errors"] == {}, closed["error_samples"]
    assert closed["operations"] >= 5
    assert connections >= closed["operations"]  # one connection per answer, as the server asked
