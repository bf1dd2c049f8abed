"""The playground's server side against a real server: the gRPC proxy, the webhook messages, the page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.playground import EXAMPLE_SECRET, local_grpc_target
from services.core.errors import RosettaError
from services.core.events import InProcessNotifier
from services.core.model import ReservationDraft
from services.core.service import ReservationService
from services.grpc.generated import reservations_pb2 as pb
from services.rest.client import RestClient
from services.store import MemoryStore
from tests.support.server import LiveServer, live_server

STYLES = "rest,graphql,grpc,soap,websocket"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
LOCALIZED = "type.googleapis.com/google.rpc.LocalizedMessage"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles=STYLES) as running:
        yield running


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


async def core_error(call: Any) -> RosettaError:
    """What the core itself says for the same call: the reference every style must match."""
    store = MemoryStore()
    await store.open()
    try:
        await call(ReservationService(store, notifier=InProcessNotifier()))
    except RosettaError as error:
        return error
    finally:
        await store.close()
    raise AssertionError("the core accepted the call")


def by_type(details: list[dict[str, Any]], type_url: str) -> dict[str, Any]:
    return next(detail for detail in details if detail["@type"] == type_url)


async def test_grpc_proxy_makes_the_call_and_shows_both_messages(
    http: httpx.AsyncClient, server: LiveServer
) -> None:
    response = await http.post(
        "/playground/grpc", json={"method": "GetRoom", "request": {"roomId": "room-a"}}
    )

    assert response.status_code == 200
    call = response.json()
    assert call["method"] == "/rosetta.reservations.v1.ReservationService/GetRoom"
    assert call["target"] == server.grpc_target
    assert call["metadata"] == {"accept-language": "en"}
    assert call["request"] == {"roomId": "room-a"}
    assert call["requestText"] == 'room_id: "room-a"\n'
    assert call["requestBytes"] == pb.GetRoomRequest(room_id="room-a").ByteSize()
    assert call["status"] == {"code": "OK", "number": 0, "message": ""}
    room = {"roomId": "room-a", "name": "Ada", "capacity": 4, "location": "Library, 1st floor"}
    assert call["response"] == {"room": room}
    assert call["responseBytes"] == pb.GetRoomResponse(room=pb.Room(**_snake(room))).ByteSize()
    assert 'name: "Ada"' in call["responseText"]
    assert call["details"] == []
    assert call["elapsedMs"] > 0


def _snake(room: dict[str, Any]) -> dict[str, Any]:
    return {
        "room_id": room["roomId"],
        "name": room["name"],
        "capacity": room["capacity"],
        "location": room["location"],
    }


async def test_grpc_proxy_reports_not_found_with_the_error_info_reason(http: httpx.AsyncClient) -> None:
    body = {"method": "GetRoom", "request": {"roomId": "room-zz"}, "language": "ko"}
    call = (await http.post("/playground/grpc", json=body)).json()

    expected = await core_error(lambda core: core.get_room("room-zz"))
    assert call["metadata"] == {"accept-language": "ko"}
    assert call["status"] == {"code": "NOT_FOUND", "number": 5, "message": expected.localized("ko")}
    assert call["response"] is None
    info = by_type(call["details"], ERROR_INFO)
    assert info["reason"] == "ROOM_NOT_FOUND"
    assert info["domain"] == "rosetta.reservations.v1"
    assert by_type(call["details"], LOCALIZED) == {
        "@type": LOCALIZED,
        "locale": "ko",
        "message": expected.localized("ko"),
    }
    assert call["detailsBytes"] > 0
    assert call["trailers"]["grpc-status-details-bin"] == f"<{call['detailsBytes']} bytes>"


async def test_grpc_proxy_shows_the_field_of_an_invalid_request(http: httpx.AsyncClient) -> None:
    request = {
        "roomId": "room-a",
        "date": "2031-02-03",
        "startTime": "10:00",
        "endTime": "11:00",
        "attendees": "2",
    }
    call = (
        await http.post("/playground/grpc", json={"method": "CreateReservation", "request": request})
    ).json()

    assert call["status"]["code"] == "INVALID_ARGUMENT"
    assert by_type(call["details"], ERROR_INFO)["reason"] == "MISSING_MANDATORY_PROPERTY"
    violations = by_type(call["details"], BAD_REQUEST)["fieldViolations"]
    assert [violation["field"] for violation in violations] == ["guestName"]
    assert call["request"]["attendees"] == "2"  # protobuf JSON writes int64 as a string


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"method": "WatchEvents", "request": {}}, "method must be one of"),
        ({"method": "GetRoom", "request": {"roomNumber": 1}}, "cannot encode GetRoomRequest"),
        ({"method": "CreateReservation", "request": {"attendees": "many"}}, "cannot encode"),
        ([1, 2], "JSON object"),
    ],
)
async def test_grpc_proxy_refuses_what_cannot_be_sent(
    http: httpx.AsyncClient, body: Any, detail: str
) -> None:
    response = await http.post("/playground/grpc", json=body)

    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert detail in response.json()["detail"]


async def test_webhook_messages_of_a_change_are_signed_standard_webhooks(
    http: httpx.AsyncClient, server: LiveServer
) -> None:
    before = (await http.get("/playground/state")).json()["lastSequence"]
    draft = ReservationDraft(
        "room-b", "Ada Lovelace", "2031-05-06", "09:00", "10:00", 3, "Notes on the engine"
    )
    async with RestClient(server.base_url) as api:
        created = await api.create_reservation(draft)
        canceled = await api.cancel_reservation(created.reservation_id, reason="ill")

    data = (await http.get("/playground/webhooks", params={"after": before})).json()

    assert data["exampleSecret"] == EXAMPLE_SECRET
    messages = data["messages"]
    assert [message["eventType"] for message in messages] == ["reservation.created", "reservation.canceled"]
    assert [message["sequence"] for message in messages] == [before + 1, before + 2]
    verifier = Webhook(EXAMPLE_SECRET)
    for message, reservation in zip(messages, (created, canceled), strict=True):
        assert message["method"] == "POST"
        assert set(message["headers"]) == {
            "content-type",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        }
        assert message["headers"]["webhook-id"].startswith("msg_")
        payload = verifier.verify(message["body"], message["headers"])
        assert payload["data"] == reservation.to_dict()
        assert message["bodyBytes"] == len(message["body"].encode())


async def test_webhooks_after_the_last_event_are_none_and_a_bad_cursor_is_refused(
    http: httpx.AsyncClient,
) -> None:
    last = (await http.get("/playground/state")).json()["lastSequence"]
    assert (await http.get("/playground/webhooks", params={"after": last})).json()["messages"] == []

    refused = await http.get("/playground/webhooks", params={"after": "yesterday"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "INVALID_PROPERTY"


async def test_state_tells_the_page_what_this_process_serves(
    http: httpx.AsyncClient, server: LiveServer
) -> None:
    state = (await http.get("/playground/state")).json()

    assert state["styles"] == ["graphql", "grpc", "rest", "soap", "websocket"]
    assert state["grpcTarget"] == server.grpc_target
    assert isinstance(state["lastSequence"], int)


async def test_page_and_assets_are_served_and_linked_from_the_landing_page(http: httpx.AsyncClient) -> None:
    page = await http.get("/playground")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Run in every style" in page.text
    for asset, kind in (
        ("/playground/playground.js", "text/javascript"),
        ("/playground/playground.css", "text/css"),
    ):
        response = await http.get(asset)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)
    assert 'href="/playground"' in (await http.get("/")).text
    assert (await http.get("/playground/nothing-here")).status_code == 404
    assert (await http.get("/playground/grpc")).status_code == 405


def test_grpc_target_is_a_local_address() -> None:
    assert local_grpc_target("0.0.0.0", 50051) == "127.0.0.1:50051"
    assert local_grpc_target("::", 50051) == "[::1]:50051"
    assert local_grpc_target("10.0.0.7", 9) == "10.0.0.7:9"
    assert local_grpc_target("127.0.0.1", None) is None


def test_without_grpc_the_proxy_says_so() -> None:
    with live_server(styles="rest") as rest_only, httpx.Client(base_url=rest_only.base_url) as client:
        response = client.post(
            "/playground/grpc", json={"method": "GetRoom", "request": {"roomId": "room-a"}}
        )
        assert client.get("/playground/state").json()["grpcTarget"] is None
    assert response.status_code == 503
    assert response.json()["code"] == "GRPC_NOT_SERVED"
