"""The ``fan-out`` scenario: 1, 10 and 100 subscribers per push style, events/s delivered and lag.

Push styles: REST's server-sent events, the GraphQL subscription, the gRPC server stream, the
WebSocket subscription (each through its real client's ``stream_events``, one connection per
subscriber) and webhooks (that many subscriptions to a local receiver). A writer creates
reservations one after another through the style's client (REST for webhooks); each event's lag
is from the moment its create returned (committed) to the moment a subscriber had it, clamped at
zero when the push overtook the create's own answer. Before measuring, one warm-up event must
reach every subscriber (so every subscription is live), and every subscriber must then receive
every measured event (checked: ``missing`` must be 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any

from bench.webhooks import read_body
from services.core.model import ReservationDraft

PUSH_STYLES = ("rest", "graphql", "grpc", "websocket", "webhooks")
LABELS = {
    "rest": "SSE",
    "graphql": "GraphQL subscription",
    "grpc": "gRPC stream",
    "websocket": "WebSocket",
    "webhooks": "webhooks",
}
FAN = (1, 10, 100)
CREATED = "reservation.created"
WAIT = 60.0  # seconds every subscriber has to receive everything


def draft(n: int) -> ReservationDraft:
    day, hour = divmod(n, 10)
    month, mday = divmod(day, 28)
    return ReservationDraft(
        ("room-a", "room-b", "room-c")[n % 3],
        f"Fan {n:04d}",
        f"{2050 + month // 12}-{month % 12 + 1:02d}-{mday + 1:02d}",
        f"{8 + hour:02d}:00",
        f"{8 + hour:02d}:30",
        1,
        "fan-out",
    )


class Arrivals:
    def __init__(self, subscribers: int) -> None:
        self.times: list[dict[str, float]] = [{} for _ in range(subscribers)]
        self.changed = asyncio.Event()

    def record(self, subscriber: int, reservation_id: str) -> None:
        self.times[subscriber].setdefault(reservation_id, time.perf_counter())
        self.changed.set()

    async def wait_for(self, ids: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not all(ids <= set(found) for found in self.times):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))
        return True


class Receiver:
    """The webhook receiver: an ASGI app under uvicorn in this event loop; ``/hook/N`` is subscriber N."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        with contextlib.suppress(ValueError, KeyError, IndexError):
            event = json.loads(body)
            if event.get("type") == CREATED:
                self.arrivals.record(int(scope["path"].rsplit("/", 1)[1]), event["data"]["reservationId"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _subscribe_clients(
    style: str, http_url: str, grpc_target: str | None, subscribers: int, arrivals: Arrivals
) -> tuple[list[Any], list[asyncio.Task[None]]]:
    from bench.capture import open_client

    clients = [open_client(style, http_url, grpc_target) for _ in range(subscribers)]

    async def consume(index: int, client: Any) -> None:
        async for event in client.stream_events(after=0, types=[CREATED]):
            arrivals.record(index, event.data["reservationId"])

    tasks = [asyncio.ensure_future(consume(i, client)) for i, client in enumerate(clients)]
    return clients, tasks


async def _subscribe_webhooks(http_url: str, subscribers: int, arrivals: Arrivals) -> tuple[Any, list[str]]:
    import httpx
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(Receiver(arrivals), log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    ids = []
    async with httpx.AsyncClient(base_url=http_url) as http:
        for index in range(subscribers):
            created = await http.post(
                "/api/v1/webhook-subscriptions",
                json={"url": f"http://127.0.0.1:{port}/hook/{index}", "eventTypes": [CREATED]},
            )
            created.raise_for_status()
            ids.append(created.json().get("id") or created.json().get("subscriptionId"))

    async def stop() -> None:
        server.should_exit = True
        await serving
        sock.close()

    return stop, ids


async def measure(
    style: str, http_url: str, grpc_target: str | None, subscribers: int, events: int, server: Any
) -> dict[str, Any]:
    """One push style with ``subscribers`` subscribers and ``events`` measured events."""
    from bench.capture import open_client
    from bench.scenarios import percentile_ms, server_cpu

    arrivals = Arrivals(subscribers)
    writer_style = "rest" if style == "webhooks" else style
    clients: list[Any] = []
    tasks: list[asyncio.Task[None]] = []
    stop = None
    if style == "webhooks":
        stop, _ = await _subscribe_webhooks(http_url, subscribers, arrivals)
    else:
        clients, tasks = await _subscribe_clients(style, http_url, grpc_target, subscribers, arrivals)
    writer = open_client(writer_style, http_url, grpc_target)
    try:
        async with writer:
            warm = await writer.create_reservation(draft(0))
            if not await arrivals.wait_for({warm.reservation_id}, WAIT):
                broken = [t.exception() for t in tasks if t.done() and t.exception()]
                raise RuntimeError(f"{style}: the warm-up event did not reach every subscriber {broken[:1]}")
            committed: dict[str, float] = {}
            cpu_start = server_cpu(server)
            started = time.perf_counter()
            for n in range(1, events + 1):
                created = await writer.create_reservation(draft(n))
                committed[created.reservation_id] = time.perf_counter()
            complete = await arrivals.wait_for(set(committed), WAIT)
            cpu_end = server_cpu(server)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
        if stop is not None:
            await stop()
    lags = []
    last = started
    for found in arrivals.times:
        for rid, at in committed.items():
            if rid in found:
                lags.append(max(0.0, found[rid] - at))
                last = max(last, found[rid])
    expected = subscribers * events
    span = last - started
    cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else None
    return {
        "style": style,
        "push": LABELS[style],
        "subscribers": subscribers,
        "events": events,
        "deliveries": len(lags),
        "missing": expected - len(lags) if not complete else 0,
        "delivered_per_s": len(lags) / span if span > 0 else 0.0,
        "created_per_s": events / (max(committed.values()) - started) if committed else 0.0,
        "lag_ms": percentile_ms(lags),
        "server_cpu_ms_per_delivery": cpu * 1000 / len(lags) if cpu is not None and lags else None,
    }
