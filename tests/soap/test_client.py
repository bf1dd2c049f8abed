"""SoapClient (zeep over the checked-in WSDL) against a live server: every operation, every error path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.core.api import ReservationApi
from services.core.errors import (
    IdempotencyKeyReused,
    InvalidProperty,
    InvalidStateTransition,
    MissingMandatoryProperty,
    ReservationConflict,
    ReservationNotFound,
    RoomNotFound,
    VersionMismatch,
)
from services.core.model import ReservationChanges, ReservationDraft, ReservationQuery, ReservationStatus
from services.soap.client import SoapClient
from tests.support.drafts import draft as base_draft
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="soap") as running:
        yield running


def draft(
    date: str = "2031-03-01", start: str = "09:00", end: str = "10:00", **extra: object
) -> ReservationDraft:
    return base_draft(**{"date": date, "start_time": start, "end_time": end} | extra)


async def test_client_satisfies_the_protocol(server: LiveServer) -> None:
    async with SoapClient(server.base_url) as client:
        assert isinstance(client, ReservationApi)


async def test_rooms(server: LiveServer) -> None:
    core = server.runtime.service
    async with SoapClient(server.base_url) as client:
        assert await client.list_rooms() == await core.list_rooms()
        assert await client.get_room("room-c") == await core.get_room("room-c")


async def test_reservation_lifecycle_returns_what_the_core_holds(server: LiveServer) -> None:
    core = server.runtime.service
    async with SoapClient(server.base_url) as client:
        created = await client.create_reservation(draft(date="2031-03-02"))
        assert created == await core.get_reservation(created.reservation_id)
        assert created.status is ReservationStatus.RESERVED and created.version == 1
        assert await client.get_reservation(created.reservation_id) == created

        modified = await client.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=5, purpose=""), expected_version=1
        )
        assert modified.attendees == 5 and modified.purpose is None and modified.version == 2
        assert modified == await core.get_reservation(created.reservation_id)

        checked_in = await client.check_in_reservation(created.reservation_id)
        assert checked_in.status is ReservationStatus.CHECKED_IN
        assert checked_in.actions == ()
        assert checked_in == await core.get_reservation(created.reservation_id)

        other = await client.create_reservation(draft(date="2031-03-03"))
        canceled = await client.cancel_reservation(other.reservation_id, reason="exam moved")
        assert canceled.status is ReservationStatus.CANCELED and canceled.cancel_reason == "exam moved"
        assert canceled == await core.get_reservation(other.reservation_id)


async def test_list_reservations_pages_and_filters(server: LiveServer) -> None:
    core = server.runtime.service
    async with SoapClient(server.base_url) as client:
        for hour in ("10", "11", "12"):
            await client.create_reservation(draft(date="2031-04-01", start=f"{hour}:00", end=f"{hour}:30"))
        query = ReservationQuery(
            date_from="2031-04-01", date_to="2031-04-01", sort="-startTime", page=2, page_size=2
        )
        page = await client.list_reservations(query)
        assert page == await core.list_reservations(query)
        assert (page.page, page.page_size, page.total_items, page.total_pages) == (2, 2, 3, 2)
        assert [r.start_time for r in page.items] == ["10:00"]

        empty = await client.list_reservations(ReservationQuery(room_id="room-d", date_from="2031-04-01"))
        assert empty.items == () and empty.total_items == 0


async def test_get_events_polls_the_log(server: LiveServer) -> None:
    core = server.runtime.service
    async with SoapClient(server.base_url) as client:
        start = await core.last_event_sequence()
        created = await client.create_reservation(draft(date="2031-05-01"))
        await client.cancel_reservation(created.reservation_id)

        events = await client.watch_events(start)
        assert events == await core.watch_events(start)
        assert [e.type for e in events] == ["reservation.created", "reservation.canceled"]
        assert events[0].data["reservationId"] == created.reservation_id

        only_canceled = await client.watch_events(start, types=["reservation.canceled"], limit=5)
        assert [e.sequence for e in only_canceled] == [events[1].sequence]
        assert await client.watch_events(events[-1].sequence) == []


async def test_idempotency_keys(server: LiveServer) -> None:
    async with SoapClient(server.base_url) as client:
        first = await client.create_reservation(draft(date="2031-06-01"), idempotency_key="soap-key-1")
        again = await client.create_reservation(draft(date="2031-06-01"), idempotency_key="soap-key-1")
        assert again == first
        with pytest.raises(IdempotencyKeyReused) as reused:
            await client.create_reservation(draft(date="2031-06-02"), idempotency_key="soap-key-1")
        assert reused.value.field == "idempotencyKey"

        canceled = await client.cancel_reservation(first.reservation_id, idempotency_key="soap-cancel-1")
        assert (
            await client.cancel_reservation(first.reservation_id, idempotency_key="soap-cancel-1") == canceled
        )


async def test_errors_are_the_core_errors_with_the_server_message(server: LiveServer) -> None:
    async with SoapClient(server.base_url, language="fr") as client:
        with pytest.raises(RoomNotFound) as room:
            await client.get_room("room-zz")
        assert str(room.value) == "Aucune salle ne porte l'identifiant « room-zz »."

        with pytest.raises(ReservationNotFound):
            await client.get_reservation("rsv_missing")

        with pytest.raises(MissingMandatoryProperty) as missing:
            await client.create_reservation(ReservationDraft(room_id="room-a", date="2031-07-01"))
        assert missing.value.field == "guestName"
        assert str(missing.value) == "La propriété « guestName » est obligatoire."

        with pytest.raises(InvalidProperty) as invalid:
            await client.create_reservation(draft(start="25:00"))
        assert invalid.value.field == "startTime"

        taken = await client.create_reservation(draft(date="2031-07-02"))
        with pytest.raises(ReservationConflict):
            await client.create_reservation(draft(date="2031-07-02", start="09:30", end="10:30"))
        with pytest.raises(VersionMismatch):
            await client.modify_reservation(
                taken.reservation_id, ReservationChanges(attendees=2), expected_version=9
            )
        await client.cancel_reservation(taken.reservation_id)
        with pytest.raises(InvalidStateTransition):
            await client.cancel_reservation(taken.reservation_id)


async def test_values_the_wsdl_cannot_carry_are_refused_like_the_server_would(server: LiveServer) -> None:
    async with SoapClient(server.base_url, language="ko") as client:
        with pytest.raises(InvalidProperty) as invalid:
            await client.create_reservation(draft(attendees="many"))
        assert invalid.value.field == "attendees"
        assert "attendees" in str(invalid.value) and "형식" in str(invalid.value)
