"""Scenarios where the styles really differ, each through every style's real client, same data checked.

Every scenario seeds the same reservations through the style's own client, reads them back the way
that style's contract allows, normalizes the answer (ids and timestamps aside) and compares it with
the other styles' *before* measuring. Then it repeats the step through a counting relay and reports
round trips, bytes each way, server CPU per step (the server process's own, from /proc) and latency
(p50/p99 of the client-side wall time of the whole step, set-up included where the step opens it).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.core.api import ReservationApi
from services.core.model import Reservation, ReservationDraft, ReservationQuery

SCENARIOS: dict[str, str] = {
    "room-page": "a room and its reservations for one day",
    "sparse": "a page of 20 when the client needs two fields (guest name, status)",
    "payload-sweep": "list pages of 1, 20, 100 and 500 reservations: size and encoding cost per item",
    "cold-call": "the first call on a new connection, set-up included",
    "fan-out": "1, 10 and 100 subscribers per push style (SSE, GraphQL subscription, gRPC stream, "
    "WebSocket, webhooks): events/s delivered, p99 commit-to-delivery lag",
}
NOT_BUILT: dict[str, str] = {}  # scenarios asked for by name that this version cannot run, and why

ROOM = "room-a"
DAY = "2041-03-14"
DAY_SLOTS = 10  # reservations on the room's day (08:00 .. 17:45)
SWEEP_YEAR = 2042
SWEEP_SIZES = (1, 20, 100, 500)
MAX_PAGE = 100  # the contract's largest pageSize: 500 items take 5 pages in every style


def day_draft(index: int) -> ReservationDraft:
    return ReservationDraft(
        ROOM, f"Guest {index:03d}", DAY, f"{8 + index:02d}:00", f"{8 + index:02d}:45", 2, "scenario"
    )


def sweep_draft(index: int) -> ReservationDraft:
    day, hour = divmod(index, 10)
    month, mday = divmod(day, 28)
    return ReservationDraft(
        "room-b",
        f"Sweep {index:03d}",
        f"{SWEEP_YEAR}-{month + 1:02d}-{mday + 1:02d}",
        f"{8 + hour:02d}:00",
        f"{8 + hour:02d}:30",
        2,
        "payload sweep",
    )


def normalized(reservation: Reservation) -> dict[str, Any]:
    data = reservation.to_dict()
    for key in ("reservationId", "createdAt", "updatedAt"):
        data.pop(key, None)
    return data


@dataclass
class StepResult:
    """One measured step of a scenario in one style."""

    style: str
    step: str
    round_trips: int
    iterations: int
    bytes_to_server: float
    bytes_to_client: float
    latency_ms: dict[str, float]
    server_cpu_ms: float | None
    items: int = 0
    note: str = ""
    contention: dict[str, Any] = field(default_factory=dict)


def server_cpu(server: Any) -> float | None:
    """The server's CPU seconds, ns resolution (schedstat of every thread), else /proc/PID/stat."""
    if server is None or server.process is None:
        return None
    total = 0
    try:
        for task in os.scandir(f"/proc/{server.process.pid}/task"):
            with open(f"/proc/{server.process.pid}/task/{task.name}/schedstat") as handle:
                total += int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float(server.cpu_seconds())
    return total / 1e9


def percentile_ms(values: list[float]) -> dict[str, float]:
    from bench.loadgen import histogram
    from bench.runner import hdr_percentiles

    h = histogram()
    for value in values:
        h.record_value(max(1, round(value * 1e6)))
    return hdr_percentiles(h)


# -- each style's way of doing a step ------------------------------------------------------

ROOM_PAGE_QUERY = (
    "query RoomPage($roomId: ID!, $day: String!) { room(roomId: $roomId) { roomId name capacity location } "
    'reservations(filter: {roomId: $roomId, dateFrom: $day, dateTo: $day}, sort: "startTime", page: 1, '
    "pageSize: 100) { items { reservationId roomId guestName date startTime endTime attendees purpose "
    "status cancelReason version createdAt updatedAt } totalItems } }"
)
SPARSE_QUERY = (
    "query Sparse($page: Int!, $pageSize: Int!) { reservations(page: $page, pageSize: $pageSize, "
    'sort: "date") { items { guestName status } } }'
)


Step = Callable[[Any], Awaitable[tuple[Any, int]]]  # client -> (normalized answer, round trips)


def _graphql(api: Any, document: str, variables: dict[str, Any]) -> Awaitable[Any]:
    async def call() -> Any:
        response = await api._http.post(api.endpoint, json={"query": document, "variables": variables})
        payload = response.json()
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors'][:1]}")
        return payload["data"]

    return call()


def room_page_step(style: str) -> Step:
    async def step(api: Any) -> tuple[Any, int]:
        if style == "graphql":  # one document asks for both
            data = await _graphql(api, ROOM_PAGE_QUERY, {"roomId": ROOM, "day": DAY})
            from services.core.model import Reservation

            items = [normalized(Reservation.from_dict(item)) for item in data["reservations"]["items"]]
            return {"room": data["room"], "items": items}, 1
        room = await api.get_room(ROOM)
        page = await api.list_reservations(
            ReservationQuery(room_id=ROOM, date_from=DAY, date_to=DAY, sort="startTime", page_size=MAX_PAGE)
        )
        return {"room": room.to_dict(), "items": [normalized(item) for item in page.items]}, 2

    return step


def sparse_step(style: str) -> Step:
    async def step(api: Any) -> tuple[Any, int]:
        if style == "graphql":  # the only style whose contract lets the client choose the fields
            data = await _graphql(api, SPARSE_QUERY, {"page": 1, "pageSize": 20})
            found = [[item["guestName"], item["status"]] for item in data["reservations"]["items"]]
        else:
            page = await api.list_reservations(ReservationQuery(sort="date", page=1, page_size=20))
            found = [[item.guest_name, item.status.value] for item in page.items]
        return sorted(found), 1  # the same 20 (ties of one date may come in any order)

    return step


def page_step(size: int) -> Step:
    async def step(api: Any) -> tuple[Any, int]:
        items: list[Any] = []
        calls = 0
        page_size = min(size, MAX_PAGE)
        page = 1
        while len(items) < size:
            found = await api.list_reservations(
                ReservationQuery(date_from=f"{SWEEP_YEAR}-01-01", date_to=f"{SWEEP_YEAR}-12-31", page=page,
                                 page_size=page_size)
            )  # fmt: skip
            calls += 1
            items.extend(found.items)
            if len(found.items) < page_size:
                break
            page += 1
        return [normalized(item) for item in items[:size]], calls

    return step


def cold_step(style: str, seed_id: str, http_url: str, grpc_target: str | None) -> Step:
    """A new client (its set-up: WSDL parse for SOAP, channel for gRPC) and a new connection per call."""

    async def step(_: Any) -> tuple[Any, int]:
        from bench.capture import open_client

        api = open_client(style, http_url, grpc_target)
        async with api:
            found = await api.get_reservation(seed_id)
        return normalized(found), 1

    return step


COLD_NOTES = {
    "rest": "TCP + 1 HTTP/1.1 request",
    "graphql": "TCP + 1 HTTP/1.1 POST",
    "grpc": "TCP + HTTP/2 preface and SETTINGS exchange + 1 call",
    "soap": "WSDL parsed by zeep from the packaged contract (no fetch) + TCP + 1 POST",
    "websocket": "TCP + HTTP upgrade (101) + 1 frame each way",
}


async def seed(api: ReservationApi, scenarios: list[str]) -> str:
    """The scenarios' data, through the style's own client; returns a reservation id to read."""
    first: str | None = None
    for index in range(DAY_SLOTS):
        created = await api.create_reservation(day_draft(index))
        first = first or created.reservation_id
    if "payload-sweep" in scenarios:
        for index in range(max(SWEEP_SIZES)):
            await api.create_reservation(sweep_draft(index))
    assert first is not None
    return first


def steps_of(
    scenario: str, style: str, seed_id: str, http_url: str, grpc: str | None
) -> list[tuple[str, Step, int]]:
    """(step name, step, items it returns) of a scenario."""
    if scenario == "room-page":
        return [("room-page", room_page_step(style), DAY_SLOTS)]
    if scenario == "sparse":
        return [("sparse", sparse_step(style), 20)]
    if scenario == "payload-sweep":
        return [(f"page of {size}", page_step(size), size) for size in SWEEP_SIZES]
    if scenario == "cold-call":
        return [("cold-call", cold_step(style, seed_id, http_url, grpc), 1)]
    if scenario == "fan-out":
        return []  # measured apart (bench.fanout): it needs servers of its own
    raise ValueError(scenario)


async def measure_style(
    style: str,
    host: str,
    port: int,
    grpc_port: int | None,
    server: Any,
    scenarios: list[str],
    iterations: int,
    detector: Any,
) -> tuple[dict[str, Any], list[StepResult]]:
    """Seed, answer each step once (kept for the cross-style check), then measure it ``iterations`` times."""
    from bench.capture import open_client
    from bench.contention import server_pids
    from bench.wire import CountingRelay

    grpc_target = f"{host}:{grpc_port}" if grpc_port else None
    direct = open_client(style, f"http://{host}:{port}", grpc_target)
    async with direct:
        seed_id = await seed(direct, scenarios)
    answers: dict[str, Any] = {}
    results: list[StepResult] = []
    target_port = grpc_port if style == "grpc" and grpc_port else port
    for scenario in scenarios:
        # Bytes through a counting relay; latency and CPU on a direct connection (a relay hop adds
        # milliseconds to an HTTP/1.1 exchange, which would drown the differences measured here).
        traffic: dict[str, tuple[float, float]] = {}
        async with CountingRelay(host, target_port) as relay:
            relayed_http = f"http://127.0.0.1:{relay.port}"
            relayed_grpc = f"127.0.0.1:{relay.port}" if style == "grpc" else grpc_target
            api = open_client(style, relayed_http, relayed_grpc)
            async with api:
                for name, step, _ in steps_of(scenario, style, seed_id, relayed_http, relayed_grpc):
                    answers[name], _ = await step(api)  # warms the connection; the answer is checked
                    await asyncio.sleep(0.05)
                    relay.count.reset()
                    rounds = min(iterations, 5)
                    for _ in range(rounds):
                        await step(api)
                    await asyncio.sleep(0.05)  # trailing frames (HTTP/2 window updates) cross
                    traffic[name] = (relay.count.to_server / rounds, relay.count.to_client / rounds)
        http_url = f"http://{host}:{port}"
        api = open_client(style, http_url, grpc_target)
        async with api:
            for name, step, items in steps_of(scenario, style, seed_id, http_url, grpc_target):
                answer, round_trips = await step(api)
                if answer != answers[name]:
                    raise AssertionError(f"{style} {name}: a direct call answered differently than relayed")
                probe_before = detector.probe_now() if detector else None
                window = detector.open(server_pids(server)) if detector and server else None
                cpu_start = server_cpu(server)
                latencies = []
                for _ in range(iterations):
                    started = time.perf_counter()
                    await step(api)
                    latencies.append(time.perf_counter() - started)
                cpu_end = server_cpu(server)
                cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else None
                figures = detector.close(window, cpu) if detector and window else {}
                probe_after = detector.probe_now() if detector else None
                found = detector.verdict(figures, [probe_before, probe_after]) if detector else {}
                results.append(
                    StepResult(
                        style=style,
                        step=name,
                        round_trips=round_trips,
                        iterations=iterations,
                        bytes_to_server=traffic[name][0],
                        bytes_to_client=traffic[name][1],
                        latency_ms=percentile_ms(latencies),
                        server_cpu_ms=cpu * 1000 / iterations if cpu is not None else None,
                        items=items,
                        note=COLD_NOTES.get(style, "") if scenario == "cold-call" else "",
                        contention=found,
                    )
                )
    return answers, results
