"""What a misbehaving or unlucky client meets: bad frames, limits, slow answers, disconnects."""

from __future__ import annotations

import asyncio
import json
import time
from typing import cast

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from services.core.api import ServerApi
from services.core.errors import RateLimited
from services.websocket.app import WebSocketApp, WebSocketOptions, create_app
from services.websocket.client import WebSocketClient
from tests.support.server import LiveServer
from tests.websocket.conftest import SlowCore, ask, raw, receive, serve

MALFORMED = "The request could not be read: the body is not well-formed."


async def _still_usable(ws: ClientConnection) -> None:
    answer = await ask(ws, {"id": "after", "type": "listRooms"})
    assert answer["id"] == "after" and answer["type"] == "result" and len(answer["payload"]["items"]) == 4


@pytest.mark.parametrize(
    ("frame", "expected_id", "field", "message"),
    [
        ("{not json", None, None, MALFORMED),
        ("[1, 2, 3]", None, None, MALFORMED),
        ('"listRooms"', None, None, MALFORMED),
        ('{"type": "listRooms"}', None, "id", MALFORMED),
        (
            '{"id": {"n": 1}, "type": "listRooms"}',
            None,
            "id",
            "The request could not be read: the value has the wrong type.",
        ),
        ('{"id": 7}', 7, "type", MALFORMED),
        (
            '{"id": 8, "type": "listRooms", "payload": [1]}',
            8,
            "payload",
            "The request could not be read: the value has the wrong type.",
        ),
        (
            '{"id": 9, "type": "listRooms", "extra": true}',
            9,
            "extra",
            "The request could not be read: this property is not recognised.",
        ),
        (
            '{"id": "u", "type": "bookRoom"}',
            "u",
            "type",
            "The request could not be read: unknown message type.",
        ),
        ('{"id": "n", "type": 12}', "n", "type", "The request could not be read: unknown message type."),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_connection_stays_usable(
    live: LiveServer, frame: str, expected_id: object, field: str | None, message: str
) -> None:
    async with raw(live.ws_url) as ws:
        answer = await ask(ws, frame)
        assert answer == {
            "id": expected_id,
            "type": "error",
            "payload": {"code": "MALFORMED_REQUEST", "message": message, "field": field},
        }
        await _still_usable(ws)


async def test_a_binary_frame_is_malformed(live: LiveServer) -> None:
    async with raw(live.ws_url) as ws:
        answer = await ask(ws, b'{"id": 1, "type": "listRooms"}')
        assert (answer["id"], answer["payload"]["code"]) == (None, "MALFORMED_REQUEST")
        await _still_usable(ws)


async def test_a_frame_over_the_size_limit_closes_with_1009(live: LiveServer) -> None:
    limit = live.settings.ws_max_frame_bytes
    async with raw(live.ws_url) as ws:
        filler = "x" * limit
        await ws.send(json.dumps({"id": 1, "type": "getRoom", "payload": {"roomId": filler}}))
        with pytest.raises(ConnectionClosed):
            await receive(ws)
        assert ws.close_code == 1009
    async with raw(live.ws_url) as ws:  # just under the limit is answered
        answer = await ask(
            ws, json.dumps({"id": 2, "type": "getRoom", "payload": {"roomId": "y" * (limit - 100)}})
        )
        assert answer["payload"]["code"] == "ROOM_NOT_FOUND"


async def test_too_many_requests_per_second_are_rate_limited_and_the_connection_stays_open(
    live: LiveServer,
) -> None:
    rate = live.settings.ws_rate_per_second
    count = int(rate * 1.5)
    async with raw(live.ws_url) as ws:
        started = time.monotonic()
        for n in range(count):
            await ws.send(json.dumps({"id": n, "type": "listRooms"}))
        answers = [await receive(ws) for _ in range(count)]
        elapsed = time.monotonic() - started
        assert sorted(a["id"] for a in answers) == list(range(count))  # every request answered
        limited = [a for a in answers if a["type"] == "error"]
        assert {a["payload"]["code"] for a in limited} == {"RATE_LIMITED"}
        # A full bucket of `rate` tokens plus what refilled while sending; the rest is refused.
        assert count - len(limited) <= rate + rate * elapsed + 1
        assert len(limited) >= 1
        assert limited[0]["payload"]["message"] == "Too many requests; slow down and retry later."
        # The wait is under one token's refill time (1/rate s), rounded up to the millisecond.
        assert all(0 < a["payload"]["retryAfter"] <= round(1 / rate, 3) + 0.001 for a in limited)
        await asyncio.sleep(0.05)  # let the bucket refill a few tokens (the limit is about time)
        await _still_usable(ws)


async def test_handshake_without_the_subprotocol_is_refused(live: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(live.ws_url + "?lang=fr"):
            pass
    response = refused.value.response
    assert response.status_code == 400
    body = json.loads(response.body)
    assert body["type"] == "error" and body["payload"]["code"] == "MALFORMED_REQUEST"
    assert body["payload"]["field"] == "Sec-WebSocket-Protocol"
    # The whole message speaks the connection's language, reason included.
    assert body["payload"]["message"] == (
        "La requête n'a pas pu être lue : le sous-protocole rosetta.v1 doit être proposé."
    )
    assert response.headers["Content-Language"] == "fr"


async def test_plain_http_is_told_to_upgrade_in_its_language(live: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(live.base_url + "/ws", headers={"Accept-Language": "ko"})
    assert response.status_code == 426 and response.headers["upgrade"] == "websocket"
    assert response.headers["content-language"] == "ko"
    payload = response.json()["payload"]
    assert payload["code"] == "MALFORMED_REQUEST"
    assert payload["message"] == (
        "요청을 읽을 수 없습니다: rosetta.v1 하위 프로토콜을 제시하여 WebSocket으로 연결하세요."
    )


async def test_the_subprotocol_is_echoed(live: LiveServer) -> None:
    async with raw(live.ws_url) as ws:
        assert ws.subprotocol == "rosetta.v1"


async def test_answers_come_out_of_order_and_are_matched_by_id(bare: tuple[WebSocketApp, str]) -> None:
    _, url = bare
    async with raw(url) as ws:
        await ws.send(
            json.dumps({"id": "slow", "type": "getReservation", "payload": {"reservationId": "slow-0.3"}})
        )
        await ws.send(json.dumps({"id": "fast", "type": "listRooms"}))
        first, second = await receive(ws), await receive(ws)
    assert (first["id"], first["type"]) == ("fast", "result")
    assert (second["id"], second["payload"]["code"]) == ("slow", "RESERVATION_NOT_FOUND")


async def test_an_unexpected_failure_is_an_internal_error_frame(
    bare: tuple[WebSocketApp, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, url = bare
    async with raw(url + "?lang=ko") as ws:
        answer = await ask(ws, {"id": 1, "type": "getReservation", "payload": {"reservationId": "boom"}})
        assert answer == {
            "id": 1,
            "type": "error",
            "payload": {
                "code": "INTERNAL",
                "message": "서버에서 예기치 않은 오류가 발생했습니다.",
                "field": None,
            },
        }
        await _still_usable(ws)
    assert any(
        "failed" in r.getMessage() and r.exc_info for r in caplog.records if r.name == "rosetta.websocket"
    )


async def test_a_client_leaving_mid_request_leaks_no_task(
    bare: tuple[WebSocketApp, str], slow_core: SlowCore
) -> None:
    app, url = bare
    async with raw(url) as ws:
        await ws.send(json.dumps({"id": 1, "type": "getReservation", "payload": {"reservationId": "hang"}}))
        await ask(ws, {"id": 2, "type": "subscribe", "payload": {"after": 0}})
        assert await asyncio.to_thread(slow_core.hanging.wait, 5)
        (connection,) = list(app.connections)
        assert len(connection.requests) == 1 and len(connection.subscriptions) == 1
        tasks = [*connection.requests, *connection.background]
    # The client has closed; the handler in flight is cancelled, the subscription stopped.
    assert await asyncio.to_thread(slow_core.cancelled.wait, 5)
    deadline = time.monotonic() + 5
    while app.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert not app.connections
    assert not connection.requests and not connection.background and not connection.subscriptions
    assert all(task.done() for task in tasks)


async def test_requests_beyond_the_in_flight_cap_are_rate_limited(slow_core: SlowCore) -> None:
    app = create_app(slow_core, WebSocketOptions(max_in_flight=2))
    with serve(app) as url:
        async with raw(url) as ws:
            for n in range(3):
                frame = {"id": n, "type": "getReservation", "payload": {"reservationId": "slow-0.2"}}
                await ws.send(json.dumps(frame))
            answers = [await receive(ws) for _ in range(3)]
    assert (answers[0]["id"], answers[0]["payload"]["code"]) == (2, "RATE_LIMITED")  # at once, not queued
    assert {a["id"]: a["payload"]["code"] for a in answers[1:]} == {
        0: "RESERVATION_NOT_FOUND",
        1: "RESERVATION_NOT_FOUND",
    }


class SpentQuotaCore(SlowCore):
    """The quota of whoever calls is spent: every room lookup is refused with the wait."""

    async def get_room(self, room_id: str) -> object:
        raise RateLimited(params={"retryAfter": 1.5})


async def test_a_spent_quota_is_an_error_frame_with_the_wait_and_the_client_reads_it() -> None:
    app = create_app(cast(ServerApi, SpentQuotaCore()), WebSocketOptions())  # a partial fake of the port
    with serve(app) as url:
        async with raw(url + "?lang=fr") as ws:
            answer = await ask(ws, {"id": 1, "type": "getRoom", "payload": {"roomId": "room-a"}})
        async with WebSocketClient(url.removesuffix("/ws")) as client:
            with pytest.raises(RateLimited) as refused:
                await client.get_room("room-a")
    assert answer == {
        "id": 1,
        "type": "error",
        "payload": {
            "code": "RATE_LIMITED",
            "message": "Trop de requêtes ; ralentissez et réessayez plus tard.",
            "field": None,
            "retryAfter": 1.5,
        },
    }
    assert refused.value.retry_after == 1.5
