"""Every query and mutation, through GraphQLClient and as raw GraphQL, against a live server."""

from __future__ import annotations

import httpx
import pytest

from services.core.api import ReservationApi
from services.core.errors import (
    IdempotencyKeyReused,
    InvalidStateTransition,
    ReservationNotFound,
    VersionMismatch,
)
from services.core.model import SEED_ROOMS, EventType, ReservationChanges, ReservationQuery, ReservationStatus
from services.graphql.client import GraphQLClient
from tests.graphql.conftest import draft, free_date, post


async def test_client_is_a_reservation_api(client: GraphQLClient) -> None:
    assert isinstance(client, ReservationApi)


async def test_rooms_lists_the_seeded_rooms(client: GraphQLClient) -> None:
    assert await client.list_rooms() == list(SEED_ROOMS)
    assert await client.get_room("room-c") == SEED_ROOMS[2]


async def test_created_reservation_reads_back_equal(client: GraphQLClient) -> None:
    created = await client.create_reservation(draft(purpose="thesis"))

    assert created.status is ReservationStatus.RESERVED
    assert created.version == 1
    assert created.purpose == "thesis"
    assert created.created_at.microsecond % 1000 == 0
    assert await client.get_reservation(created.reservation_id) == created


async def test_reservation_exposes_its_room_and_actions(
    client: GraphQLClient, http: httpx.AsyncClient
) -> None:
    created = await client.create_reservation(draft(room_id="room-a"))

    body = await post(
        http,
        "query($id: ID!) { reservation(reservationId: $id) "
        "{ status actions room { roomId name capacity } } }",
        {"id": created.reservation_id},
    )

    assert body == {
        "data": {
            "reservation": {
                "status": "RESERVED",
                "actions": ["MODIFY", "CANCEL", "CHECK_IN"],
                "room": {"roomId": "room-a", "name": "Ada", "capacity": 4},
            }
        }
    }


async def test_room_lists_its_reservations(client: GraphQLClient, http: httpx.AsyncClient) -> None:
    created = await client.create_reservation(draft(room_id="room-d", attendees=2))

    body = await post(http, '{ room(roomId: "room-d") { name reservations { reservationId roomId } } }')

    listed = body["data"]["room"]["reservations"]
    assert {"reservationId": created.reservation_id, "roomId": "room-d"} in listed
    assert all(item["roomId"] == "room-d" for item in listed)


async def test_reservations_filter_sort_and_page(client: GraphQLClient) -> None:
    day = free_date()
    made = [
        await client.create_reservation(
            draft(room_id="room-c", guest_name=f"Pager {n}", date=day, start_time=start, end_time=end)
        )
        for n, (start, end) in enumerate([("09:00", "10:00"), ("11:00", "12:00"), ("13:00", "14:00")])
    ]

    first = await client.list_reservations(
        ReservationQuery(room_id="room-c", date_from=day, date_to=day, sort="-startTime", page=1, page_size=2)
    )
    second = await client.list_reservations(
        ReservationQuery(room_id="room-c", date_from=day, date_to=day, sort="-startTime", page=2, page_size=2)
    )

    assert first.items == (made[2], made[1])
    assert second.items == (made[0],)
    assert (first.page, first.page_size, first.total_items, first.total_pages) == (1, 2, 3, 2)
    by_guest = await client.list_reservations(ReservationQuery(guest_name="pager 1", status="RESERVED"))
    assert by_guest.items == (made[1],)


async def test_modify_changes_fields_and_bumps_the_version(client: GraphQLClient) -> None:
    created = await client.create_reservation(draft())

    changed = await client.modify_reservation(
        created.reservation_id, ReservationChanges(start_time="10:30", attendees=5), expected_version=1
    )

    assert (changed.start_time, changed.attendees, changed.version) == ("10:30", 5, 2)
    assert changed.updated_at >= created.updated_at
    cleared = await client.modify_reservation(created.reservation_id, ReservationChanges(purpose=""))
    assert cleared.purpose is None
    assert await client.get_reservation(created.reservation_id) == cleared


async def test_modify_with_a_stale_version_is_refused(client: GraphQLClient) -> None:
    created = await client.create_reservation(draft())
    await client.modify_reservation(created.reservation_id, ReservationChanges(attendees=4))

    with pytest.raises(VersionMismatch) as caught:
        await client.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=5), expected_version=1
        )

    assert "version 2" in str(caught.value)


async def test_cancel_records_the_reason_and_replays_by_key(client: GraphQLClient) -> None:
    created = await client.create_reservation(draft())

    canceled = await client.cancel_reservation(
        created.reservation_id, reason="ill", idempotency_key="cancel-1"
    )
    again = await client.cancel_reservation(created.reservation_id, reason="ill", idempotency_key="cancel-1")

    assert canceled.status is ReservationStatus.CANCELED
    assert canceled.cancel_reason == "ill"
    assert again == canceled
    with pytest.raises(InvalidStateTransition):
        await client.cancel_reservation(created.reservation_id)
    with pytest.raises(IdempotencyKeyReused) as caught:
        await client.cancel_reservation(created.reservation_id, reason="other", idempotency_key="cancel-1")
    assert caught.value.field == "idempotencyKey"


async def test_create_with_the_same_key_returns_the_first_result(client: GraphQLClient) -> None:
    request = draft()

    first = await client.create_reservation(request, idempotency_key="create-once")
    second = await client.create_reservation(request, idempotency_key="create-once")

    assert second == first


async def test_check_in_leaves_no_actions(client: GraphQLClient, http: httpx.AsyncClient) -> None:
    created = await client.create_reservation(draft())

    checked_in = await client.check_in_reservation(created.reservation_id)

    assert checked_in.status is ReservationStatus.CHECKED_IN
    body = await post(
        http,
        "query($id: ID!) { reservation(reservationId: $id) { actions } }",
        {"id": created.reservation_id},
    )
    assert body["data"]["reservation"]["actions"] == []


async def test_events_are_polled_in_order(client: GraphQLClient) -> None:
    before = await client.watch_events(0, limit=1000)
    after = before[-1].sequence if before else 0
    created = await client.create_reservation(draft())
    checked_in = await client.check_in_reservation(created.reservation_id)

    events = await client.watch_events(after)

    mine = [event for event in events if event.data["reservationId"] == created.reservation_id]
    assert [event.type for event in mine] == [EventType.CREATED.value, EventType.CHECKED_IN.value]
    assert mine[0].data == created.to_dict()
    assert mine[1].data == checked_in.to_dict()
    assert mine[0].sequence < mine[1].sequence
    only_check_ins = await client.watch_events(after, types=[EventType.CHECKED_IN.value])
    assert [event.data["reservationId"] for event in only_check_ins] == [created.reservation_id]


async def test_unknown_reservation_is_not_found(client: GraphQLClient) -> None:
    with pytest.raises(ReservationNotFound) as caught:
        await client.check_in_reservation("rsv_missing")

    assert str(caught.value) == "No reservation with id 'rsv_missing' exists."
