"""One change, the same ordered events on all six surfaces, and resume with no gap and no duplicate.

REST polling and SOAP polling read the log in batches; SSE, the GraphQL subscription, the gRPC
stream and the WebSocket subscription push. Every surface must report the same events (same
sequence, eventId, type, occurredAt and data) in the same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from services.core.model import Event, ReservationChanges, ReservationDraft
from services.graphql.client import GraphQLClient
from services.grpc.client import GrpcClient
from services.rest.client import RestClient
from services.soap.client import SoapClient
from services.websocket.client import WebSocketClient
from tests.support.server import LiveServer, live_server

PUSH_SURFACES = ("sse", "graphql-subscription", "grpc-stream", "websocket-subscription")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="rest,graphql,grpc,soap,websocket") as running:
        yield running


def _stream(server: LiveServer, surface: str) -> Callable[[int], Any]:
    """(client, after) -> async iterator of events, for one push surface."""
    factories: dict[str, Callable[[], Any]] = {
        "sse": lambda: RestClient(server.base_url),
        "graphql-subscription": lambda: GraphQLClient(server.base_url),
        "grpc-stream": lambda: GrpcClient(str(server.grpc_target)),
        "websocket-subscription": lambda: WebSocketClient(server.base_url),
    }

    async def events(after: int) -> AsyncIterator[tuple[Any, AsyncGenerator[Event, None]]]:
        client = factories[surface]()
        try:
            yield client, client.stream_events(after)
        finally:
            await client.aclose()

    return events


async def _take(stream: AsyncGenerator[Event, None], count: int) -> list[Event]:
    taken: list[Event] = []
    async with asyncio.timeout(15):
        async for event in stream:
            taken.append(event)
            if len(taken) == count:
                break
    await stream.aclose()
    return taken


async def _subscribed(server: LiveServer, surface: str, after: int, count: int) -> asyncio.Task[list[Event]]:
    """Start reading ``count`` events after ``after`` on a push surface, in the background."""

    async def read() -> list[Event]:
        async for _client, stream in _stream(server, surface)(after):
            return await _take(stream, count)
        raise AssertionError("unreachable")

    # No need to wait for the subscription to reach the server: it starts from ``after`` either way.
    return asyncio.create_task(read())


async def _change(rest: RestClient, day: str) -> None:
    draft = ReservationDraft("room-c", "Events", day, "09:00", "10:00", 3, "one change, six surfaces")
    created = await rest.create_reservation(draft)
    await rest.modify_reservation(created.reservation_id, ReservationChanges(attendees=4))
    await rest.cancel_reservation(created.reservation_id, reason="done")


async def test_one_change_gives_the_same_events_on_all_six_surfaces(server: LiveServer) -> None:
    async with RestClient(server.base_url) as rest, SoapClient(server.base_url) as soap:
        before = await rest.watch_events(0, limit=1000)
        after = before[-1].sequence if before else 0
        readers = {surface: await _subscribed(server, surface, after, 3) for surface in PUSH_SURFACES}
        await _change(rest, "2034-02-01")
        seen: dict[str, list[Event]] = {surface: await task for surface, task in readers.items()}
        seen["rest-polling"] = await rest.watch_events(after)
        seen["soap-polling"] = await soap.watch_events(after)

    reference = seen["rest-polling"]
    assert [e.type for e in reference] == [
        "reservation.created",
        "reservation.modified",
        "reservation.canceled",
    ]
    assert [e.sequence for e in reference] == [after + 1, after + 2, after + 3]
    for surface, events in seen.items():
        assert [e.to_dict() for e in events] == [e.to_dict() for e in reference], surface


@pytest.mark.parametrize("surface", PUSH_SURFACES)
async def test_a_dropped_stream_resumes_from_the_last_sequence_with_no_gap_and_no_duplicate(
    server: LiveServer, surface: str
) -> None:
    day = f"2034-03-{1 + PUSH_SURFACES.index(surface):02d}"
    async with RestClient(server.base_url) as rest:
        before = await rest.watch_events(0, limit=1000)
        after = before[-1].sequence if before else 0
        first = await _subscribed(server, surface, after, 1)
        await _change(rest, day)
        got = await first  # the connection is dropped after one event
        async for _client, stream in _stream(server, surface)(got[-1].sequence):
            got += await _take(stream, 2)
        expected = await rest.watch_events(after, limit=3)
    assert [e.sequence for e in got] == [after + 1, after + 2, after + 3]
    assert [e.to_dict() for e in got] == [e.to_dict() for e in expected]


async def test_a_stalled_subscriber_holds_up_nobody(server: LiveServer) -> None:
    """Streams are pulled from the log as each connection accepts bytes: a reader that stops
    reading only falls behind; it neither buffers the log in the server nor slows the others."""
    async with RestClient(server.base_url) as rest:
        before = await rest.watch_events(0, limit=1000)
        after = before[-1].sequence if before else 0
        await _change(rest, "2034-12-31")  # three events the stalled readers start on
        stalled: list[Any] = []
        for surface in ("sse", "grpc-stream"):
            opened = _stream(server, surface)(after)
            _client, stream = await opened.__anext__()
            await _take_one(stream)  # then never reads again, connection left open
            stalled.append(opened)
        reader = await _subscribed(server, "websocket-subscription", after, 153)
        for n in range(50):
            await _change(rest, f"2035-{1 + n // 28:02d}-{1 + n % 28:02d}")
        got = await reader
        for opened in stalled:
            await opened.aclose()
    assert [e.sequence for e in got] == list(range(after + 1, after + 154))


async def _take_one(stream: AsyncIterator[Event]) -> None:
    async with asyncio.timeout(15):
        await stream.__anext__()
