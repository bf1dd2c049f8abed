"""The PostgreSQL store: the core's rules over it, and the guarantees the database itself enforces.

Every test works in a fresh schema of the local database (``ROSETTA_TEST_PG_DSN``, default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards (``conftest.py``). Several
processes, LISTEN/NOTIFY and restarts are in ``test_postgres_processes.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.core.errors import (
    IdempotencyKeyReused,
    InvalidProperty,
    ReservationConflict,
    VersionMismatch,
)
from services.core.model import (
    Reservation,
    ReservationChanges,
    ReservationQuery,
    ReservationStatus,
)
from services.core.service import ReservationService
from services.store.reservations.pg_migrations import LATEST_VERSION
from services.store.reservations.postgres import PostgresStore
from tests.store.conftest import DSN, NOW, reservation, sql_rows, until
from tests.support.drafts import draft

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
