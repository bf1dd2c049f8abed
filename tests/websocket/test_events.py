"""Pushed events: subscribe, resume with no gap, unsubscribe, and a bounded queue for slow consumers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from starlette.types import Message
from websockets.asyncio.client import ClientConnection

from services.core.api import ServerApi
from services.core.model import Event, ReservationDraft
from services.websocket.app import WebSocketOptions, create_app
from services.websocket.client import WebSocketClient
from tests.support.server import LiveServer
from tests.websocket.conftest import ask, raw, receive, serve


async def _last_sequence(ws: ClientConnection) -> int:
    answer = await ask(ws, {"id": "last", "type": "watchEvents", "payload": {"limit": 1000}})
    items = answer["payload"]["items"]
    return items[-1]["sequence"] if items else 0


async def _book(live: LiveServer, day: str, hour: int) -> str:
    async with WebSocketClient(live.base_url) as api:
        made = await api.create_reservation(
            ReservationDraft("room-c", "ws Events", day, f"{hour:02d}:00", f"{hour:02d}:30", 2)
        )
    return made.reservation_id


async def live_events(live: LiveServer, after: int) -> list[Any]:
    """What the server's own core has in its log (the reference for what was pushed)."""
    async with WebSocketClient(live.base_url) as api:
        return await api.watch_events(after, limit=10)


async def _next_event(ws: ClientConnection) -> dict[str, Any]:
    frame = await receive(ws)
    assert frame["type"] == "event", frame
    payload: dict[str, Any] = frame["payload"]
    return payload


async def test_a_subscriber_receives_events_created_after_subscribing(live: LiveServer) -> None:
    async with raw(live.ws_url) as ws:
        last = await _last_sequence(ws)
        answer = await ask(ws, {"id": 1, "type": "subscribe", "payload": {"after": last}})
        assert answer["type"] == "result"
        subscription = answer["payload"]["subscriptionId"]
        reservation_id = await _book(live, "2032-02-02", 9)
        pushed = await _next_event(ws)
    assert pushed["subscriptionId"] == subscription
    event = pushed["event"]
    assert (event["sequence"], event["type"]) == (last + 1, "reservation.created")
    assert event["data"]["reservationId"] == reservation_id
    core_events = await live_events(live, last)
    assert core_events[0].to_dict() == event


async def test_resuming_from_after_misses_nothing(live: LiveServer) -> None:
    async with raw(live.ws_url) as ws:
        start = await _last_sequence(ws)
    ids = [await _book(live, "2032-02-03", hour) for hour in (9, 10, 11)]
    async with raw(live.ws_url) as ws:  # a subscriber that was away while three things happened
        await ask(ws, {"id": 1, "type": "subscribe", "payload": {"after": start}})
        seen = [await _next_event(ws) for _ in ids]
        assert [p["event"]["sequence"] for p in seen] == [start + 1, start + 2, start + 3]
        assert [p["event"]["data"]["reservationId"] for p in seen] == ids
    later = await _book(live, "2032-02-03", 12)
    async with raw(live.ws_url) as ws:  # reconnect with the last sequence seen
        await ask(ws, {"id": 1, "type": "subscribe", "payload": {"after": start + 3}})
        resumed = await _next_event(ws)
    assert (resumed["event"]["sequence"], resumed["event"]["data"]["reservationId"]) == (start + 4, later)


async def test_unsubscribe_stops_the_events_of_that_subscription_only(live: LiveServer) -> None:
    async with raw(live.ws_url) as ws:
        last = await _last_sequence(ws)
        first = (await ask(ws, {"id": 1, "type": "subscribe", "payload": {"after": last}}))["payload"]
        witness = (await ask(ws, {"id": 2, "type": "subscribe", "payload": {"after": last}}))["payload"]
        assert first != witness
        answer = await ask(ws, {"id": 3, "type": "unsubscribe", "payload": first})
        assert answer == {"id": 3, "type": "result", "payload": first}
        await _book(live, "2032-02-04", 9)
        assert (await _next_event(ws))["subscriptionId"] == witness["subscriptionId"]
        # One more round trip: had the first subscription still been live, its frame would be here by now.
        assert (await ask(ws, {"id": 4, "type": "listRooms"}))["id"] == 4
        again = await ask(ws, {"id": 5, "type": "unsubscribe", "payload": first})  # idempotent
        assert again["type"] == "result"


async def test_subscribe_refuses_bad_input_in_its_answer(live: LiveServer) -> None:
    async with raw(live.ws_url + "?lang=fr") as ws:
        answer = await ask(ws, {"id": 1, "type": "subscribe", "payload": {"types": ["reservation.exploded"]}})
        assert (answer["id"], answer["payload"]["code"], answer["payload"]["field"]) == (
            1,
            "INVALID_PROPERTY",
            "types",
        )
        assert answer["payload"]["message"].startswith("La propriété « types » est invalide")
        answer = await ask(ws, {"id": 2, "type": "subscribe", "payload": {"after": -1}})
        assert (answer["payload"]["code"], answer["payload"]["field"]) == ("INVALID_PROPERTY", "after")


async def test_the_client_streams_events_and_filters_by_type(live: LiveServer) -> None:
    async with WebSocketClient(live.base_url) as api:
        start = (await api.watch_events(0, limit=1000))[-1].sequence
        async with contextlib.aclosing(api.stream_events(start, types=["reservation.canceled"])) as stream:
            made = await api.create_reservation(
                ReservationDraft("room-c", "ws Stream", "2032-02-05", "09:00", "10:00", 2)
            )
            await api.cancel_reservation(made.reservation_id)
            event = await asyncio.wait_for(anext(stream), 5)
        assert (event.type, event.data["reservationId"]) == ("reservation.canceled", made.reservation_id)
        assert event == (await api.watch_events(event.sequence - 1, limit=1))[0]
        assert await api.get_room("room-a")  # the connection carries on after the stream closed


# -- a slow consumer, driven through the ASGI interface with a fake core --------------------------


class EndlessLog:
    """A fake core whose event log never ends; it notes when its stream is closed."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def stream_events(
        self, after: int = 0, *, types: Sequence[str] | None = None
    ) -> AsyncIterator[Event]:
        sequence = after
        try:
            while True:
                sequence += 1
                yield Event(
                    f"evt_{sequence}", sequence, "reservation.created", datetime(2030, 1, 1, tzinfo=UTC), {}
                )
                await asyncio.sleep(0)
        finally:
            self.closed.set()


async def test_a_consumer_that_stays_slow_loses_its_subscription_with_a_resume_point() -> None:
    core = EndlessLog()
    app = create_app(
        cast(ServerApi, core), WebSocketOptions(send_queue_limit=4, slow_consumer_seconds=0.05)
    )  # a partial fake of the port
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    reading = asyncio.Event()  # the client reads nothing until this is set

    async def send(message: Message) -> None:
        if message["type"] == "websocket.send":
            frame = json.loads(message["text"])
            if frame["type"] == "event":
                await reading.wait()
            sent.append(frame)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "query_string": b"",
        "headers": [],
        "subprotocols": ["rosetta.v1"],
    }
    for message in (
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": '{"id": 1, "type": "subscribe", "payload": {"after": 10}}'},
    ):
        incoming.put_nowait(message)
    serving = asyncio.create_task(app(scope, incoming.get, send))

    await asyncio.wait_for(core.closed.wait(), 5)  # the server gave up on the stalled consumer
    reading.set()
    deadline = asyncio.get_running_loop().time() + 5
    while not (sent and sent[-1]["type"] == "error") and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(serving, 5)

    assert sent[0] == {"id": 1, "type": "result", "payload": {"subscriptionId": "sub-1"}}
    events, notice = sent[1:-1], sent[-1]
    sequences = [frame["payload"]["event"]["sequence"] for frame in events]
    assert sequences == list(range(11, 11 + len(sequences)))  # in order, no gap
    assert 1 <= len(sequences) <= 4 + 1  # the bounded queue, plus the frame being written
    assert notice == {
        "id": None,
        "type": "error",
        "payload": {
            "code": "RATE_LIMITED",
            "message": "Too many requests; slow down and retry later.",
            "field": None,
            "subscriptionId": "sub-1",
            "resumeAfter": sequences[-1],
        },
    }
    assert not app.connections


async def test_an_oversized_frame_is_refused_even_without_the_servers_own_limit() -> None:
    app = create_app(
        cast(ServerApi, EndlessLog()), WebSocketOptions(max_frame_bytes=1000)
    )  # a partial fake of the port
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    closes: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "websocket.close":
            closes.append(message["code"])

    incoming.put_nowait({"type": "websocket.connect"})
    incoming.put_nowait(
        {"type": "websocket.receive", "text": json.dumps({"id": 1, "type": "listRooms", "x": "é" * 600})}
    )
    scope = {
        "type": "websocket",
        "path": "/ws",
        "query_string": b"",
        "headers": [],
        "subprotocols": ["rosetta.v1"],
    }
    await asyncio.wait_for(app(scope, incoming.get, send), 5)
    assert closes == [1009]


async def test_the_client_bounds_its_buffer_and_resubscribes_without_a_gap() -> None:
    app = create_app(cast(ServerApi, EndlessLog()), WebSocketOptions())  # a partial fake of the port
    with serve(app) as url:
        async with WebSocketClient(url, max_buffered_events=5) as api:
            seen: list[int] = []
            async with contextlib.aclosing(api.stream_events(100)) as stream:
                async for event in stream:
                    seen.append(event.sequence)
                    await asyncio.sleep(0.001)  # a consumer slower than the flood
                    if len(seen) == 40:
                        break
            (connection,) = list(app.connections)
            subscriptions = connection.subscriptions_started
    assert seen == list(range(101, 141))
    assert subscriptions > 1  # it did drop and resume, and missed nothing


async def test_a_stream_cancelled_while_subscribing_leaves_no_subscription_behind() -> None:
    app = create_app(cast(ServerApi, EndlessLog()), WebSocketOptions())  # a partial fake of the port
    with serve(app) as url:
        async with WebSocketClient(url) as api:
            stream = api.stream_events(100)
            first = asyncio.ensure_future(anext(stream))
            while not api._pending:  # the subscribe frame is sent, its answer not yet read
                await asyncio.sleep(0)
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            (connection,) = list(app.connections)
            for _ in range(500):
                if connection.subscriptions_started and not connection.subscriptions:
                    break
                await asyncio.sleep(0.01)
            assert connection.subscriptions_started == 1
            assert connection.subscriptions == {}
