"""The SQLite store: durable across restarts, safe across processes, all-or-nothing per unit of work."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.core.errors import ReservationConflict
from services.core.model import ReservationChanges, ReservationDraft
from services.core.service import ReservationService
from services.store import SqliteStore, open_store
from services.store.reservations.memory import MemoryStore

DRAFT = ReservationDraft("room-a", "Ada", "2026-12-24", "14:00", "15:00", 2, None)
DRAFT_TIME = datetime(2026, 1, 1, tzinfo=UTC)


async def test_reservations_and_the_event_sequence_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "data" / "rosetta.db"
    store = SqliteStore(path)
    await store.open()
    service = ReservationService(store)
    created = await service.create_reservation(DRAFT)
    modified = await service.modify_reservation(created.reservation_id, ReservationChanges(attendees=1))
    await store.close()

    reopened = SqliteStore(path)
    await reopened.open()
    service = ReservationService(reopened)
    assert await service.get_reservation(created.reservation_id) == modified
    await service.check_in_reservation(created.reservation_id)
    assert [e.sequence for e in await service.watch_events(0)] == [1, 2, 3]
    assert len(await service.list_rooms()) == 4  # seeding twice adds nothing
    await reopened.close()


async def test_a_failed_unit_of_work_leaves_nothing_behind(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    await store.open()
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as uow:
            await uow.events.append("evt_1", "reservation.created", DRAFT_TIME, {})
            raise RuntimeError("boom")
    async with store.unit_of_work() as uow:
        assert await uow.events.last_sequence() == 0
    await store.close()


def _create_in_another_process(path: str, guest: str, results: multiprocessing.Queue[str]) -> None:
    async def attempt() -> str:
        store = SqliteStore(path)
        await store.open()
        try:
            await ReservationService(store).create_reservation(
                ReservationDraft("room-a", guest, "2026-12-24", "14:00", "15:00", 2, None)
            )
            return "created"
        except ReservationConflict:
            return "conflict"
        finally:
            await store.close()

    results.put(asyncio.run(attempt()))


def test_two_processes_cannot_book_the_same_slot(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    asyncio.run(_prepare(path))
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[str] = context.Queue()
    workers = [
        context.Process(target=_create_in_another_process, args=(path, f"guest {i}", results))
        for i in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert outcomes == ["conflict"] * 5 + ["created"]


async def _prepare(path: str) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.close()


def test_open_store_understands_the_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    sqlite = open_store(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(sqlite, SqliteStore) and sqlite.path == f"{tmp_path}/a.db"
    with pytest.raises(ValueError, match="unsupported store"):
        open_store("mysql://nope")


def test_postgres_urls_may_name_a_schema() -> None:
    from services.store import split_schema

    assert split_schema("postgresql://u@h:5432/db?schema=demo&sslmode=disable") == (
        "postgresql://u@h:5432/db?sslmode=disable",
        "demo",
    )
    assert split_schema("postgresql://u@h/db") == ("postgresql://u@h/db", None)
