"""``RestClient`` against a live server: the ReservationApi, with the core's typed, localized errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.core.api import ReservationApi
from services.core.errors import (
    InvalidProperty,
    InvalidStateTransition,
    MissingMandatoryProperty,
    ReservationNotFound,
    RoomNotFound,
    VersionMismatch,
)
from services.core.model import (
    SEED_ROOMS,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationQuery,
    ReservationStatus,
)
from services.core.service import ReservationService
from services.rest.app import RestOptions, create_app
from services.rest.client import RestClient
from services.store import MemoryStore
from tests.rest.support import fresh_date
from tests.support.server import LiveServer


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[RestClient]:
    async with RestClient(server.base_url) as rest:
        yield rest


def _draft(**overrides: object) -> ReservationDraft:
    values: dict[str, Any] = {
        "room_id": "room-c",
        "guest_name": "Client Lee",
        "date": fresh_date(),
        "start_time": "13:00",
        "end_time": "14:00",
        "attendees": 6,
        "purpose": "Group work",
    }
    values.update(overrides)
    return ReservationDraft(**values)


async def test_the_client_is_a_reservation_api(client: RestClient) -> None:
    assert isinstance(client, ReservationApi)


async def test_rooms(client: RestClient) -> None:
    assert await client.list_rooms() == list(SEED_ROOMS)
    assert await client.get_room("room-b") == SEED_ROOMS[1]
    with pytest.raises(RoomNotFound) as caught:
        await client.get_room("room-z")
    assert str(caught.value) == "No room with id 'room-z' exists."


async def test_a_reservation_lifecycle_round_trips_exactly(client: RestClient) -> None:
    created = await client.create_reservation(_draft())
    assert isinstance(created, Reservation) and created.status is ReservationStatus.RESERVED
    assert await client.get_reservation(created.reservation_id) == created

    page = await client.list_reservations(ReservationQuery(date_from=created.date, date_to=created.date))
    assert page.items == (created,) and page.total_items == 1 and page.page == 1 and page.page_size == 20

    modified = await client.modify_reservation(
        created.reservation_id, ReservationChanges(attendees=8, purpose=""), expected_version=1
    )
    assert modified.attendees == 8 and modified.purpose is None and modified.version == 2
    with pytest.raises(VersionMismatch):
        await client.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=7), expected_version=1
        )
    with pytest.raises(InvalidProperty) as invalid:  # as the core and every other style answer
        await client.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=7), expected_version=0
        )
    assert invalid.value.field == "expectedVersion"

    canceled = await client.cancel_reservation(created.reservation_id, reason="Moved", idempotency_key="k-1")
    assert canceled.cancel_reason == "Moved" and canceled.status is ReservationStatus.CANCELED
    assert (
        await client.cancel_reservation(created.reservation_id, reason="Moved", idempotency_key="k-1")
        == canceled
    )
    with pytest.raises(InvalidStateTransition):
        await client.check_in_reservation(created.reservation_id)

    events = await client.watch_events(0, limit=1000)
    mine = [e for e in events if e.data["reservationId"] == created.reservation_id]
    assert [e.type for e in mine] == ["reservation.created", "reservation.modified", "reservation.canceled"]
    assert Reservation.from_dict(mine[0].data) == created
    assert Reservation.from_dict(mine[-1].data) == canceled
    only = await client.watch_events(mine[0].sequence - 1, types=["reservation.canceled"], limit=5)
    assert [e.sequence for e in only] == [mine[-1].sequence]


async def test_check_in_and_idempotent_create(client: RestClient) -> None:
    draft = _draft()
    created = await client.create_reservation(draft, idempotency_key="create-once")
    assert await client.create_reservation(draft, idempotency_key="create-once") == created
    checked_in = await client.check_in_reservation(created.reservation_id)
    assert checked_in.status is ReservationStatus.CHECKED_IN and checked_in.version == 2


async def test_errors_carry_the_field_and_the_localized_message(server: LiveServer) -> None:
    async with RestClient(server.base_url, language="ko") as client:
        with pytest.raises(MissingMandatoryProperty) as caught:
            await client.create_reservation(_draft(guest_name=None))
        assert caught.value.field == "guestName"
        assert str(caught.value) == "'guestName' 속성은 필수입니다."
        with pytest.raises(ReservationNotFound) as not_found:
            await client.get_reservation("rsv_gone")
        assert not_found.value.field is None


async def test_an_injected_transport_is_used() -> None:
    service = ReservationService(MemoryStore())
    await service.store.open()
    transport = httpx.ASGITransport(app=create_app(service, RestOptions()))
    async with RestClient("http://in-process", transport=transport) as client:
        assert [room.room_id for room in await client.list_rooms()] == [room.room_id for room in SEED_ROOMS]
