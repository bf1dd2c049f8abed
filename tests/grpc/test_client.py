"""Every RPC through GrpcClient against a real server: results equal the core's, errors are typed."""

from __future__ import annotations

import pytest

from services.core.api import ReservationApi
from services.core.errors import (
    CapacityExceeded,
    IdempotencyKeyReused,
    InvalidProperty,
    InvalidStateTransition,
    MissingMandatoryProperty,
    ReservationConflict,
    ReservationNotFound,
    RoomNotFound,
    VersionMismatch,
)
from services.core.model import SEED_ROOMS, ReservationChanges, ReservationQuery, ReservationStatus
from services.grpc.client import GrpcClient
from tests.grpc.factories import draft


def test_client_implements_the_api() -> None:
    assert isinstance(GrpcClient("127.0.0.1:1"), ReservationApi)


async def test_rooms(api: GrpcClient) -> None:
    assert await api.list_rooms() == list(SEED_ROOMS)
    assert await api.get_room("room-c") == SEED_ROOMS[2]


async def test_unknown_room(api: GrpcClient) -> None:
    with pytest.raises(RoomNotFound, match="room-z"):
        await api.get_room("room-z")


async def test_create_then_get_returns_an_equal_reservation(api: GrpcClient) -> None:
    created = await api.create_reservation(draft(purpose=None))
    assert created.status is ReservationStatus.RESERVED
    assert created.version == 1
    assert created.purpose is None
    assert created.actions == ("modify", "cancel", "check-in")
    assert created.created_at.microsecond % 1000 == 0
    assert await api.get_reservation(created.reservation_id) == created


async def test_missing_field_is_named(api: GrpcClient) -> None:
    with pytest.raises(MissingMandatoryProperty) as caught:
        await api.create_reservation(draft(guest_name=None))
    assert caught.value.field == "guestName"
    assert str(caught.value) == "The property 'guestName' is required."


async def test_invalid_value_is_reported_by_the_server(api: GrpcClient) -> None:
    with pytest.raises(InvalidProperty) as caught:
        await api.create_reservation(draft(start_time="25:00"))
    assert caught.value.field == "startTime"


async def test_value_protobuf_cannot_carry_is_an_invalid_property(api: GrpcClient) -> None:
    with pytest.raises(InvalidProperty) as caught:
        await api.create_reservation(draft(attendees="three"))
    assert caught.value.field == "attendees"


async def test_rule_violations(api: GrpcClient) -> None:
    with pytest.raises(CapacityExceeded) as caught:
        await api.create_reservation(draft(room_id="room-d", attendees=5))
    assert caught.value.field == "attendees"
    first = await api.create_reservation(draft())
    with pytest.raises(ReservationConflict):
        await api.create_reservation(draft(date=first.date, start_time="10:30", end_time="12:00"))


async def test_messages_follow_the_client_language(target: str) -> None:
    async with GrpcClient(target, language="fr") as french:
        with pytest.raises(ReservationNotFound) as caught:
            await french.get_reservation("rsv_missing")
    assert str(caught.value) == "Aucune réservation ne porte l'identifiant « rsv_missing »."


async def test_list_filters_sorts_and_pages(api: GrpcClient) -> None:
    guest = "Grace Hopper (paging)"
    made = [await api.create_reservation(draft(guest_name=guest, room_id="room-c")) for _ in range(3)]
    first = await api.list_reservations(ReservationQuery(guest_name=guest, sort="-date", page=1, page_size=2))
    assert first.items == tuple(reversed(made))[:2]
    assert (first.page, first.page_size, first.total_items, first.total_pages) == (1, 2, 3, 2)
    second = await api.list_reservations(
        ReservationQuery(guest_name=guest, sort="-date", page=2, page_size=2)
    )
    assert second.items == (made[0],)
    with pytest.raises(InvalidProperty) as caught:
        await api.list_reservations(ReservationQuery(status="LOST"))
    assert caught.value.field == "status"


async def test_modify_with_expected_version(api: GrpcClient) -> None:
    created = await api.create_reservation(draft())
    changed = await api.modify_reservation(
        created.reservation_id, ReservationChanges(attendees=5, purpose=""), expected_version=1
    )
    assert (changed.attendees, changed.purpose, changed.version) == (5, None, 2)
    assert await api.get_reservation(created.reservation_id) == changed
    with pytest.raises(VersionMismatch):
        await api.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=4), expected_version=1
        )


async def test_cancel_is_idempotent_with_a_key(api: GrpcClient) -> None:
    created = await api.create_reservation(draft())
    canceled = await api.cancel_reservation(created.reservation_id, reason="ill", idempotency_key="cancel-1")
    assert (canceled.status, canceled.cancel_reason, canceled.actions) == (
        ReservationStatus.CANCELED,
        "ill",
        (),
    )
    again = await api.cancel_reservation(created.reservation_id, reason="ill", idempotency_key="cancel-1")
    assert again == canceled
    with pytest.raises(InvalidStateTransition):
        await api.cancel_reservation(created.reservation_id)
    with pytest.raises(IdempotencyKeyReused):
        await api.cancel_reservation(created.reservation_id, reason="other", idempotency_key="cancel-1")


async def test_create_is_idempotent_with_a_key(api: GrpcClient) -> None:
    proposal = draft()
    first = await api.create_reservation(proposal, idempotency_key="create-1")
    assert await api.create_reservation(proposal, idempotency_key="create-1") == first
    with pytest.raises(IdempotencyKeyReused) as caught:
        await api.create_reservation(draft(), idempotency_key="create-1")
    assert caught.value.field == "idempotencyKey"


async def test_check_in(api: GrpcClient) -> None:
    created = await api.create_reservation(draft())
    checked_in = await api.check_in_reservation(created.reservation_id)
    assert (checked_in.status, checked_in.version, checked_in.actions) == (
        ReservationStatus.CHECKED_IN,
        2,
        (),
    )
    with pytest.raises(InvalidStateTransition):
        await api.check_in_reservation(created.reservation_id)


async def test_watch_events_returns_one_batch(api: GrpcClient) -> None:
    created = await api.create_reservation(draft())
    await api.check_in_reservation(created.reservation_id)
    events = [
        e for e in await api.watch_events(0, limit=1000) if e.data["reservationId"] == created.reservation_id
    ]
    assert [e.type for e in events] == ["reservation.created", "reservation.checked_in"]
    assert events[0].data == created.to_dict()
    assert events[0].occurred_at == created.created_at
    checked_in = await api.watch_events(events[0].sequence, types=["reservation.checked_in"], limit=1)
    assert checked_in == [events[1]]
    with pytest.raises(InvalidProperty) as caught:
        await api.watch_events(0, types=["reservation.lost"])
    assert caught.value.field == "types"
