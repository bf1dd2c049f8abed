"""The use cases and their rules, run against every embedded store."""

from __future__ import annotations

import asyncio

import pytest

from services.core import service as service_module
from services.core.errors import (
    CapacityExceeded,
    IdempotencyKeyReused,
    InvalidProperty,
    InvalidStateTransition,
    MissingMandatoryProperty,
    ReservationConflict,
    ReservationNotFound,
    RoomNotFound,
    RosettaError,
    Unavailable,
    VersionMismatch,
)
from services.core.model import (
    ReservationChanges,
    ReservationDraft,
    ReservationQuery,
    ReservationStatus,
)
from services.core.ports import StoreUnavailable
from services.core.service import ReservationService
from services.core.validation import from_mapping
from services.store import MemoryStore
from tests.support.drafts import draft


async def test_create_then_get_returns_the_same_reservation(service: ReservationService) -> None:
    created = await service.create_reservation(draft())
    assert created.status is ReservationStatus.RESERVED
    assert created.version == 1
    assert [a.value for a in created.actions] == ["modify", "cancel", "check-in"]
    assert created.reservation_id.startswith("rsv_")
    assert await service.get_reservation(created.reservation_id) == created


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"guest_name": None}, MissingMandatoryProperty, "guestName"),
        ({"room_id": None}, MissingMandatoryProperty, "roomId"),
        ({"attendees": None}, MissingMandatoryProperty, "attendees"),
        ({"date": "2026-02-30"}, InvalidProperty, "date"),
        ({"date": "01/12/2026"}, InvalidProperty, "date"),
        ({"start_time": "9:00"}, InvalidProperty, "startTime"),
        ({"end_time": "24:00"}, InvalidProperty, "endTime"),
        ({"start_time": "11:00"}, InvalidProperty, "endTime"),
        ({"attendees": 0}, InvalidProperty, "attendees"),
        ({"attendees": "3"}, InvalidProperty, "attendees"),
        ({"guest_name": "   "}, InvalidProperty, "guestName"),
        ({"guest_name": "x" * 101}, InvalidProperty, "guestName"),
        ({"purpose": "x" * 501}, InvalidProperty, "purpose"),
        ({"room_id": "room-zz"}, RoomNotFound, "roomId"),
        ({"attendees": 9}, CapacityExceeded, "attendees"),
    ],
)
async def test_bad_input_is_refused_with_its_code_and_field(
    service: ReservationService, overrides: dict[str, object], error: type[RosettaError], field: str
) -> None:
    with pytest.raises(error) as caught:
        await service.create_reservation(draft(**overrides))
    assert caught.value.field == field
    assert await service.watch_events(0) == []  # nothing half-written


async def test_overlapping_slots_conflict_but_touching_slots_and_canceled_ones_do_not(
    service: ReservationService,
) -> None:
    first = await service.create_reservation(draft())
    with pytest.raises(ReservationConflict):
        await service.create_reservation(draft(start_time="09:30", end_time="10:30"))
    await service.create_reservation(draft(start_time="10:00", end_time="11:00"))  # touching is fine
    await service.create_reservation(draft(room_id="room-c"))  # another room is fine
    await service.cancel_reservation(first.reservation_id, reason="moved")
    await service.create_reservation(draft(start_time="09:00", end_time="09:30"))  # freed by the cancel


async def test_twenty_concurrent_creates_of_one_slot_yield_exactly_one_reservation(
    service: ReservationService,
) -> None:
    results = await asyncio.gather(
        *(service.create_reservation(draft(guest_name=f"guest {i}")) for i in range(20)),
        return_exceptions=True,
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, ReservationConflict)]
    assert len(created) == 1 and len(conflicts) == 19
    events = await service.watch_events(0)
    assert [e.type for e in events] == ["reservation.created"]


async def test_only_reserved_reservations_change_and_every_change_bumps_the_version(
    service: ReservationService,
) -> None:
    created = await service.create_reservation(draft())
    modified = await service.modify_reservation(created.reservation_id, ReservationChanges(attendees=2))
    assert (modified.version, modified.attendees) == (2, 2)
    checked_in = await service.check_in_reservation(created.reservation_id)
    assert checked_in.status is ReservationStatus.CHECKED_IN and checked_in.version == 3
    assert checked_in.actions == ()
    for attempt in (
        service.cancel_reservation(created.reservation_id),
        service.check_in_reservation(created.reservation_id),
        service.modify_reservation(created.reservation_id, ReservationChanges(attendees=1)),
    ):
        with pytest.raises(InvalidStateTransition):
            await attempt


async def test_cancel_twice_is_an_invalid_transition_with_a_localized_message(
    service: ReservationService,
) -> None:
    created = await service.create_reservation(draft())
    canceled = await service.cancel_reservation(created.reservation_id, reason="ill")
    assert canceled.cancel_reason == "ill" and canceled.status is ReservationStatus.CANCELED
    with pytest.raises(InvalidStateTransition) as caught:
        await service.cancel_reservation(created.reservation_id)
    assert caught.value.localized("en") == "A reservation in status CANCELED cannot be canceled."
    assert caught.value.localized("fr") == "Une réservation à l'état CANCELED ne peut pas être annulée."


async def test_stale_expected_version_is_refused(service: ReservationService) -> None:
    created = await service.create_reservation(draft())
    await service.modify_reservation(
        created.reservation_id, ReservationChanges(guest_name="Ada"), expected_version=1
    )
    with pytest.raises(VersionMismatch):
        await service.modify_reservation(
            created.reservation_id, ReservationChanges(guest_name="Bo"), expected_version=1
        )


async def test_modify_rechecks_capacity_overlap_and_time_order_against_the_merged_reservation(
    service: ReservationService,
) -> None:
    a = await service.create_reservation(draft())
    b = await service.create_reservation(draft(start_time="11:00", end_time="12:00"))
    with pytest.raises(ReservationConflict):
        await service.modify_reservation(b.reservation_id, ReservationChanges(start_time="09:30"))
    with pytest.raises(InvalidProperty) as caught:
        await service.modify_reservation(b.reservation_id, ReservationChanges(end_time="10:30"))
    assert caught.value.field == "endTime"
    with pytest.raises(CapacityExceeded):
        await service.modify_reservation(a.reservation_id, ReservationChanges(room_id="room-d"))
    moved = await service.modify_reservation(a.reservation_id, ReservationChanges(start_time="08:00"))
    assert (moved.start_time, moved.end_time, moved.version) == ("08:00", "10:00", 2)
    cleared = await service.modify_reservation(a.reservation_id, ReservationChanges(purpose=""))
    assert cleared.purpose is None
    unchanged = await service.modify_reservation(a.reservation_id, ReservationChanges(start_time="08:00"))
    assert unchanged == cleared  # no real change: no new version, no event


async def test_idempotent_create_and_cancel_replay_the_first_result(service: ReservationService) -> None:
    first = await service.create_reservation(draft(), idempotency_key="create-1")
    again = await service.create_reservation(draft(), idempotency_key="create-1")
    assert again == first
    with pytest.raises(IdempotencyKeyReused):
        await service.create_reservation(draft(attendees=2), idempotency_key="create-1")
    canceled = await service.cancel_reservation(first.reservation_id, reason="x", idempotency_key="cancel-1")
    assert (
        await service.cancel_reservation(first.reservation_id, reason="x", idempotency_key="cancel-1")
        == canceled
    )
    with pytest.raises(IdempotencyKeyReused):
        await service.cancel_reservation(first.reservation_id, reason="y", idempotency_key="cancel-1")
    assert [e.type for e in await service.watch_events(0)] == ["reservation.created", "reservation.canceled"]


async def test_one_idempotency_key_cannot_serve_both_create_and_cancel(service: ReservationService) -> None:
    created = await service.create_reservation(draft(), idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        await service.cancel_reservation(created.reservation_id, idempotency_key="k-1")
    canceled = await service.cancel_reservation(created.reservation_id, idempotency_key="k-2")
    with pytest.raises(IdempotencyKeyReused):
        await service.create_reservation(draft(start_time="07:00", end_time="08:00"), idempotency_key="k-2")
    assert (await service.get_reservation(created.reservation_id)) == canceled
    assert [e.type for e in await service.watch_events(0)] == ["reservation.created", "reservation.canceled"]


async def test_an_idempotent_retry_is_recognised_by_its_meaning_not_its_spelling(
    service: ReservationService,
) -> None:
    first = await service.create_reservation(draft(purpose=None), idempotency_key="create-1")
    again = await service.create_reservation(
        draft(guest_name=" Grace Hopper ", purpose=""), idempotency_key="create-1"
    )
    assert again == first
    canceled = await service.cancel_reservation(first.reservation_id, reason=None, idempotency_key="c-1")
    assert (
        await service.cancel_reservation(first.reservation_id, reason=" ", idempotency_key="c-1") == canceled
    )


async def test_unknown_reservation_and_room(service: ReservationService) -> None:
    with pytest.raises(ReservationNotFound):
        await service.get_reservation("rsv_nope")
    with pytest.raises(RoomNotFound):
        await service.get_room("room-nope")
    assert [r.room_id for r in await service.list_rooms()] == ["room-a", "room-b", "room-c", "room-d"]


async def test_list_filters_sorts_and_pages(service: ReservationService) -> None:
    for day, start, guest in [("03", "09:00", "Ann"), ("01", "10:00", "Bob"), ("02", "09:00", "ann-marie")]:
        await service.create_reservation(
            draft(date=f"2026-12-{day}", start_time=start, end_time="11:00", guest_name=guest)
        )
    page = await service.list_reservations(ReservationQuery(sort="-date", page_size=2))
    assert [r.date for r in page.items] == ["2026-12-03", "2026-12-02"]
    assert (page.total_items, page.total_pages) == (3, 2)
    last = await service.list_reservations(ReservationQuery(sort="-date", page=2, page_size=2))
    assert [r.date for r in last.items] == ["2026-12-01"]
    beyond = await service.list_reservations(ReservationQuery(page=5))
    assert beyond.items == () and beyond.total_items == 3
    named = await service.list_reservations(ReservationQuery(guest_name="ANN"))
    assert sorted(r.guest_name for r in named.items) == ["Ann", "ann-marie"]
    window = await service.list_reservations(ReservationQuery(date_from="2026-12-02", date_to="2026-12-02"))
    assert [r.date for r in window.items] == ["2026-12-02"]
    for bad, field in [
        (ReservationQuery(sort="name"), "sort"),
        (ReservationQuery(page=0), "page"),
        (ReservationQuery(page_size=101), "pageSize"),
        (ReservationQuery(status="DONE"), "status"),
        (ReservationQuery(date_from="2026-12-05", date_to="2026-12-01"), "dateTo"),
        (ReservationQuery(page="two"), "page"),  # type: ignore[arg-type]  # wrong on purpose
    ]:
        with pytest.raises(InvalidProperty) as caught:
            await service.list_reservations(bad)
        assert caught.value.field == field


async def test_every_change_appends_one_ordered_event_in_its_transaction(service: ReservationService) -> None:
    created = await service.create_reservation(draft())
    await service.modify_reservation(created.reservation_id, ReservationChanges(attendees=1))
    await service.check_in_reservation(created.reservation_id)
    events = await service.watch_events(0)
    assert [e.type for e in events] == [
        "reservation.created",
        "reservation.modified",
        "reservation.checked_in",
    ]
    assert [e.sequence for e in events] == sorted({e.sequence for e in events})
    assert events[-1].data["status"] == "CHECKED_IN" and events[-1].data["version"] == 3
    assert [e.type for e in await service.watch_events(events[0].sequence, limit=1)] == [
        "reservation.modified"
    ]
    only = await service.watch_events(0, types=["reservation.checked_in"])
    assert [e.sequence for e in only] == [events[-1].sequence]


async def test_stream_events_delivers_backlog_then_live_events_without_polling(
    service: ReservationService,
) -> None:
    first = await service.create_reservation(draft())
    received: list[int] = []

    async def consume() -> None:
        async for event in service.stream_events(0):
            received.append(event.sequence)
            if len(received) == 2:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    assert received == [1]
    await service.check_in_reservation(first.reservation_id)
    await asyncio.wait_for(task, 5)
    assert received == [1, 2]


def test_from_mapping_rejects_unknown_camel_case_properties_by_name() -> None:
    built = from_mapping(ReservationDraft, {"roomId": "room-a", "guestName": "Z"})
    assert built.room_id == "room-a" and built.guest_name == "Z"
    with pytest.raises(InvalidProperty) as caught:
        from_mapping(ReservationDraft, {"roomId": "room-a", "colour": "red"})
    assert caught.value.field == "colour"
    assert "not recognised" in caught.value.localized("en")


async def test_filters_and_event_types_of_the_wrong_type_are_invalid_properties(
    service: ReservationService,
) -> None:
    for query, field in [
        (ReservationQuery(room_id=5), "roomId"),  # type: ignore[arg-type]  # wrong on purpose
        (ReservationQuery(guest_name=["Ann"]), "guestName"),  # type: ignore[arg-type]  # wrong on purpose
    ]:
        with pytest.raises(InvalidProperty) as caught:
            await service.list_reservations(query)
        assert caught.value.field == field
    for types in (5, "reservation.created"):
        with pytest.raises(InvalidProperty) as caught:
            await service.watch_events(0, types=types)  # type: ignore[arg-type]  # wrong on purpose
        assert caught.value.field == "types"


# -- the store restarting ---------------------------------------------------------------


class _StoreGone:
    """A unit of work whose store cannot be reached (as PostgresUnitOfWork reports it)."""

    async def __aenter__(self) -> _StoreGone:
        raise StoreUnavailable("connection refused")

    async def __aexit__(self, *exc: object) -> None:
        return None


class _RestartingStore:
    """The memory store, unreachable for the first ``failures`` units of work."""

    def __init__(self, inner: MemoryStore, failures: float) -> None:
        self.inner = inner
        self.failures = failures

    def unit_of_work(self) -> object:
        if self.failures > 0:
            self.failures -= 1
            return _StoreGone()
        return self.inner.unit_of_work()


async def test_a_use_case_is_run_again_while_the_store_restarts_and_writes_once() -> None:
    memory = MemoryStore()
    await memory.open()
    restarting = _RestartingStore(memory, 3)
    # A partial Store: its units of work are only ever entered, never used, while it is "gone".
    created = await ReservationService(restarting).create_reservation(draft())  # type: ignore[arg-type]
    assert restarting.failures == 0
    page = await ReservationService(memory).list_reservations(ReservationQuery())
    assert [r.reservation_id for r in page.items] == [created.reservation_id]


async def test_a_store_that_stays_unreachable_is_unavailable_after_the_retry_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service_module, "STORE_RETRY_SECONDS", 0.3)
    store = _RestartingStore(MemoryStore(), float("inf"))
    with pytest.raises(Unavailable) as refused:  # nothing was written: the same request may come again
        await ReservationService(store).get_room("room-a")  # type: ignore[arg-type]  # a partial Store
    assert refused.value.retry_after == service_module.STORE_RETRY_AFTER_SECONDS
    assert isinstance(refused.value.__cause__, StoreUnavailable)


async def test_the_batch_lookup_groups_every_rooms_reservations_in_date_order(
    service: ReservationService,
) -> None:
    def draft(room: str, day: str, start: str) -> ReservationDraft:
        return ReservationDraft(room, "Batch", day, start, f"{int(start[:2]) + 1:02d}:00", 1)

    late = await service.create_reservation(draft("room-a", "2033-02-03", "09:00"))
    early = await service.create_reservation(draft("room-a", "2033-02-01", "10:00"))
    other = await service.create_reservation(draft("room-b", "2033-02-02", "09:00"))
    await service.create_reservation(draft("room-c", "2033-02-02", "09:00"))  # not asked for
    grouped = await service.reservations_of_rooms(["room-a", "room-b", "room-d"])
    assert {room: [r.reservation_id for r in items] for room, items in grouped.items()} == {
        "room-a": [early.reservation_id, late.reservation_id],
        "room-b": [other.reservation_id],
        "room-d": [],  # asked for, has none
    }
    assert grouped["room-b"] == [other]
