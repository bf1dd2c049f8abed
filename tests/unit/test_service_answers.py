"""What the use cases answer at their edges: the messages of their refusals, the bounds of their numbers,
the ids and times they hand out, and how long they keep trying when the store is busy or gone."""

from __future__ import annotations

import re
import types
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from services.core import service as service_module
from services.core.errors import (
    CapacityExceeded,
    Forbidden,
    IdempotencyKeyReused,
    InvalidProperty,
    ReservationConflict,
    ReservationNotFound,
    RoomNotFound,
    Unavailable,
    VersionMismatch,
)
from services.core.model import Event, Reservation, ReservationChanges, ReservationDraft, ReservationQuery
from services.core.service import ReservationService
from services.store import MemoryStore
from tests.support.drafts import draft

# -- refusals say what was refused -------------------------------------------------------------


async def test_missing_rooms_and_reservations_are_named_in_the_message(service: ReservationService) -> None:
    with pytest.raises(RoomNotFound) as caught:
        await service.get_room("room-zz")
    assert str(caught.value) == "No room with id 'room-zz' exists."
    with pytest.raises(RoomNotFound) as caught:
        await service.create_reservation(draft(room_id="room-zz"))
    assert str(caught.value) == "No room with id 'room-zz' exists."
    created = await service.create_reservation(draft())
    with pytest.raises(RoomNotFound) as caught:  # moving to a room that does not exist
        await service.modify_reservation(created.reservation_id, ReservationChanges(room_id="room-zz"))
    assert caught.value.field == "roomId" and str(caught.value) == "No room with id 'room-zz' exists."
    for attempt in (
        service.get_reservation("rsv_nope"),
        service.cancel_reservation("rsv_nope"),
        service.check_in_reservation("rsv_nope"),
        service.modify_reservation("rsv_nope", ReservationChanges(attendees=1)),
    ):
        with pytest.raises(ReservationNotFound) as missing:
            await attempt
        assert str(missing.value) == "No reservation with id 'rsv_nope' exists."


async def test_an_id_that_is_not_text_is_an_invalid_property_naming_it(service: ReservationService) -> None:
    for attempt, field in [
        (service.get_room(5), "roomId"),  # type: ignore[arg-type]  # wrong on purpose
        (service.get_reservation(5), "reservationId"),  # type: ignore[arg-type]  # wrong on purpose
        (service.cancel_reservation(5), "reservationId"),  # type: ignore[arg-type]  # wrong on purpose
        (service.check_in_reservation("rsv_\x00"), "reservationId"),
    ]:
        with pytest.raises(InvalidProperty) as caught:
            await attempt
        assert caught.value.field == field


async def test_capacity_refusals_name_the_room_its_capacity_and_the_request(
    service: ReservationService,
) -> None:
    full = await service.create_reservation(draft(attendees=8))  # room-b holds 8: exactly full is fine
    assert full.attendees == 8
    with pytest.raises(CapacityExceeded) as caught:
        await service.create_reservation(draft(attendees=9, start_time="11:00", end_time="12:00"))
    assert str(caught.value) == "Room 'room-b' holds at most 8 people; 9 were requested."
    with pytest.raises(CapacityExceeded) as caught:
        await service.modify_reservation(full.reservation_id, ReservationChanges(room_id="room-d"))
    assert caught.value.field == "attendees"
    assert str(caught.value) == "Room 'room-d' holds at most 2 people; 8 were requested."
    moved = await service.modify_reservation(
        full.reservation_id, ReservationChanges(room_id="room-d", attendees=2)
    )
    assert (moved.room_id, moved.attendees) == ("room-d", 2)


async def test_a_conflict_names_the_room_and_the_slot_asked_for(service: ReservationService) -> None:
    await service.create_reservation(draft())
    with pytest.raises(ReservationConflict) as caught:
        await service.create_reservation(draft(start_time="09:30", end_time="10:30"))
    assert str(caught.value) == "Room 'room-b' is already reserved on 2026-12-01 between 09:30 and 10:30."
    later = await service.create_reservation(draft(start_time="11:00", end_time="12:00"))
    with pytest.raises(ReservationConflict) as caught:
        await service.modify_reservation(later.reservation_id, ReservationChanges(start_time="09:45"))
    assert str(caught.value) == "Room 'room-b' is already reserved on 2026-12-01 between 09:45 and 12:00."


async def test_a_stale_version_names_both_versions(service: ReservationService) -> None:
    created = await service.create_reservation(draft())
    await service.modify_reservation(
        created.reservation_id, ReservationChanges(attendees=2), expected_version=1
    )
    with pytest.raises(VersionMismatch) as caught:
        await service.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=1), expected_version=1
        )
    assert str(caught.value) == "The reservation is at version 2, not the expected version 1."


async def test_a_reused_idempotency_key_is_named_as_the_refused_field(service: ReservationService) -> None:
    first = await service.create_reservation(draft(), idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused) as caught:
        await service.create_reservation(draft(attendees=2), idempotency_key="k-1")
    assert caught.value.field == "idempotencyKey"
    assert str(caught.value) == "The idempotency key 'k-1' was already used with a different request."
    second = await service.create_reservation(draft(start_time="11:00", end_time="12:00"))
    await service.cancel_reservation(first.reservation_id, idempotency_key="c-1")
    with pytest.raises(IdempotencyKeyReused) as caught:  # the same key and reason, another reservation
        await service.cancel_reservation(second.reservation_id, idempotency_key="c-1")
    assert caught.value.field == "idempotencyKey"
    assert (await service.get_reservation(second.reservation_id)).version == 1  # not canceled


async def test_a_stranger_is_told_which_reservation_is_not_theirs(service: ReservationService) -> None:
    from tests.unit.test_access import ALICE, BOB

    mine = await service.acting_as(ALICE).create_reservation(draft())
    with pytest.raises(Forbidden) as caught:
        await service.acting_as(BOB).check_in_reservation(mine.reservation_id)
    assert caught.value.params == {"reason": "not_owner", "reservationId": mine.reservation_id}
    assert str(caught.value).startswith(
        "This request is not allowed: the reservation belongs to another client"
    )


async def test_a_cancel_reason_is_kept_trimmed_and_bounded(service: ReservationService) -> None:
    created = await service.create_reservation(draft())
    with pytest.raises(InvalidProperty) as caught:
        await service.cancel_reservation(created.reservation_id, reason="x" * 501)
    assert caught.value.field == "reason"
    canceled = await service.cancel_reservation(created.reservation_id, reason="  ill  ")
    assert canceled.cancel_reason == "ill"


# -- the bounds of numbers ------------------------------------------------------------------------


async def test_paging_bounds_and_query_strings(service: ReservationService) -> None:
    for day in ("01", "02", "03"):
        await service.create_reservation(draft(date=f"2026-12-{day}"))
    # Query parameters arrive as text: "2" is page 2.
    page = await service.list_reservations(ReservationQuery(page="2", page_size="2"))  # type: ignore[arg-type]
    assert (page.page, page.page_size, [r.date for r in page.items]) == (2, 2, ["2026-12-03"])
    single = await service.list_reservations(ReservationQuery(page_size=1))  # the smallest page
    assert ([r.date for r in single.items], single.total_pages) == (["2026-12-01"], 3)
    last = await service.list_reservations(ReservationQuery(page=10**9))
    assert last.items == () and last.total_items == 3
    with pytest.raises(InvalidProperty) as caught:
        await service.list_reservations(ReservationQuery(page=10**9 + 1))
    assert caught.value.field == "page"
    items, total = await service.search_reservations(ReservationQuery(), offset=1, limit=1)
    assert ([r.date for r in items], total) == (["2026-12-02"], 3)


async def test_expected_version_is_a_positive_32_bit_number(service: ReservationService) -> None:
    created = await service.create_reservation(draft())
    with pytest.raises(VersionMismatch):  # the largest version a caller can name is still a version
        await service.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=2), expected_version=2**31 - 1
        )
    for refused in (0, 2**31, "1"):
        with pytest.raises(InvalidProperty) as caught:
            await service.modify_reservation(
                created.reservation_id,
                ReservationChanges(attendees=2),
                expected_version=refused,  # type: ignore[arg-type]  # wrong on purpose
            )
        assert caught.value.field == "expectedVersion"


async def test_event_reads_take_text_numbers_and_refuse_out_of_range_ones(
    service: ReservationService,
) -> None:
    created = await service.create_reservation(draft())
    await service.check_in_reservation(created.reservation_id)
    assert await service.last_event_sequence() == 2
    after_first = await service.watch_events("1", limit="1000")  # type: ignore[arg-type]  # query text
    assert [e.type for e in after_first] == ["reservation.checked_in"]
    assert await service.watch_events(2**62) == []
    for after, limit, field in [
        (-1, 1, "after"),
        (2**62 + 1, 1, "after"),
        (0, 0, "limit"),
        (0, 1001, "limit"),
    ]:
        with pytest.raises(InvalidProperty) as caught:
            await service.watch_events(after, limit=limit)
        assert caught.value.field == field
    for bad_after in (-1, 2**62 + 1):
        with pytest.raises(InvalidProperty) as caught:
            service.stream_events(bad_after)
        assert caught.value.field == "after"
    await service.stream_events(2**62).aclose()  # the largest start a subscriber may name


async def test_an_empty_log_has_sequence_zero_and_rooms_are_looked_up_together(
    service: ReservationService,
) -> None:
    assert await service.last_event_sequence() == 0
    rooms = await service.get_rooms(["room-d", "room-zz", "room-a"])
    assert {room_id: room.capacity for room_id, room in rooms.items()} == {"room-d": 2, "room-a": 4}


async def test_a_room_with_many_reservations_lists_them_all_in_batch(service: ReservationService) -> None:
    for day in range(1, 29):
        for hour in range(8, 12):
            await service.create_reservation(
                ReservationDraft(
                    "room-c", "Many", f"2033-02-{day:02d}", f"{hour:02d}:00", f"{hour:02d}:30", 1
                )
            )
    grouped = await service.reservations_of_rooms(["room-c"])
    assert len(grouped["room-c"]) == 28 * 4
    # Events are read 100 at a time unless a limit is named, from the first one unless told otherwise.
    first_batch = await service.watch_events()
    assert [e.sequence for e in first_batch] == list(range(1, 101))


# -- ids and times -----------------------------------------------------------------------------


async def test_ids_are_opaque_and_times_are_utc_milliseconds() -> None:
    service = ReservationService(MemoryStore())
    created = await service.create_reservation(draft())
    assert re.fullmatch(r"rsv_[a-z2-7]{16}", created.reservation_id)
    assert created.created_at.tzinfo is UTC and created.created_at.microsecond % 1000 == 0
    assert created.created_at == created.updated_at
    (event,) = await service.watch_events(0)
    assert re.fullmatch(r"evt_[a-z2-7]{16}", event.event_id)
    assert event.occurred_at == created.created_at


async def test_each_change_is_stamped_with_the_clock_and_its_event_carries_the_time() -> None:
    times = iter(datetime(2026, 11, 30, hour, tzinfo=UTC) for hour in (8, 9, 10, 11, 12))
    service = ReservationService(MemoryStore(), clock=lambda: next(times))
    created = await service.create_reservation(draft())
    assert created.created_at == created.updated_at == datetime(2026, 11, 30, 8, tzinfo=UTC)
    modified = await service.modify_reservation(created.reservation_id, ReservationChanges(attendees=1))
    assert (modified.created_at.hour, modified.updated_at.hour) == (8, 9)
    canceled = await service.cancel_reservation(created.reservation_id)
    assert canceled.updated_at.hour == 10
    other = await service.create_reservation(draft(start_time="11:00", end_time="12:00"))
    checked_in = await service.check_in_reservation(other.reservation_id)
    assert (checked_in.created_at.hour, checked_in.updated_at.hour) == (11, 12)
    assert [e.occurred_at.hour for e in await service.watch_events(0)] == [8, 9, 10, 11, 12]
    assert [e.data["version"] for e in await service.watch_events(0)] == [1, 2, 3, 1, 2]


# -- concurrent writers and a store that is gone ------------------------------------------------


class _StaleWrites:
    """The memory store where another writer commits first, the first ``stale`` times a change is written
    (PostgreSQL's compare-and-set update reports that as VERSION_MISMATCH)."""

    def __init__(self, stale: int) -> None:
        self.inner = MemoryStore()
        self.stale = stale
        self.writes = 0

    def unit_of_work(self) -> Any:
        uow = self.inner.unit_of_work()
        real_update = uow.reservations.update

        async def update(reservation: Any) -> None:
            self.writes += 1
            if self.stale > 0:
                self.stale -= 1
                raise VersionMismatch(
                    params={"expected": reservation.version - 1, "actual": reservation.version}
                )
            await real_update(reservation)

        uow.reservations.update = update  # type: ignore[method-assign]  # the stale write, injected
        return uow


@pytest.mark.parametrize("change", ["modify", "cancel", "check_in"])
async def test_a_change_without_a_version_is_tried_eight_times_against_concurrent_writers(
    change: str,
) -> None:
    async def run(stale: int) -> tuple[_StaleWrites, Any]:
        store = _StaleWrites(stale)
        core = ReservationService(store)  # type: ignore[arg-type]  # the memory store with stale writes
        created = await core.create_reservation(draft())
        attempts: dict[str, Callable[[], Awaitable[Reservation]]] = {
            "modify": lambda: core.modify_reservation(
                created.reservation_id, ReservationChanges(attendees=1)
            ),
            "cancel": lambda: core.cancel_reservation(created.reservation_id),
            "check_in": lambda: core.check_in_reservation(created.reservation_id),
        }
        try:
            return store, await attempts[change]()
        except VersionMismatch as refused:
            return store, refused

    store, result = await run(7)  # the eighth try finds no concurrent writer
    assert not isinstance(result, VersionMismatch) and result.version == 2 and store.writes == 8
    store, result = await run(8)  # still busy after eight tries: the caller is told
    assert isinstance(result, VersionMismatch) and store.writes == 8


async def test_a_change_naming_its_version_is_not_retried_on_a_concurrent_write() -> None:
    store = _StaleWrites(1)
    core = ReservationService(store)  # type: ignore[arg-type]  # the memory store with stale writes
    created = await core.create_reservation(draft())
    with pytest.raises(VersionMismatch):
        await core.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=1), expected_version=1
        )
    assert store.writes == 1


class _FakeTime:
    """``time.monotonic`` and ``asyncio.sleep`` for the service module: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_an_unreachable_store_is_tried_with_growing_pauses_for_25_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.unit.test_service import _RestartingStore

    fake = _FakeTime()
    monkeypatch.setattr(service_module, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    monkeypatch.setattr(service_module, "asyncio", types.SimpleNamespace(sleep=fake.sleep))
    store = _RestartingStore(MemoryStore(), float("inf"))
    with pytest.raises(Unavailable) as refused:
        await ReservationService(store).list_rooms()  # type: ignore[arg-type]  # a partial Store
    assert refused.value.retry_after == 5.0
    assert fake.sleeps[:6] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0])
    assert set(fake.sleeps[6:]) == {1.0}  # never more than a second between tries
    assert 24.0 < sum(fake.sleeps) <= 25.0  # given up when the next pause would pass 25 s

    fake.sleeps.clear()
    back_soon = _RestartingStore(MemoryStore(), 2)
    rooms = await ReservationService(back_soon).list_rooms()  # type: ignore[arg-type]  # a partial Store
    assert len(rooms) == 4 and fake.sleeps == pytest.approx([0.05, 0.1])


# -- the event stream ---------------------------------------------------------------------------


class _StopStream(Exception):
    pass


class _RecordingNotifier:
    """A notifier that records what the stream waits for, then ends the stream."""

    def __init__(self) -> None:
        self.waits: list[tuple[int, float | None]] = []

    def published(self, sequence: int) -> None:
        return None

    async def wait_beyond(self, sequence: int, timeout: float | None) -> bool:
        self.waits.append((sequence, timeout))
        raise _StopStream


async def test_a_filtered_stream_waits_beyond_the_newest_event_even_one_it_does_not_want() -> None:
    notifier = _RecordingNotifier()
    core = ReservationService(MemoryStore(), notifier=notifier)
    created = await core.create_reservation(draft())
    await core.check_in_reservation(created.reservation_id)
    received: list[Event] = []
    wanted: Sequence[str] = ["reservation.created"]
    with pytest.raises(_StopStream):
        async for event in core.stream_events(0, types=wanted, wait_timeout=7.5):
            received.append(event)
    assert [e.sequence for e in received] == [1]
    # Waiting beyond 1 would wake at once for the unwanted event 2, and read the store again and again.
    assert notifier.waits == [(2, 7.5)]


async def test_a_stream_starts_after_the_sequence_asked_for_in_batches() -> None:
    notifier = _RecordingNotifier()
    core = ReservationService(MemoryStore(), notifier=notifier)
    created = await core.create_reservation(draft())
    await core.modify_reservation(created.reservation_id, ReservationChanges(attendees=1))
    await core.check_in_reservation(created.reservation_id)
    received: list[int] = []
    with pytest.raises(_StopStream):
        async for event in core.stream_events("1", batch_size=1):  # type: ignore[arg-type]  # query text
            received.append(event.sequence)
    assert received == [2, 3] and notifier.waits == [(3, 30.0)]


async def test_a_core_without_a_notifier_refuses_to_stream_saying_what_it_needs() -> None:
    with pytest.raises(RuntimeError, match="^stream_events needs an EventNotifier$"):
        ReservationService(MemoryStore()).stream_events(0)


async def test_a_stream_without_a_start_begins_with_the_first_event() -> None:
    notifier = _RecordingNotifier()
    core = ReservationService(MemoryStore(), notifier=notifier)
    await core.create_reservation(draft())
    received: list[int] = []
    with pytest.raises(_StopStream):
        async for event in core.stream_events():
            received.append(event.sequence)
    assert received == [1]


# -- every read, by who may make it ----------------------------------------------------------------


async def test_a_reader_makes_every_read_and_an_anonymous_caller_only_those_of_rooms(
    service: ReservationService,
) -> None:
    from services.core.access import ANONYMOUS
    from services.core.errors import Unauthenticated
    from tests.unit.test_access import READER

    created = await service.create_reservation(draft())
    reader = service.acting_as(READER)
    assert (await reader.get_room("room-b")).capacity == 8
    assert list(await reader.get_rooms(["room-b"])) == ["room-b"]
    assert await reader.get_reservation(created.reservation_id) == created
    assert (await reader.search_reservations(ReservationQuery(), offset=0, limit=5))[1] == 1
    assert [e.sequence for e in await reader.watch_events(0)] == [1]
    assert await reader.last_event_sequence() == 1
    for write in (
        reader.modify_reservation(created.reservation_id, ReservationChanges(attendees=1)),
        reader.cancel_reservation(created.reservation_id),
        reader.check_in_reservation(created.reservation_id),
    ):
        with pytest.raises(Forbidden) as caught:
            await write
        assert caught.value.field == "reservations:write"

    anonymous = service.acting_as(ANONYMOUS.at("198.51.100.7"))
    assert (await anonymous.get_room("room-b")).room_id == "room-b"
    assert list(await anonymous.get_rooms(["room-a"])) == ["room-a"]
    for read in (
        anonymous.watch_events(0),
        anonymous.last_event_sequence(),
        anonymous.search_reservations(ReservationQuery(), offset=0, limit=5),
        anonymous.list_reservations(ReservationQuery()),
    ):
        with pytest.raises(Unauthenticated):
            await read
