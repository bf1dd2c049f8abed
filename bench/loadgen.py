"""The project's own load generator: light asyncio connections replaying pre-built requests.

``python -m bench.loadgen SPEC.json`` runs one worker process: it opens its connections, prints
``ready``, reads one line ``START T0 T1`` (wall-clock seconds), warms up until ``T0``, counts what
completes in ``[T0, T1]`` and writes its results next to the spec. HTTP/1.1 and WebSocket use raw
sockets (no client library in the way: a pre-encoded request, a minimal response parser);
gRPC uses ``grpc.aio`` generic calls with pre-serialized messages.

Size: over 500 lines: the generator runs as its own process from this one file (raw HTTP/1.1,
WebSocket and gRPC clients with their open- and closed-loop schedules), so it imports little.
"""

# pylint: disable=too-many-lines

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import os
import re
import struct
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bench.workload import RESERVATION_ID, Templates, choose, fill_create, operation_sequence, slot

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.IGNORECASE)
_CONNECTION_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)
_GRAPHQL_ERRORS = b'"errors":'
_WS_ERROR = b'"type":"error"'
_WS_MASK = b"\x37\xfa\x21\x3d"
GRPC_SERVICE = "/rosetta.reservations.v1.ReservationService/"


class OperationFailed(Exception):
    """The server answered, but not with success (an HTTP error status, a fault, an error frame)."""


@dataclass
class Spec:
    style: str  # rest, graphql, soap, websocket or grpc: how to talk
    host: str
    port: int
    mix: str
    connections: int
    first_connection: int  # index of this worker's first connection among all workers'
    total_connections: int
    run: int  # distinguishes the slots of successive runs against one server
    templates: Templates
    seed: int = 1
    language: str = "en"
    rate: float = 0.0  # open loop: operations per second for this worker's connections together (0: closed)
    drain: float = 2.0  # open loop: seconds after the window to let late answers arrive
    metadata: Sequence[
        Sequence[str]
    ] = ()  # gRPC call credentials (bench/auth.py); HTTP templates carry theirs


@dataclass
class Tally:
    """What one worker counted inside the measured window."""

    latencies: dict[str, array[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def record(self, kind: str, seconds: float) -> None:
        bucket = self.latencies.get(kind)
        if bucket is None:
            bucket = self.latencies[kind] = array("d")
        bucket.append(seconds)

    def fail(self, kind: str, error: BaseException) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{kind}: {error!r}"[:300])


# -- HTTP/1.1 ------------------------------------------------------------------------------


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        # The server said `Connection: close` on its last answer (nginx does after `keepalive_requests`,
        # 1000 by default): the next request needs a new connection, as in any HTTP client.
        self.server_closes = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[: head_end + 2])
        body_start = head_end + 4
        match = _CONTENT_LENGTH.search(head)
        if match is not None:
            end = body_start + int(match.group(1))
            if len(self.buffer) < end:
                return
            body = bytes(self.buffer[body_start:end])
        elif _CHUNKED.search(head):
            terminator = self.buffer.find(b"0\r\n\r\n", body_start)
            if terminator < 0:
                return
            end = terminator + 5
            body = bytes(self.buffer[body_start:end])
        else:
            end = body_start
            body = b""
        del self.buffer[:end]
        if _CONNECTION_CLOSE.search(head):
            self.server_closes = True
        self.waiter.set_result((int(head[9:12]), body))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


# -- WebSocket -----------------------------------------------------------------------------


def mask_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A client frame (clients must mask; a fixed key is as valid as a random one)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    key = (_WS_MASK * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
    return header + _WS_MASK + masked


class WebSocketConnection(asyncio.Protocol):
    """One WebSocket connection after a replayed upgrade; text frames, one request in flight."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.upgraded = False
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[9:12])
            del self.buffer[: end + 4]
            self.upgraded = True
            if self.waiter is not None and not self.waiter.done():
                if status == b"101":
                    self.waiter.set_result(b"")
                else:
                    self.waiter.set_exception(ConnectionError(f"upgrade refused: {status!r}"))
            if not self.buffer:
                return
        while len(self.buffer) >= 2:
            first, second = self.buffer[0], self.buffer[1]
            length = second & 0x7F
            offset = 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length = struct.unpack_from("!H", self.buffer, 2)[0]
                offset = 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length = struct.unpack_from("!Q", self.buffer, 2)[0]
                offset = 10
            if len(self.buffer) < offset + length:
                return
            payload = bytes(self.buffer[offset : offset + length])
            del self.buffer[: offset + length]
            opcode = first & 0x0F
            if opcode == 9 and self.transport is not None:  # ping -> pong
                self.transport.write(mask_frame(payload, 10))
            elif opcode == 8:
                if self.waiter is not None and not self.waiter.done():
                    self.waiter.set_exception(ConnectionError("closed by the server"))
            elif opcode in (1, 2) and self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(payload)

    async def upgrade(self, handshake: bytes) -> None:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(handshake)
        await self.waiter

    async def exchange(self, frame: bytes) -> bytes:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(frame)
        return await self.waiter


# -- one connection's loop, per transport -------------------------------------------------


class Client(abc.ABC):
    """Sends one operation's request and returns the response body; raises on failure."""

    async def open(self) -> None:  # noqa: B027 - most transports connect lazily
        return None

    async def close(self) -> None:  # noqa: B027
        return None

    @abc.abstractmethod
    async def send(self, kind: str, request: bytes) -> bytes:
        """One request of ``kind`` on this connection; the response body."""


class HttpClient(Client):
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.conn: HttpConnection | None = None
        self.graphql = spec.style == "graphql"

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        _, self.conn = await loop.create_connection(HttpConnection, self.spec.host, self.spec.port)

    async def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()

    async def send(self, kind: str, request: bytes) -> bytes:
        assert self.conn is not None
        if self.conn.server_closes:  # reconnecting is part of this request's time, as for any client
            await self.close()
            await self.open()
            assert self.conn is not None
        status, body = await self.conn.exchange(request)
        if status >= 300 or (self.graphql and _GRAPHQL_ERRORS in body):
            raise OperationFailed(f"HTTP {status}: {body[:200]!r}")
        return body


class WsClient(Client):
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.conn: WebSocketConnection | None = None
        self.frames: dict[str, bytes] = {}

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        _, self.conn = await loop.create_connection(WebSocketConnection, self.spec.host, self.spec.port)
        await self.conn.upgrade(self.spec.templates.handshake)

    async def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            with contextlib.suppress(Exception):
                self.conn.transport.write(mask_frame(b"\x03\xe8", 8))
            self.conn.transport.close()

    async def send(self, kind: str, request: bytes) -> bytes:
        assert self.conn is not None
        frame = self.frames.get(kind) if kind in ("get", "list") else None
        if frame is None:
            frame = mask_frame(request)
            if kind in ("get", "list"):
                self.frames[kind] = frame
        body = await self.conn.exchange(frame)
        if _WS_ERROR in body:
            raise OperationFailed(body[:200].decode(errors="replace"))
        return body


class GrpcClient(Client):
    METHODS = {
        "get": "GetReservation",
        "list": "ListReservations",
        "create": "CreateReservation",
        "cancel": "CancelReservation",
    }

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.channel: Any = None
        self.calls: dict[str, Any] = {}
        self.metadata = (("accept-language", spec.language), *((k, v) for k, v in spec.metadata))

    async def open(self) -> None:
        import grpc

        # A local subchannel pool: each client gets its own HTTP/2 connection, like separate hosts.
        self.channel = grpc.aio.insecure_channel(
            f"{self.spec.host}:{self.spec.port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for kind, method in self.METHODS.items():
            self.calls[kind] = self.channel.unary_unary(GRPC_SERVICE + method)
        await self.channel.channel_ready()

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close()

    async def send(self, kind: str, request: bytes) -> bytes:
        import grpc

        try:
            answer: bytes = await self.calls[kind](request, metadata=self.metadata)
            return answer
        except grpc.aio.AioRpcError as failure:
            raise OperationFailed(f"{failure.code().name}: {failure.details()}") from None


def make_client(spec: Spec) -> Client:
    if spec.style == "grpc":
        return GrpcClient(spec)
    if spec.style == "websocket":
        return WsClient(spec)
    return HttpClient(spec)


def cancel_request(templates: Templates, created: bytes) -> bytes:
    match = RESERVATION_ID.search(created)
    if match is None:
        raise OperationFailed(f"no reservation id in the create response: {created[:200]!r}")
    return templates.cancel.replace(templates.cancel_id.encode(), match.group(0))


async def run_connection(
    spec: Spec,
    client: Client,
    index: int,
    window: tuple[float, float],
    tally: Tally,
    limit: int | None = None,
) -> int:
    """Operations back to back until the window closes (or ``limit`` operations); returns requests counted."""
    templates = spec.templates
    rng = operation_sequence(spec.mix, spec.seed * 1_000_003 + index)
    t0, t1 = window
    writes = 0
    clock = time.time
    counted = 0
    performed = 0
    while True:
        now = clock()
        if now >= t1 or (limit is not None and performed >= limit):
            return counted
        performed += 1
        operation = choose(spec.mix, rng)
        if operation == "write":
            steps = ["create", "cancel"]
        else:
            steps = [operation]
        body = b""
        for kind in steps:
            if kind == "get":
                request = templates.get
            elif kind == "list":
                request = templates.list
            elif kind == "create":
                request = fill_create(templates.create, slot(spec.run, index, spec.total_connections, writes))
                writes += 1
            else:
                try:
                    request = cancel_request(templates, body)
                except OperationFailed as error:
                    if clock() >= t0:
                        tally.fail(kind, error)
                    break
            started = time.perf_counter()
            try:
                body = await client.send(kind, request)
            except OperationFailed as error:
                if t0 <= clock() <= t1:
                    tally.fail(kind, error)
                break
            except (ConnectionError, OSError) as error:
                if t0 <= clock() <= t1:
                    tally.fail(kind, error)
                await client.close()
                await asyncio.sleep(0.05)
                with contextlib.suppress(Exception):
                    await client.open()
                break
            ended = clock()
            if t0 <= ended <= t1:
                tally.record(kind, time.perf_counter() - started)
                counted += 1


# -- open loop -----------------------------------------------------------------------------

HISTOGRAM_RANGE_US = (1, 120_000_000)  # 1 µs .. 2 min, 3 significant digits


def histogram() -> Any:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(*HISTOGRAM_RANGE_US, 3)


@dataclass
class OpenTally:
    """Open-loop outcome of one worker: HDR histograms (µs) from each operation's intended send time."""

    histograms: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    completed_in_window: int = 0
    intended_in_window: int = 0
    unfinished: int = 0

    def record(self, kind: str, seconds: float) -> None:
        for name in (kind, "all"):
            bucket = self.histograms.get(name)
            if bucket is None:
                bucket = self.histograms[name] = histogram()
            bucket.record_value(max(1, min(HISTOGRAM_RANGE_US[1], round(seconds * 1e6))))

    def fail(self, kind: str, error: BaseException) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{kind}: {error!r}"[:300])


async def perform(spec: Spec, client: Client, operation: str, index: int, writes: int) -> bytes:
    """One operation of the mix (write: create then cancel); raises on failure."""
    templates = spec.templates
    if operation == "get":
        return await client.send("get", templates.get)
    if operation == "list":
        return await client.send("list", templates.list)
    created = await client.send(
        "create", fill_create(templates.create, slot(spec.run, index, spec.total_connections, writes))
    )
    return await client.send("cancel", cancel_request(templates, created))


async def run_open_connection(
    spec: Spec,
    client: Client,
    index: int,
    offset: float,
    window: tuple[float, float, float],
    tally: OpenTally,
) -> None:
    """Operations on a fixed schedule (this connection's share of the rate), whatever the answers do.

    Latency runs from each operation's *intended* send time, so time spent waiting behind a slow
    answer counts (no coordinated omission): a stalled server shows as growing latency, not as
    fewer, faster samples. Operations intended inside the window are followed until ``drain``
    after it; one still unanswered then is recorded at that bound and counted as unfinished.
    """
    begin, t0, t1 = window
    interval = spec.connections / spec.rate
    rng = operation_sequence(spec.mix, spec.seed * 1_000_003 + index)
    clock = time.time
    deadline = t1 + spec.drain
    writes = 0
    k = 0
    while True:
        intended = begin + offset + k * interval
        k += 1
        if intended >= t1:
            return
        operation = choose(spec.mix, rng)
        counted = intended >= t0
        if counted:
            tally.intended_in_window += 1
        delay = intended - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        if operation == "write":
            writes += 1
        try:
            remaining = deadline - clock()
            if remaining <= 0:
                raise TimeoutError
            await asyncio.wait_for(perform(spec, client, operation, index, writes - 1), remaining)
        except TimeoutError:
            # This operation and every later one of the window never got an answer: each at its bound.
            if counted:
                tally.unfinished += 1
                tally.record(operation, deadline - intended)
            while (intended := begin + offset + k * interval) < t1:
                k += 1
                if intended >= t0:
                    tally.intended_in_window += 1
                    tally.unfinished += 1
                    tally.record(choose(spec.mix, rng), deadline - intended)
            await client.close()
            return
        except OperationFailed as error:
            if counted:
                tally.fail(operation, error)
            continue
        except (ConnectionError, OSError) as error:
            if counted:
                tally.fail(operation, error)
            await client.close()
            await asyncio.sleep(0.05)
            with contextlib.suppress(Exception):
                await client.open()
            continue
        ended = clock()
        if counted:
            tally.record(operation, ended - intended)
            if ended <= t1:
                tally.completed_in_window += 1


async def run_worker(spec: Spec, start: asyncio.Future[tuple[float, float, float]]) -> dict[str, Any]:
    clients = [make_client(spec) for _ in range(spec.connections)]
    await asyncio.gather(*(client.open() for client in clients))
    print("ready", flush=True)
    begin, t0, t1 = await start
    delay = begin - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    tally = Tally()
    cpu = {}

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, t0 - time.time()))
        cpu["t0"] = time.process_time()
        await asyncio.sleep(max(0.0, t1 - time.time()))
        cpu["t1"] = time.process_time()

    marker = asyncio.ensure_future(mark_cpu())
    if spec.rate > 0:
        open_tally = OpenTally()
        interval = spec.connections / spec.rate
        await asyncio.gather(
            *(
                run_open_connection(
                    spec,
                    client,
                    spec.first_connection + i,
                    interval * i / spec.connections,
                    (begin, t0, t1),
                    open_tally,
                )
                for i, client in enumerate(clients)
            )
        )
        await marker
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        return {
            "operations": open_tally.completed_in_window,
            "cpu_seconds": cpu["t1"] - cpu["t0"],
            "window": t1 - t0,
            "errors": open_tally.errors,
            "error_samples": open_tally.error_samples,
            "latencies": {},
            "histograms": {k: h.encode().decode() for k, h in open_tally.histograms.items()},
            "intended": open_tally.intended_in_window,
            "unfinished": open_tally.unfinished,
        }
    counts = await asyncio.gather(
        *(
            run_connection(spec, client, spec.first_connection + i, (t0, t1), tally)
            for i, client in enumerate(clients)
        )
    )
    await marker
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()
    return {
        "operations": sum(counts),
        "cpu_seconds": cpu["t1"] - cpu["t0"],
        "window": t1 - t0,
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        "latencies": {kind: list(values) for kind, values in tally.latencies.items()},
    }


def _install_loop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _main(spec_path: Path) -> None:
    raw = json.loads(spec_path.read_text())
    raw["templates"] = Templates.from_json(raw["templates"])
    spec = Spec(**raw)
    loop = asyncio.get_running_loop()
    start: asyncio.Future[tuple[float, float, float]] = loop.create_future()

    def read_start() -> None:
        line = sys.stdin.readline().split()
        loop.call_soon_threadsafe(start.set_result, (float(line[1]), float(line[2]), float(line[3])))

    loop.run_in_executor(None, read_start)
    result = await run_worker(spec, start)
    spec_path.with_suffix(".result.json").write_text(json.dumps(result))
    print("done", flush=True)


def main(argv: list[str]) -> int:
    cores = os.environ.get("ROSETTA_BENCH_CPUS")
    if cores and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(c) for c in cores.split(",")})
    _install_loop()
    asyncio.run(_main(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
