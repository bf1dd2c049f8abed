"""What the PostgreSQL store tests share: a fresh schema per test, a store and a core over it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from services.core.events import InProcessNotifier
from services.core.model import (
    Reservation,
    ReservationStatus,
)
from services.core.service import ReservationService
from services.store.reservations.postgres import PostgresStore
from tests.support.postgres import fresh_schema

DSN = os.environ.get("ROSETTA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 23, 15, 56, 11, 123000, tzinfo=UTC)


def reservation(reservation_id: str, **overrides: object) -> Reservation:
    values: dict[str, Any] = {
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
    return Reservation(**values)


def sql_rows(query: str, schema: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(DSN, autocommit=True, options=f"-c search_path={schema}") as conn:
        return conn.execute(query, params or None).fetchall()


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh, empty schema for one test, dropped with everything in it afterwards."""
    with fresh_schema() as name:
        yield name


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
