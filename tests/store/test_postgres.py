"""The PostgreSQL store and its LISTEN/NOTIFY notifier: the core's rules, held across processes.

Every test works in a fresh schema of the local database (``ROSETTA_TEST_PG_DSN``, default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier

import psycopg
import pytest

from services.core.errors import (
    IdempotencyKeyReused,
    InvalidProperty,
    ReservationConflict,
    VersionMismatch,
)
from services.core.events import InProcessNotifier
from services.core.model import (
    Event,
    Reservation,
    ReservationChanges,
    ReservationQuery,
    ReservationStatus,
)
from services.core.ports import StoreUnavailable
from services.core.service import ReservationService
from services.store import open_store
from services.store.reservations.pg_migrations import LATEST_VERSION
from services.store.reservations.pg_notifier import PgNotifier
from services.store.reservations.postgres import PostgresStore
from tests.support.drafts import draft

DSN = os.environ.get("ROSETTA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 23, 15, 56, 11, 123000, tzinfo=UTC)


def reservation(reservation_id: str, **overrides: object) -> Reservation:
    values: dict[str, object] = {
        "reservation_id": reservation_id,
        "room_id": "room-a",
        "guest_name": "Ada",
        "date": "2026-12-24",
        "start_time": "14:00",
        "end_time": "15:00",
        "attendees": 2,
        "purpose": None,
        "status": ReservationStatus.RESERVED,
        "cancel_reason": None,
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return Reservation(**values)  # type: ignore[arg-type]


def sql_rows(query: str, schema: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(DSN, autocommit=True, options=f"-c search_path={schema}") as conn:
        return conn.execute(query, params or None).fetchall()


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh, empty schema for one test, dropped with everything in it afterwards."""
    name = f"rosetta_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
async def store(schema: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(DSN, schema=schema)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def service(store: PostgresStore) -> ReservationService:
    return ReservationService(store, notifier=InProcessNotifier())


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Await a condition the database reports (e.g. "that backend is waiting on a lock")."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.01)


# -- the core's rules over this store ---------------------------------------------------


async def test_create_then_get_returns_the_same_reservation_to_the_millisecond(
    service: ReservationService,
) -> None:
    created = await service.create_reservation(draft())
    assert created.created_at.microsecond % 1000 == 0
    assert await service.get_reservation(created.reservation_id) == created
    assert [r.room_id for r in await service.list_rooms()] == ["room-a", "room-b", "room-c", "room-d"]
    assert (await service.get_rooms(["room-c", "room-x"])).keys() == {"room-c"}


async def test_overlapping_slots_conflict_but_touching_slots_and_canceled_ones_do_not(
    service: ReservationService,
) -> None:
    first = await service.create_reservation(draft())
    with pytest.raises(ReservationConflict) as caught:
        await service.create_reservation(draft(start_time="09:30", end_time="10:30"))
    assert caught.value.params == {
        "roomId": "room-b",
        "date": "2026-12-01",
        "startTime": "09:30",
        "endTime": "10:30",
    }
    await service.create_reservation(draft(start_time="10:00", end_time="11:00"))  # touching is fine
    await service.create_reservation(draft(room_id="room-c"))  # another room is fine
    await service.cancel_reservation(first.reservation_id, reason="moved")
    await service.create_reservation(draft(start_time="09:00", end_time="09:30"))  # freed by the cancel


async def test_twenty_concurrent_creates_of_one_slot_yield_exactly_one_reservation(schema: str) -> None:
    store = PostgresStore(DSN, schema=schema, min_size=10)  # ten transactions really in flight at once
    await store.open()
    service = ReservationService(store)
    results = await asyncio.gather(
        *(service.create_reservation(draft(guest_name=f"guest {i}")) for i in range(20)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, Reservation)]
    conflicts = [r for r in results if isinstance(r, ReservationConflict)]
    assert len(created) == 1 and len(conflicts) == 19, [repr(r) for r in results]
    assert [e.type for e in await service.watch_events(0)] == ["reservation.created"]
    await store.close()


async def test_idempotent_create_and_cancel_replay_the_first_result(service: ReservationService) -> None:
    first = await service.create_reservation(draft(), idempotency_key="create-1")
    assert await service.create_reservation(draft(), idempotency_key="create-1") == first
    with pytest.raises(IdempotencyKeyReused):
        await service.create_reservation(draft(attendees=2), idempotency_key="create-1")
    canceled = await service.cancel_reservation(first.reservation_id, reason="x", idempotency_key="cancel-1")
    again = await service.cancel_reservation(first.reservation_id, reason="x", idempotency_key="cancel-1")
    assert again == canceled
    with pytest.raises(IdempotencyKeyReused):
        await service.cancel_reservation(first.reservation_id, reason="y", idempotency_key="cancel-1")
    assert [e.type for e in await service.watch_events(0)] == ["reservation.created", "reservation.canceled"]


async def test_concurrent_retries_with_one_key_all_get_the_first_result(service: ReservationService) -> None:
    results = await asyncio.gather(
        *(service.create_reservation(draft(), idempotency_key="retry-me") for _ in range(8))
    )
    assert len({r.reservation_id for r in results}) == 1
    assert all(r == results[0] for r in results)
    assert len(await service.watch_events(0)) == 1


async def test_racing_changes_without_a_version_get_what_a_serial_store_gives(
    service: ReservationService,
) -> None:
    """The store refuses a write based on a stale read; a caller who named no version must not
    see that as VERSION_MISMATCH: the change is re-run on the fresh state."""
    modified = await service.create_reservation(draft())
    # Every value differs from the draft's 3: a change to the current value is no change (no version).
    changes = await asyncio.gather(
        *(
            service.modify_reservation(modified.reservation_id, ReservationChanges(attendees=n))
            for n in (1, 2, 4, 5, 6, 7, 8)
        )
    )
    assert sorted(r.version for r in changes) == list(range(2, 9))
    canceled = await service.create_reservation(draft(room_id="room-c"))
    outcomes = await asyncio.gather(
        *(service.cancel_reservation(canceled.reservation_id) for _ in range(4)), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidStateTransition"] * 3 + ["Reservation"]
    named = await asyncio.gather(  # a named version stays the caller's to check
        *(
            service.modify_reservation(
                modified.reservation_id, ReservationChanges(guest_name=f"named {n}"), expected_version=8
            )
            for n in (1, 2)
        ),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in named) == ["Reservation", "VersionMismatch"]


async def test_list_filters_sorts_and_pages(service: ReservationService) -> None:
    for day, start, guest in [("03", "09:00", "Ann"), ("01", "10:00", "Bob"), ("02", "09:00", "ann_marie%")]:
        await service.create_reservation(
            draft(date=f"2026-12-{day}", start_time=start, end_time="11:00", guest_name=guest)
        )
    page = await service.list_reservations(ReservationQuery(sort="-date", page_size=2))
    assert [r.date for r in page.items] == ["2026-12-03", "2026-12-02"]
    assert (page.total_items, page.total_pages) == (3, 2)
    last = await service.list_reservations(ReservationQuery(sort="-date", page=2, page_size=2))
    assert [r.date for r in last.items] == ["2026-12-01"] and last.total_items == 3
    beyond = await service.list_reservations(ReservationQuery(page=5))
    assert beyond.items == () and beyond.total_items == 3
    named = await service.list_reservations(ReservationQuery(guest_name="ANN"))
    assert sorted(r.guest_name for r in named.items) == ["Ann", "ann_marie%"]
    literal = await service.list_reservations(ReservationQuery(guest_name="_marie%"))  # no wildcards
    assert [r.guest_name for r in literal.items] == ["ann_marie%"]
    window = await service.list_reservations(ReservationQuery(date_from="2026-12-02", date_to="2026-12-02"))
    assert [r.date for r in window.items] == ["2026-12-02"]
    by_start = await service.list_reservations(ReservationQuery(sort="startTime,-date"))
    assert [(r.start_time, r.date) for r in by_start.items] == [
        ("09:00", "2026-12-03"),
        ("09:00", "2026-12-02"),
        ("10:00", "2026-12-01"),
    ]
    rooms = await service.reservations_of_rooms(["room-b", "room-a"])
    assert [r.date for r in rooms["room-b"]] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert rooms["room-a"] == []
    none = await service.list_reservations(ReservationQuery(status="CANCELED"))
    assert none.items == () and none.total_items == 0
    with pytest.raises(InvalidProperty):
        await service.list_reservations(ReservationQuery(sort="name"))


async def test_every_change_appends_one_ordered_event_in_its_transaction(service: ReservationService) -> None:
    created = await service.create_reservation(draft())
    await service.modify_reservation(created.reservation_id, ReservationChanges(attendees=1))
    checked_in = await service.check_in_reservation(created.reservation_id)
    events = await service.watch_events(0)
    assert [(e.sequence, e.type) for e in events] == [
        (1, "reservation.created"),
        (2, "reservation.modified"),
        (3, "reservation.checked_in"),
    ]
    assert events[-1].data == checked_in.to_dict()  # key order and values kept exactly
    assert list(events[-1].data) == list(checked_in.to_dict())
    assert events[-1].occurred_at == checked_in.updated_at
    assert [e.sequence for e in await service.watch_events(1, limit=1)] == [2]
    assert [e.sequence for e in await service.watch_events(0, types=["reservation.checked_in"])] == [3]
    assert await service.last_event_sequence() == 3


async def test_a_failed_unit_of_work_leaves_nothing_behind(store: PostgresStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as uow:
            await uow.reservations.add(reservation("rsv_1"))
            await uow.events.append("evt_1", "reservation.created", NOW, {})
            raise RuntimeError("boom")
    async with store.unit_of_work() as uow:
        assert await uow.events.last_sequence() == 0
        assert await uow.reservations.get("rsv_1") is None
    async with store.unit_of_work() as uow:  # the rolled-back append left no gap
        assert (await uow.events.append("evt_2", "reservation.created", NOW, {})).sequence == 1
        await uow.commit()


async def test_reservations_and_the_event_sequence_survive_a_restart(schema: str) -> None:
    store = PostgresStore(DSN, schema=schema)
    await store.open()
    service = ReservationService(store)
    created = await service.create_reservation(draft())
    modified = await service.modify_reservation(created.reservation_id, ReservationChanges(attendees=1))
    await store.close()

    reopened = PostgresStore(DSN, schema=schema)
    await reopened.open()  # migrations and seeding run again: nothing to do, nothing doubled
    service = ReservationService(reopened)
    assert await service.get_reservation(created.reservation_id) == modified
    await service.check_in_reservation(created.reservation_id)
    assert [e.sequence for e in await service.watch_events(0)] == [1, 2, 3]
    assert len(await service.list_rooms()) == 4
    await reopened.close()
    versions = sql_rows("SELECT version FROM schema_migrations ORDER BY version", schema)
    assert versions == [(v,) for v in range(1, LATEST_VERSION + 1)]


async def test_an_older_database_is_upgraded_in_place_keeping_its_data(schema: str) -> None:
    assert await PostgresStore(DSN, schema=schema).migrate(target=1) == 1
    sql_rows(  # a reservation written by the version-1 schema
        "INSERT INTO reservations VALUES ('rsv_old', 'room-a', 'Old', '2026-01-02', '08:00', '09:00', 1,"
        " NULL, 'RESERVED', NULL, 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z') RETURNING 1",
        schema,
    )
    store = PostgresStore(DSN, schema=schema)
    await store.open()
    old = await ReservationService(store).get_reservation("rsv_old")
    assert (old.guest_name, old.start_time, old.created_at) == (
        "Old",
        "08:00",
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    await store.close()
    indexes = {
        row[0] for row in sql_rows("SELECT indexname FROM pg_indexes WHERE schemaname = %s", schema, schema)
    }
    assert {"reservations_created", "reservations_status"} <= indexes
    assert sql_rows("SELECT max(version) FROM schema_migrations", schema) == [(LATEST_VERSION,)]


async def test_the_owner_is_stored_and_enforced_and_older_rows_have_none(schema: str) -> None:
    from services.core.access import Principal, Scope
    from services.core.errors import Forbidden

    assert await PostgresStore(DSN, schema=schema).migrate(target=2) == 2
    sql_rows(  # written before reservations had an owner
        "INSERT INTO reservations VALUES ('rsv_old', 'room-a', 'Old', '2026-01-02', '08:00', '09:00', 1,"
        " NULL, 'RESERVED', NULL, 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z') RETURNING 1",
        schema,
    )
    store = PostgresStore(DSN, schema=schema)
    await store.open()
    service = ReservationService(store)
    alice = Principal("alice", frozenset({Scope.READ, Scope.WRITE}), via="api-key")
    bob = Principal("bob", frozenset({Scope.READ, Scope.WRITE}), via="jwt")
    assert (await service.get_reservation("rsv_old")).owner is None
    created = await service.acting_as(alice).create_reservation(draft())
    assert sql_rows(
        "SELECT owner FROM reservations WHERE reservation_id = %s", schema, created.reservation_id
    ) == [("alice",)]
    with pytest.raises(Forbidden):
        await service.acting_as(bob).cancel_reservation(created.reservation_id)
    changed = await service.acting_as(alice).modify_reservation(
        created.reservation_id, ReservationChanges(attendees=1)
    )
    page = await service.list_reservations(ReservationQuery())
    assert page.total_items == 2 and {r.owner for r in page.items} == {None, "alice"}
    assert (await service.get_reservation(created.reservation_id)).owner == changed.owner == "alice"
    await store.close()


# -- guarantees the database itself enforces ----------------------------------------------


async def test_the_exclusion_constraint_alone_refuses_an_overlap(store: PostgresStore) -> None:
    """Written straight through the repository, past the core's check-then-insert."""
    async with store.unit_of_work() as uow:
        await uow.reservations.add(reservation("rsv_first"))
        await uow.reservations.add(reservation("rsv_touching", start_time="15:00", end_time="16:00"))
        await uow.reservations.add(
            reservation("rsv_canceled", start_time="14:30", status=ReservationStatus.CANCELED)
        )
        await uow.commit()
    with pytest.raises(ReservationConflict) as caught:
        async with store.unit_of_work() as uow:
            await uow.reservations.add(reservation("rsv_clash", start_time="14:30", end_time="15:30"))
            await uow.commit()
    assert caught.value.params == {
        "roomId": "room-a",
        "date": "2026-12-24",
        "startTime": "14:30",
        "endTime": "15:30",
    }
    with pytest.raises(ReservationConflict):  # moving a reservation onto a taken slot
        async with store.unit_of_work() as uow:
            touching = await uow.reservations.get("rsv_touching")
            assert touching is not None
            await uow.reservations.update(replace(touching, start_time="14:45", version=2))
    with pytest.raises(ReservationConflict):  # reviving a canceled one onto a taken slot
        async with store.unit_of_work() as uow:
            await uow.reservations.update(reservation("rsv_canceled", start_time="14:30", version=2))
    async with store.unit_of_work() as uow:
        assert await uow.reservations.get("rsv_clash") is None


async def test_a_change_based_on_a_stale_read_is_refused_not_lost(store: PostgresStore) -> None:
    async with store.unit_of_work() as uow:
        await uow.reservations.add(reservation("rsv_1"))
        await uow.commit()
    async with store.unit_of_work() as slow, store.unit_of_work() as fast:
        seen_by_slow = await slow.reservations.get("rsv_1")
        seen_by_fast = await fast.reservations.get("rsv_1")
        assert seen_by_slow is not None and seen_by_fast is not None
        await fast.reservations.update(seen_by_fast.modified(NOW, attendees=3))
        await fast.commit()
        with pytest.raises(VersionMismatch) as caught:
            await slow.reservations.update(seen_by_slow.canceled(NOW, "late"))
    assert caught.value.params["actual"] == 2
    async with store.unit_of_work() as uow:
        kept = await uow.reservations.get("rsv_1")
    assert kept is not None and (kept.attendees, kept.status) == (3, ReservationStatus.RESERVED)


async def test_events_commit_in_sequence_order(store: PostgresStore) -> None:
    """A second appender waits for the first to commit, so no reader sees 2 before 1."""
    async with store.unit_of_work() as first, store.unit_of_work() as second:
        assert (await first.events.append("evt_1", "reservation.created", NOW, {})).sequence == 1
        pid = second.connection.info.backend_pid
        appending = asyncio.create_task(second.events.append("evt_2", "reservation.created", NOW, {}))

        async def second_is_blocked() -> bool:
            rows = sql_rows("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", "public", pid)
            return rows == [("Lock",)]

        await until(second_is_blocked)
        assert not appending.done()
        await first.commit()
        assert (await appending).sequence == 2
        await second.commit()
    async with store.unit_of_work() as uow:
        assert [e.event_id for e in await uow.events.read_after(0, None, 10)] == ["evt_1", "evt_2"]


async def test_the_horizon_of_a_read_is_the_snapshot_it_read(store: PostgresStore) -> None:
    """A filtered stream reads nothing, then asks for the last sequence to skip past unwanted
    events: an event committed in between must not be skipped unseen."""
    async with store.unit_of_work() as reader:
        assert await reader.events.read_after(0, ["reservation.created"], 10) == []
        async with store.unit_of_work() as writer:
            await writer.events.append("evt_1", "reservation.created", NOW, {})
            await writer.commit()
        assert await reader.events.last_sequence() == 0
    async with store.unit_of_work() as later:
        assert await later.events.last_sequence() == 1


# -- several processes on one database ----------------------------------------------------


def _open_in_another_process(schema: str, barrier: Barrier, results: multiprocessing.Queue[str]) -> None:
    async def start() -> str:
        store = PostgresStore(DSN, schema=schema)
        await asyncio.to_thread(barrier.wait, 30)
        try:
            await store.open()
            return "opened"
        except Exception as exc:  # reported to the parent, which asserts on it
            return repr(exc)
        finally:
            await store.close()

    results.put(asyncio.run(start()))


def _create_in_another_process(
    schema: str, barrier: Barrier, results: multiprocessing.Queue[list[str]], process: int
) -> None:
    async def attempt(service: ReservationService, guest: str) -> str:
        try:
            await service.create_reservation(draft(guest_name=guest))
            return "created"
        except ReservationConflict:
            return "conflict"

    async def race() -> list[str]:
        store = PostgresStore(DSN, schema=schema)
        await store.open()
        service = ReservationService(store)
        try:
            await asyncio.to_thread(barrier.wait, 30)
            return list(await asyncio.gather(*(attempt(service, f"p{process} g{i}") for i in range(10))))
        finally:
            await store.close()

    results.put(asyncio.run(race()))


def test_two_processes_migrating_a_fresh_schema_together_both_succeed(schema: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results: multiprocessing.Queue[str] = context.Queue()
    workers = [
        context.Process(target=_open_in_another_process, args=(schema, barrier, results)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert outcomes == ["opened", "opened"]
    versions = sql_rows("SELECT version FROM schema_migrations ORDER BY version", schema)
    assert versions == [(v,) for v in range(1, LATEST_VERSION + 1)]
    assert sql_rows("SELECT count(*) FROM rooms", schema) == [(4,)]


def test_twenty_creates_of_one_slot_from_two_processes_yield_exactly_one(schema: str) -> None:
    asyncio.run(PostgresStore(DSN, schema=schema).migrate())
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results: multiprocessing.Queue[list[str]] = context.Queue()
    workers = [
        context.Process(target=_create_in_another_process, args=(schema, barrier, results, n))
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(o for _ in workers for o in results.get(timeout=30))
    for worker in workers:
        worker.join(10)
    assert outcomes == ["conflict"] * 19 + ["created"]
    assert sql_rows("SELECT count(*) FROM reservations", schema) == [(1,)]
    assert sql_rows("SELECT sequence, type FROM events", schema) == [(1, "reservation.created")]


# -- LISTEN/NOTIFY ----------------------------------------------------------------------


class ObservedNotifier(PgNotifier):
    """A PgNotifier that says when a subscriber has started waiting on it."""

    def __init__(self, dsn: str, *, schema: str, reconnect_delay: float = 0.05) -> None:
        super().__init__(dsn, schema=schema, reconnect_delay=reconnect_delay)
        self.waiting = asyncio.Event()

    async def wait_beyond(self, sequence: int, timeout: float | None) -> bool:
        self.waiting.set()
        return await super().wait_beyond(sequence, timeout)


async def _first_streamed_event(service: ReservationService) -> Event:
    async for event in service.stream_events(0, wait_timeout=30.0):
        return event
    raise AssertionError("the stream ended")


async def test_a_commit_through_one_store_wakes_a_stream_on_another_within_a_second(schema: str) -> None:
    """Two stores and two notifiers on one schema: the two processes of a compose deployment."""
    writer_store, reader_store = PostgresStore(DSN, schema=schema), PostgresStore(DSN, schema=schema)
    await writer_store.open()
    await reader_store.open()
    writer_notifier = writer_store.notifier()
    reader_notifier = ObservedNotifier(DSN, schema=schema)
    await writer_notifier.start()
    await reader_notifier.start()
    try:
        writer = ReservationService(writer_store, notifier=writer_notifier)
        reader = ReservationService(reader_store, notifier=reader_notifier)
        consumer = asyncio.create_task(_first_streamed_event(reader))
        await asyncio.wait_for(reader_notifier.waiting.wait(), 5)  # backlog empty: now it sleeps

        created = await writer.create_reservation(draft())
        event = await asyncio.wait_for(consumer, 1.0)
        assert (event.sequence, event.type, event.data) == (1, "reservation.created", created.to_dict())
        assert reader_notifier.latest == 1
        assert await writer_notifier.wait_beyond(0, timeout=0)  # its own commit, known at once
    finally:
        await reader_notifier.stop()
        await writer_notifier.stop()
        await reader_store.close()
        await writer_store.close()


async def test_the_notifier_reconnects_and_catches_up_on_what_it_missed(schema: str) -> None:
    writer_store, reader_store = PostgresStore(DSN, schema=schema), PostgresStore(DSN, schema=schema)
    await writer_store.open()
    await reader_store.open()
    # It waits 0.3 s before reconnecting, so the commit below lands while it is away and only
    # the catch-up read after reconnecting can deliver it.
    reader_notifier = ObservedNotifier(DSN, schema=schema, reconnect_delay=0.3)
    await reader_notifier.start()
    try:
        writer = ReservationService(writer_store, notifier=InProcessNotifier())
        reader = ReservationService(reader_store, notifier=reader_notifier)
        consumer = asyncio.create_task(_first_streamed_event(reader))
        await asyncio.wait_for(reader_notifier.waiting.wait(), 5)
        lost_pid = reader_notifier.backend_pid
        assert sql_rows("SELECT pg_terminate_backend(%s)", schema, lost_pid) == [(True,)]

        created = await writer.create_reservation(draft())
        event = await asyncio.wait_for(consumer, 5.0)
        assert event.data == created.to_dict()
        assert reader_notifier.backend_pid not in (None, lost_pid)
    finally:
        await reader_notifier.stop()
        await reader_store.close()
        await writer_store.close()


async def test_published_wakes_local_waiters_and_a_quiet_wait_times_out() -> None:
    notifier = PgNotifier(DSN)  # never started: local wake-ups need no connection
    assert await notifier.wait_beyond(0, timeout=0.01) is False
    waiter = asyncio.create_task(notifier.wait_beyond(4, timeout=5))
    await asyncio.sleep(0)  # let it start waiting
    notifier.published(3)  # not beyond 4: it wakes, checks and waits again
    await asyncio.sleep(0)
    assert not waiter.done()
    notifier.published(5)
    assert await asyncio.wait_for(waiter, 1) is True
    assert await notifier.wait_beyond(4, timeout=0) is True


def test_open_store_understands_postgresql_urls() -> None:
    opened = open_store(DSN)
    assert isinstance(opened, PostgresStore) and opened.dsn == DSN and opened.channel == "rosetta_events"
    assert isinstance(open_store("postgres://u@h/db"), PostgresStore)
    with pytest.raises(ValueError, match="schema"):
        PostgresStore(DSN, schema="Robert'); DROP TABLE rooms;--")


# -- PostgreSQL restarting -----------------------------------------------------------------


def terminate(pid: int) -> None:
    """What a PostgreSQL restart does to a session (only ours: other tests share the server)."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_a_pooled_connection_the_server_closed_is_replaced_before_a_request_uses_it(
    schema: str,
) -> None:
    store = PostgresStore(DSN, schema=schema, min_size=1, max_size=1)
    await store.open()
    try:
        async with store.pool.connection() as conn:
            pid = conn.info.backend_pid
        terminate(pid)
        service = ReservationService(store, notifier=InProcessNotifier())
        assert (await service.get_room("room-a")).room_id == "room-a"
        async with store.pool.connection() as conn:
            assert conn.info.backend_pid != pid
    finally:
        await store.close()


async def test_a_unit_of_work_that_loses_its_connection_before_committing_says_the_store_is_unavailable(
    store: PostgresStore, schema: str
) -> None:
    with pytest.raises(StoreUnavailable):
        async with store.unit_of_work() as uow:
            terminate(uow.connection.info.backend_pid)
            await uow.rooms.get("room-a")
    # ... which the core answers by running the use case again, on a fresh connection.
    created = await ReservationService(store).create_reservation(draft())
    assert sql_rows("SELECT reservation_id FROM reservations", schema) == [(created.reservation_id,)]


async def test_a_lost_commit_is_not_reported_as_safe_to_run_again(store: PostgresStore) -> None:
    with pytest.raises(psycopg.OperationalError):
        async with store.unit_of_work() as uow:
            await uow.rooms.get("room-a")
            terminate(uow.connection.info.backend_pid)
            await uow.commit()
