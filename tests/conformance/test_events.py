"""One change, the same ordered events on every surface, and resume with no gap and no duplicate.

REST, SOAP, GraphQL, gRPC and WebSocket polling read the log in batches; SSE, the GraphQL
subscription, the gRPC stream and the WebSocket subscription push. Every surface must report the
same events (same sequence, eventId, type, occurredAt and data) in the same order, and an idle
subscriber on any push surface must cost no store reads (the streams wait on the notifier).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import grpc
import pytest

from gateway.app import Runtime
from services.core.model import Event, ReservationChanges, ReservationDraft
from services.core.service import ReservationService
from services.graphql.client import GraphQLClient
from services.grpc.client import GrpcClient
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from services.rest.client import RestClient
from services.soap.client import SoapClient
from services.websocket.client import WebSocketClient
from tests.support.counting import CountingStore
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

    @contextlib.asynccontextmanager
    async def events(after: int) -> AsyncIterator[tuple[Any, AsyncGenerator[Event, None]]]:
        # A context manager, not a one-item async generator: `return` inside `async for` over a generator
        # leaves it suspended, and its `finally` (closing the client) ran only when the garbage collector
        # finalized it, after the test's loop had closed: the unclosed transport the run's summary named.
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
        async with _stream(server, surface)(after) as (_client, stream):
            return await _take(stream, count)

    # No need to wait for the subscription to reach the server: it starts from ``after`` either way.
    return asyncio.create_task(read())


async def _change(rest: RestClient, day: str) -> None:
    draft = ReservationDraft("room-c", "Events", day, "09:00", "10:00", 3, "one change, six surfaces")
    created = await rest.create_reservation(draft)
    await rest.modify_reservation(created.reservation_id, ReservationChanges(attendees=4))
    await rest.cancel_reservation(created.reservation_id, reason="done")


async def test_one_change_gives_the_same_events_on_every_surface(server: LiveServer) -> None:
    assert server.grpc_target is not None
    async with (
        RestClient(server.base_url) as rest,
        SoapClient(server.base_url) as soap,
        GraphQLClient(server.base_url) as graphql,
        GrpcClient(server.grpc_target) as grpc,
        WebSocketClient(server.base_url) as websocket,
    ):
        before = await rest.watch_events(0, limit=1000)
        after = before[-1].sequence if before else 0
        readers = {surface: await _subscribed(server, surface, after, 3) for surface in PUSH_SURFACES}
        await _change(rest, "2034-02-01")
        seen: dict[str, list[Event]] = {surface: await task for surface, task in readers.items()}
        seen["rest-polling"] = await rest.watch_events(after)
        seen["soap-polling"] = await soap.watch_events(after)
        seen["graphql-polling"] = await graphql.watch_events(after)
        seen["grpc-polling"] = await grpc.watch_events(after)
        seen["websocket-polling"] = await websocket.watch_events(after)
        # One event read alone, after its predecessor, is the same event on every surface too.
        singles = {
            "rest-polling": await rest.watch_events(after + 1, limit=1),
            "soap-polling": await soap.watch_events(after + 1, limit=1),
            "graphql-polling": await graphql.watch_events(after + 1, limit=1),
            "grpc-polling": await grpc.watch_events(after + 1, limit=1),
            "websocket-polling": await websocket.watch_events(after + 1, limit=1),
        }

    reference = seen["rest-polling"]
    assert [e.type for e in reference] == [
        "reservation.created",
        "reservation.modified",
        "reservation.canceled",
    ]
    assert [e.sequence for e in reference] == [after + 1, after + 2, after + 3]
    assert len({e.event_id for e in reference}) == 3, "two events share an eventId"
    for surface, events in seen.items():
        assert [e.event_id for e in events] == [e.event_id for e in reference], (
            f"{surface} reports other eventIds than REST polling for the same events"
        )
        assert [e.to_dict() for e in events] == [e.to_dict() for e in reference], (
            f"{surface} reports the same events differently from REST polling"
        )
    for surface, events in singles.items():
        assert [e.to_dict() for e in events] == [reference[1].to_dict()], (
            f"{surface}: the event after sequence {after + 1} is not the one every surface listed"
        )


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
        async with _stream(server, surface)(got[-1].sequence) as (_client, stream):
            got += await _take(stream, 2)
        expected = await rest.watch_events(after, limit=3)
    assert [e.sequence for e in got] == [after + 1, after + 2, after + 3]
    assert [e.to_dict() for e in got] == [e.to_dict() for e in expected]


class CountingStreams(ReservationService):
    """The core, counting the events each stream has pulled from the log (one counter per stream)."""

    pulled: list[int]

    def stream_events(
        self,
        after: int = 0,
        *,
        types: Sequence[str] | None = None,
        batch_size: int = 100,
        wait_timeout: float = 30.0,
    ) -> AsyncGenerator[Event, None]:
        inner = super().stream_events(after, types=types, batch_size=batch_size, wait_timeout=wait_timeout)
        pulled = self.pulled
        index = len(pulled)
        pulled.append(0)

        async def counted() -> AsyncGenerator[Event, None]:
            try:
                async for event in inner:
                    pulled[index] += 1
                    yield event
            finally:
                await inner.aclose()

        return counted()


def _count_streams(runtime: Runtime) -> None:
    service = CountingStreams(runtime.store, notifier=runtime.notifier)
    service.pulled = []
    runtime.service = service


async def _stalled_sse(server: LiveServer, after: int) -> socket.socket:
    """An SSE subscriber on a bare socket with a small receive buffer, which reads its response's first
    bytes and then nothing more: whatever the server pulls beyond what fits in the two sockets' buffers
    would have to be kept in the server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    request = (
        f"GET /api/v1/events?after={after} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    async with asyncio.timeout(15):
        first = await loop.sock_recv(sock, 1024)
    assert first.startswith(b"HTTP/1.1 200"), first[:200]
    return sock


async def test_a_stalled_subscriber_holds_up_nobody() -> None:
    """Streams are pulled from the log as each connection accepts bytes: a reader that stops reading only
    falls behind. Measured: the server stops pulling events for the stalled readers (what it holds for
    them is bounded by their connections' buffers, whatever the log's length), while a live reader on
    another connection keeps receiving every event as it is written."""
    writes = 400
    with live_server(styles="rest,grpc,websocket", prepare=_count_streams, send_buffer=8192) as server:
        service = server.runtime.service
        assert isinstance(service, CountingStreams)
        assert server.grpc_target is not None
        stalled_sse = await _stalled_sse(server, 0)
        # A bare channel without BDP probing: its stream window stays at HTTP/2's 64 KiB.
        channel = grpc.aio.insecure_channel(server.grpc_target, options=[("grpc.http2.bdp_probe", 0)])
        grpc_stream = pb_grpc.ReservationServiceStub(channel).WatchEvents(pb.WatchEventsRequest(after=0))
        async with RestClient(server.base_url) as rest:
            await _change(rest, "2034-12-31")
            async with asyncio.timeout(15):
                await grpc_stream.read()  # then never reads again, connection left open
            live = await _subscribed(server, "websocket-subscription", 0, 3 + writes)
            marks: list[list[int]] = []
            for n in range(writes):
                draft = ReservationDraft(
                    "room-c", "Stalled " + "x" * 80, f"2035-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}",
                    f"{8 + n // 336:02d}:00", f"{8 + n // 336:02d}:30", 2, "p" * 400,
                )  # fmt: skip
                await rest.create_reservation(draft)
                if n + 1 in (writes // 2, writes):
                    marks.append(await _settled(service.pulled))
            async with asyncio.timeout(5):  # no reader waits on another: it is never held up for long
                got = await live
        grpc_stream.cancel()
        await channel.close()
        stalled_sse.close()
    (sse_half, grpc_half, _), (sse_end, grpc_end, live_end) = marks
    total = 3 + writes
    assert [e.sequence for e in got] == list(range(1, total + 1)), "the live reader missed events"
    assert live_end == total
    for name, half, end in (("SSE", sse_half, sse_end), ("gRPC", grpc_half, grpc_end)):
        assert end == half < writes // 2, (
            f"the server kept pulling the log for a stalled {name} reader ({half} events after "
            f"{writes // 2 + 3}, {end} after {total}): what it holds for a stalled reader is not bounded"
        )


async def _settled(pulled: list[int]) -> list[int]:
    """The streams' counts once they have not moved for a second (each has sent what its connection
    can take; a second, not a moment, so that a busy machine's pause is not taken for a stop)."""
    last, still = list(pulled), 0
    async with asyncio.timeout(20):
        while still < 4:
            await asyncio.sleep(0.25)
            still = still + 1 if list(pulled) == last else 0
            last = list(pulled)
    return last


async def test_idle_subscribers_on_every_push_surface_cost_no_store_reads() -> None:
    """Each push surface waits on the notifier: while nothing happens, no stream reads the store."""
    counted: list[CountingStore] = []

    def count_reads(runtime: Runtime) -> None:
        store = CountingStore(runtime.store)
        counted.append(store)
        runtime.store = store
        runtime.service = ReservationService(store, notifier=runtime.notifier)

    with live_server(styles="rest,graphql,grpc,websocket", prepare=count_reads) as server:
        (store,) = counted
        readers = {surface: await _subscribed(server, surface, 0, 1) for surface in PUSH_SURFACES}
        async with asyncio.timeout(15):  # each stream reads the (empty) log once when it starts
            while store.units_of_work < len(PUSH_SURFACES):
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        before = store.units_of_work
        await asyncio.sleep(1.0)
        idle_reads = store.units_of_work - before
        async with RestClient(server.base_url) as rest:
            await rest.create_reservation(
                ReservationDraft("room-c", "Idle", "2034-05-01", "09:00", "10:00", 2)
            )
        seen = {surface: await task for surface, task in readers.items()}
    assert idle_reads == 0, f"idle subscribers read the store {idle_reads} times in 1 s: a stream polls"
    assert {surface: [e.sequence for e in events] for surface, events in seen.items()} == {
        surface: [1] for surface in PUSH_SURFACES
    }
