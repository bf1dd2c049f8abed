"""Every request type over a real server, through the client and as raw frames; localized errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.core import messages
from services.core.errors import (
    CapacityExceeded,
    InvalidProperty,
    InvalidStateTransition,
    MissingMandatoryProperty,
    ReservationNotFound,
    RoomNotFound,
    VersionMismatch,
)
from services.core.model import (
    SEED_ROOMS,
    ReservationChanges,
    ReservationDraft,
    ReservationQuery,
    ReservationStatus,
)
from services.websocket.client import WebSocketClient
from tests.support.drafts import draft as base_draft
from tests.support.server import LiveServer
from tests.websocket.conftest import ask, raw


@pytest.fixture
async def client(live: LiveServer) -> AsyncIterator[WebSocketClient]:
    async with WebSocketClient(live.base_url) as api:
        yield api


def draft(day: str, **changes: object) -> ReservationDraft:
    return base_draft(**{"guest_name": "ws Grace", "date": day, "purpose": "study group"} | changes)


async def test_rooms(client: WebSocketClient) -> None:
    assert await client.list_rooms() == list(SEED_ROOMS)
    assert await client.get_room("room-c") == SEED_ROOMS[2]
    with pytest.raises(RoomNotFound, match="room-zz"):
        await client.get_room("room-zz")


async def test_a_reservation_through_its_whole_life(live: LiveServer, client: WebSocketClient) -> None:
    core = live.runtime.service
    created = await client.create_reservation(draft("2031-01-06"), idempotency_key="ws-life-1")
    assert created == await core.get_reservation(created.reservation_id)  # exact, to the millisecond
    assert await client.create_reservation(draft("2031-01-06"), idempotency_key="ws-life-1") == created
    assert await client.get_reservation(created.reservation_id) == created

    modified = await client.modify_reservation(
        created.reservation_id, ReservationChanges(attendees=5, purpose=""), expected_version=1
    )
    assert (modified.attendees, modified.purpose, modified.version) == (5, None, 2)
    with pytest.raises(VersionMismatch):
        await client.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=4), expected_version=1
        )

    page = await client.list_reservations(ReservationQuery(guest_name="ws Grace", date_from="2031-01-06"))
    assert page.items == (modified,) and page.total_items == 1 and page.total_pages == 1

    canceled = await client.cancel_reservation(created.reservation_id, reason="exam moved")
    assert (canceled.status, canceled.cancel_reason, canceled.actions) == (
        ReservationStatus.CANCELED,
        "exam moved",
        (),
    )
    with pytest.raises(InvalidStateTransition, match="CANCELED"):
        await client.check_in_reservation(created.reservation_id)

    other = await client.create_reservation(draft("2031-01-07"))
    assert (await client.check_in_reservation(other.reservation_id)).status == ReservationStatus.CHECKED_IN

    events = await client.watch_events(0, limit=1000)
    mine = [e for e in events if e.data["reservationId"] == created.reservation_id]
    assert [e.type for e in mine] == ["reservation.created", "reservation.modified", "reservation.canceled"]
    assert events == await core.watch_events(0, limit=1000)
    only = await client.watch_events(mine[0].sequence, types=["reservation.checked_in"], limit=1)
    assert [e.data["reservationId"] for e in only] == [other.reservation_id]


async def test_input_errors_name_the_field(client: WebSocketClient) -> None:
    with pytest.raises(MissingMandatoryProperty) as missing:
        await client.create_reservation(draft("2031-01-08", guest_name=None))
    assert missing.value.field == "guestName"
    with pytest.raises(CapacityExceeded) as over:
        await client.create_reservation(draft("2031-01-08", room_id="room-d"))
    assert over.value.field == "attendees"
    with pytest.raises(InvalidProperty) as bad_sort:
        await client.list_reservations(ReservationQuery(sort="guestName"))
    assert bad_sort.value.field == "sort"
    with pytest.raises(ReservationNotFound):
        await client.cancel_reservation("rsv_doesnotexist0000")


async def test_unknown_and_missing_payload_properties_are_refused_by_name(live: LiveServer) -> None:
    async with raw(live.ws_url) as ws:
        answer = await ask(
            ws, {"id": 1, "type": "createReservation", "payload": {"roomId": "room-a", "colour": 1}}
        )
        assert answer["payload"]["code"] == "INVALID_PROPERTY" and answer["payload"]["field"] == "colour"
        answer = await ask(ws, {"id": 2, "type": "modifyReservation", "payload": {"reservationId": "x"}})
        assert answer == {
            "id": 2,
            "type": "error",
            "payload": {
                "code": "MISSING_MANDATORY_PROPERTY",
                "message": "The property 'changes' is required.",
                "field": "changes",
            },
        }
        answer = await ask(ws, {"id": 3, "type": "getRoom"})
        assert (answer["payload"]["code"], answer["payload"]["field"]) == (
            "MISSING_MANDATORY_PROPERTY",
            "roomId",
        )
        answer = await ask(ws, {"id": 4, "type": "getRoom", "payload": {"roomId": 7}})
        assert (answer["payload"]["code"], answer["payload"]["field"]) == ("INVALID_PROPERTY", "roomId")
        answer = await ask(
            ws,
            {"id": 5, "type": "modifyReservation", "payload": {"reservationId": "x", "changes": {"room": 1}}},
        )
        assert (answer["payload"]["code"], answer["payload"]["field"]) == ("INVALID_PROPERTY", "room")


async def test_types_that_is_not_an_array_is_an_invalid_property(live: LiveServer) -> None:
    async with raw(live.ws_url) as ws:
        for request_id, kind in enumerate(("watchEvents", "subscribe")):
            answer = await ask(ws, {"id": request_id, "type": kind, "payload": {"types": 5}})
            assert answer["type"] == "error"
            assert (answer["payload"]["code"], answer["payload"]["field"]) == ("INVALID_PROPERTY", "types")


async def test_null_for_a_change_other_than_purpose_is_refused_as_rest_does(
    live: LiveServer, client: WebSocketClient
) -> None:
    created = await client.create_reservation(draft("2031-01-11"))
    async with raw(live.ws_url) as ws:
        refused = await ask(
            ws,
            {
                "id": 1,
                "type": "modifyReservation",
                "payload": {"reservationId": created.reservation_id, "changes": {"guestName": None}},
            },
        )
        cleared = await ask(
            ws,
            {
                "id": 2,
                "type": "modifyReservation",
                "payload": {"reservationId": created.reservation_id, "changes": {"purpose": None}},
            },
        )
    assert (refused["payload"]["code"], refused["payload"]["field"]) == ("INVALID_PROPERTY", "guestName")
    assert cleared["type"] == "result"
    assert (cleared["payload"]["purpose"], cleared["payload"]["version"]) == (None, 2)


async def test_error_messages_in_korean_chosen_by_query(live: LiveServer) -> None:
    async with raw(live.ws_url + "?lang=ko", additional_headers={"Accept-Language": "fr"}) as ws:
        answer = await ask(ws, {"id": "k1", "type": "getRoom", "payload": {"roomId": "room-zz"}})
    assert answer == {
        "id": "k1",
        "type": "error",
        "payload": {
            "code": "ROOM_NOT_FOUND",
            "message": "ID가 'room-zz'인 회의실이 없습니다.",
            "field": None,
        },
    }


async def test_error_messages_in_french_chosen_by_accept_language(live: LiveServer) -> None:
    async with raw(
        live.ws_url, additional_headers={"Accept-Language": "de;q=1, fr-CA;q=0.8, en;q=0.5"}
    ) as ws:
        answer = await ask(ws, {"id": 1, "type": "getReservation", "payload": {"reservationId": "rsv_nope"}})
    assert answer["payload"]["message"] == "Aucune réservation ne porte l'identifiant « rsv_nope »."


async def test_the_client_sends_its_language(live: LiveServer) -> None:
    async with WebSocketClient(live.base_url, language="ko") as api:
        with pytest.raises(CapacityExceeded) as error:
            await api.create_reservation(draft("2031-01-09", room_id="room-d", attendees=3))
    expected = messages.detail("CAPACITY_EXCEEDED", "ko", {"roomId": "room-d", "capacity": 2, "attendees": 3})
    assert str(error.value) == error.value.localized() == expected


async def test_many_calls_in_flight_on_one_connection(live: LiveServer, client: WebSocketClient) -> None:
    made = await asyncio.gather(
        *(
            client.create_reservation(draft("2031-01-10", start_time=f"{h:02d}:00", end_time=f"{h:02d}:30"))
            for h in range(8, 20)
        )
    )
    fetched = await asyncio.gather(*(client.get_reservation(r.reservation_id) for r in made))
    assert fetched == made
    assert {r.start_time for r in made} == {f"{h:02d}:00" for h in range(8, 20)}
