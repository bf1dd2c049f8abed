"""Issue 15 finding 3: no GraphQL query may stall the process.

``Room.reservations`` is paginated, an operation's cost is computed from its document before it runs
and refused above the limit, queries stop at a time limit, the biggest allowed answers are built off
the server's event loop, and SIGTERM ends the process within its grace period whatever runs.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse

from services.core.model import ReservationDraft
from services.graphql.cost import operation_cost
from services.graphql.options import GraphQLOptions
from services.graphql.schema import build_schema
from tests.support.processes import free_port, rosetta_process, wait_healthy
from tests.support.server import LiveServer, live_server

# The query: 14 tokens, depth 7, and it grew with the cube of a room's reservations. Now each
# level is one page (default 20), so it costs the same whatever the data; asking 100 a level is refused.
CUBIC = (
    '{ room(roomId:"room-c") { reservations { room { reservations { room { reservations '
    "{ guestName } } } } } } }"
)
CUBIC_FULL = CUBIC.replace("reservations", "reservations(first: 100)")
# The biggest answer the default limits allow: 100 reservations, each with 98 of its room's.
WORST_ALLOWED = (
    "{ reservations(pageSize: 100) { items { room { reservations(first: 98) { guestName startTime } } } } }"
)
ROOM_PAGE = (
    'query($after: ID) { room(roomId: "room-c") '
    "{ reservations(first: 2, after: $after) { reservationId date } } }"
)


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    return operation_cost(parse(query), variables, None)


def test_the_cost_is_fields_times_list_bounds_from_the_document_alone() -> None:
    assert cost("{ rooms { roomId } }") == 1 + 50 * 1
    assert cost('{ room(roomId: "a") { reservations(first: 10) { guestName room { name } } } }') == 1 + (
        1 + 10 * (1 + (1 + 1))
    )
    assert cost("{ reservations { items { guestName } page } }") == 1 + (1 + 20 * 1) + 1
    assert (
        cost("query($n: Int) { reservations(pageSize: $n) { items { guestName } } }", {"n": 5}) == 1 + 1 + 5
    )
    assert cost("query($n: Int = 7) { events(limit: $n) { sequence } }") == 1 + 7
    fragment = '{ room(roomId: "a") { ...R } } fragment R on Room { reservations(first: 3) { date } }'
    assert cost(fragment) == 1 + (1 + 3)
    # An out-of-range page is charged at the maximum (it is refused anyway when it runs).
    assert cost("{ events(limit: 100000) { sequence } }") == 1 + 1000
    assert cost(CUBIC) == 1 + (1 + 20 * (1 + (1 + 20 * (1 + (1 + 20 * 1)))))
    assert cost(WORST_ALLOWED) <= 20_000 < cost(WORST_ALLOWED.replace("98", "100"))


def test_the_remembered_cost_is_per_query_text_operation_and_variables() -> None:
    documents = build_schema(GraphQLOptions()).documents
    page = "query($n: Int) { reservations(pageSize: $n) { items { guestName } } }"
    assert [documents.cost(page, {"n": n}, None) for n in (5, 50, 5)] == [1 + 1 + 5, 1 + 1 + 50, 1 + 1 + 5]
    assert documents.cost(page, None, None) == 1 + 1 + 20  # no variable: the default page
    two = "query A { rooms { roomId } } query B($n: Int = 3) { events(limit: $n) { sequence } }"
    assert (documents.cost(two, {}, "A"), documents.cost(two, {}, "B")) == (1 + 50, 1 + 3)
    events = "query($n: Int, $types: [String!]) { events(limit: $n) { sequence } }"
    # A list among the variables: computed each time, the same answer.
    assert documents.cost(events, {"n": 9, "types": ["reservation.created"]}, None) == 1 + 9


async def seed(server: LiveServer, count: int) -> None:
    core = server.runtime.service
    for number in range(count):
        day, hour = divmod(number, 12)
        await core.create_reservation(
            ReservationDraft(
                "room-c", f"Guest {number}", f"2030-{1 + day // 28:02d}-{1 + day % 28:02d}",
                f"{8 + hour:02d}:00", f"{8 + hour:02d}:30", 1, None,
            )
        )  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="rest,graphql") as running:
        asyncio.run(seed(running, 110))
        yield running


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield client


async def graphql(http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    answer = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    assert answer.status_code == 200
    return answer.json()


async def test_the_cubic_query_is_bounded_by_pages_and_its_full_form_refused_before_it_runs(
    http: httpx.AsyncClient,
) -> None:
    bounded = await graphql(http, CUBIC)  # 110 reservations in room-c: 20 x 20 x 20 names at most
    outer = bounded["data"]["room"]["reservations"]
    assert len(outer) == 20 and len(outer[0]["room"]["reservations"]) == 20
    assert cost(CUBIC) == 8842
    started = time.monotonic()
    body = await graphql(http, CUBIC_FULL)
    assert time.monotonic() - started < 5
    assert "data" not in body
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INVALID_PROPERTY", "field": "query"}
    assert f"would cost {cost(CUBIC_FULL)}, above the limit of 20000" in error["message"]
    french = await http.post("/graphql", json={"query": CUBIC_FULL}, headers={"accept-language": "fr"})
    assert "coûterait" in french.json()["errors"][0]["message"]


async def test_room_reservations_come_in_pages_by_cursor_and_by_date(http: httpx.AsyncClient) -> None:
    first = (await graphql(http, ROOM_PAGE))["data"]["room"]["reservations"]
    second = (await graphql(http, ROOM_PAGE, {"after": first[-1]["reservationId"]}))["data"]["room"][
        "reservations"
    ]
    assert len(first) == len(second) == 2
    assert {r["reservationId"] for r in first}.isdisjoint(r["reservationId"] for r in second)
    assert [r["date"] for r in first + second] == sorted(r["date"] for r in first + second)
    default = await graphql(http, '{ room(roomId: "room-c") { reservations { date } } }')
    assert len(default["data"]["room"]["reservations"]) == 20  # the default page
    dated = await graphql(
        http,
        '{ room(roomId: "room-c") { reservations(first: 100, dateFrom: "2030-01-02", dateTo: "2030-01-02")'
        " { date } } }",
    )
    assert [r["date"] for r in dated["data"]["room"]["reservations"]] == ["2030-01-02"] * 12
    for arguments, field in (("first: 101", "first"), ("first: 0", "first"), ('after: "rsv_nope"', "after")):
        refused = await graphql(
            http, f'{{ room(roomId: "room-c") {{ reservations({arguments}) {{ date }} }} }}'
        )
        assert refused["errors"][0]["extensions"] == {"code": "INVALID_PROPERTY", "field": field}


async def test_rest_answers_within_200_ms_while_the_worst_allowed_graphql_queries_run(
    http: httpx.AsyncClient,
) -> None:
    """A behavioural bound (generous on purpose: this machine is shared); the queries take seconds."""
    heavy = [asyncio.create_task(graphql(http, WORST_ALLOWED)) for _ in range(3)]
    await asyncio.sleep(0.05)  # the queries have started
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=10) as rest:
        while not all(task.done() for task in heavy) or len(latencies) < 5:
            started = time.perf_counter()
            answer = await rest.get("/api/v1/rooms/room-a")
            latencies.append(time.perf_counter() - started)
            assert answer.status_code == 200
            await asyncio.sleep(0.02)
    results = [task.result() for task in heavy]
    for result in results:
        assert "errors" not in result
        assert len(result["data"]["reservations"]["items"]) == 100
    assert max(latencies) < 0.2, sorted(latencies)[-5:]


def graphql_workers() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "graphql-worker"}


async def test_a_query_over_the_time_limit_is_stopped_and_the_server_goes_on() -> None:
    workers_before = graphql_workers()
    with live_server(styles="rest,graphql", graphql_max_seconds=0.01) as running:
        await seed(running, 110)
        async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as http:
            body = await graphql(http, WORST_ALLOWED)
            assert "data" not in body
            assert body["errors"][0]["extensions"] == {"code": "INVALID_PROPERTY", "field": "query"}
            assert "longer than the limit of 0.01 seconds" in body["errors"][0]["message"]
            assert "errors" not in await graphql(http, '{ room(roomId: "room-a") { name } }')
        assert graphql_workers() - workers_before, "the big query ran on the GraphQL worker thread"
    # The stopped query's leftovers are collected here, not in some later test; the server's worker
    # thread (and its event loop) ended with the server.
    gc.collect()
    assert not graphql_workers() - workers_before


def test_sigterm_ends_the_server_within_its_grace_period_while_heavy_queries_run(tmp_path: Path) -> None:
    port = free_port()
    args = ["serve", "--styles", "rest,graphql", "--port", str(port), "--db", "memory://"]
    base = f"http://127.0.0.1:{port}"
    # Identity is not the subject here: the requests carry no credential.
    with rosetta_process(args, {"ROSETTA_AUTH": "off"}) as process:
        wait_healthy(base + "/healthz", process)
        asyncio.run(_seed_over_http(base, 110))
        with httpx.Client(base_url=base, timeout=30) as http:
            pending = [_post_in_background(base, WORST_ALLOWED) for _ in range(4)]
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            process.wait(timeout=15)
            assert time.monotonic() - started < 10  # grace period 5 s, with room for a loaded machine
            with pytest.raises(httpx.TransportError):
                http.get("/healthz")
        for thread in pending:
            thread.join(timeout=10)


def _post_in_background(base: str, query: str) -> Any:
    import threading

    def post() -> None:
        try:
            httpx.post(base + "/graphql", json={"query": query}, timeout=30)
        except httpx.TransportError:
            pass  # the server went away: expected

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


async def _seed_over_http(base: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for number in range(count):
            day, hour = divmod(number, 12)
            answer = await http.post(
                "/api/v1/reservations",
                json={
                    "roomId": "room-c",
                    "guestName": f"Guest {number}",
                    "date": f"2030-{1 + day // 28:02d}-{1 + day % 28:02d}",
                    "startTime": f"{8 + hour:02d}:00",
                    "endTime": f"{8 + hour:02d}:30",
                    "attendees": 1,
                },
            )
            assert answer.status_code == 201, answer.text
