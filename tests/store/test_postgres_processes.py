"""The PostgreSQL store across processes: two processes on one database, LISTEN/NOTIFY between
them, and PostgreSQL restarting under a running store (fresh schema per test: ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from multiprocessing.synchronize import Barrier

import psycopg
import pytest

from services.core.errors import (
    ReservationConflict,
)
from services.core.events import InProcessNotifier
from services.core.model import (
    Event,
)
from services.core.ports import StoreUnavailable
from services.core.service import ReservationService
from services.store import open_store
from services.store.reservations.pg_migrations import LATEST_VERSION
from services.store.reservations.pg_notifier import PgNotifier
from services.store.reservations.postgres import PostgresStore
from tests.store.conftest import DSN, sql_rows
from tests.support.drafts import draft

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
    # aclosing: a `return` inside `async for` would leave the stream suspended until the collector ran.
    async with contextlib.aclosing(service.stream_events(0, wait_timeout=30.0)) as events:
        async for event in events:
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
