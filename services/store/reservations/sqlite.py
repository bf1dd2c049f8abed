"""SQLite store, the embedded default: one file, WAL, real transactions.

Every unit of work is one ``BEGIN IMMEDIATE`` transaction: SQLite takes its write lock at
the start, so a check-then-insert (the overlap rule) cannot interleave with another writer,
even one in another process. Inside this process an asyncio.Lock hands the one connection
to one unit of work at a time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from services.core.model import (
    SEED_ROOMS,
    Event,
    Reservation,
    Room,
    format_timestamp,
    parse_timestamp,
)
from services.core.ports import IdempotencyRecord, ReservationFilter, SortKey
from services.core.validation import search_key
from services.store._sql import (
    COLUMNS,
    WRITE_COLUMNS,
    filter_clause,
    order_clause,
    reservation_from_row,
    reservation_values,
)

SCHEMA_VERSION = 3

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE rooms (
        room_id   TEXT PRIMARY KEY,
        name      TEXT NOT NULL,
        capacity  INTEGER NOT NULL CHECK (capacity >= 1),
        location  TEXT NOT NULL
    );
    CREATE TABLE reservations (
        reservation_id TEXT PRIMARY KEY,
        room_id        TEXT NOT NULL REFERENCES rooms(room_id),
        guest_name     TEXT NOT NULL,
        date           TEXT NOT NULL,
        start_time     TEXT NOT NULL,
        end_time       TEXT NOT NULL,
        attendees      INTEGER NOT NULL,
        purpose        TEXT,
        status         TEXT NOT NULL,
        cancel_reason  TEXT,
        version        INTEGER NOT NULL,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE INDEX reservations_room_date ON reservations (room_id, date);
    CREATE INDEX reservations_date_start ON reservations (date, start_time);
    CREATE TABLE events (
        sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id    TEXT NOT NULL UNIQUE,
        type        TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        data        TEXT NOT NULL
    );
    CREATE TABLE idempotency_keys (
        scope       TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response    TEXT NOT NULL,
        PRIMARY KEY (scope, key)
    );
    """,
    2: """
    -- The client that created a reservation (ownership): NULL when created with authentication off.
    ALTER TABLE reservations ADD COLUMN owner TEXT;
    """,
    # Search that works in every language: the name's search key (NFC, case-folded), computed in Python
    # by the core's search_key so memory, SQLite and PostgreSQL find the same reservations.
    3: """
    ALTER TABLE reservations ADD COLUMN guest_search TEXT NOT NULL DEFAULT '';
    UPDATE reservations SET guest_search = rosetta_search_key(guest_name);
    """,
}


def _reservation(row: sqlite3.Row | tuple[Any, ...]) -> Reservation:
    return reservation_from_row(row, parse_timestamp)


def _values(r: Reservation) -> tuple[Any, ...]:
    return reservation_values(r, format_timestamp)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(
        sequence=row[0],
        event_id=row[1],
        type=row[2],
        occurred_at=parse_timestamp(row[3]),
        data=json.loads(row[4]),
    )


class _Rooms:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def get(self, room_id: str) -> Room | None:
        row = self._db.execute(
            "SELECT room_id, name, capacity, location FROM rooms WHERE room_id = ?", (room_id,)
        ).fetchone()
        return Room(*row) if row else None

    async def get_many(self, room_ids: Iterable[str]) -> dict[str, Room]:
        ids = list(dict.fromkeys(room_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self._db.execute(
            f"SELECT room_id, name, capacity, location FROM rooms WHERE room_id IN ({marks})", ids
        ).fetchall()
        return {row[0]: Room(*row) for row in rows}

    async def list(self) -> list[Room]:
        rows = self._db.execute(
            "SELECT room_id, name, capacity, location FROM rooms ORDER BY room_id"
        ).fetchall()
        return [Room(*row) for row in rows]

    async def add(self, room: Room) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO rooms VALUES (?, ?, ?, ?)",
            (room.room_id, room.name, room.capacity, room.location),
        )


class _Reservations:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def get(self, reservation_id: str) -> Reservation | None:
        row = self._db.execute(
            f"SELECT {COLUMNS} FROM reservations WHERE reservation_id = ?", (reservation_id,)
        ).fetchone()
        return _reservation(row) if row else None

    async def add(self, reservation: Reservation) -> None:
        self._db.execute(
            f"INSERT INTO reservations ({WRITE_COLUMNS}) VALUES ({', '.join('?' * 15)})", _values(reservation)
        )

    async def update(self, reservation: Reservation) -> None:
        names = WRITE_COLUMNS.split(", ")[1:]
        assignments = ", ".join(f"{name} = ?" for name in names)
        values = _values(reservation)
        self._db.execute(
            f"UPDATE reservations SET {assignments} WHERE reservation_id = ?", (*values[1:], values[0])
        )

    async def overlapping(
        self, room_id: str, date: str, start_time: str, end_time: str, exclude_id: str | None
    ) -> list[Reservation]:
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM reservations WHERE room_id = ? AND date = ? AND status != 'CANCELED' "
            "AND start_time < ? AND ? < end_time AND reservation_id != ?",
            (room_id, date, end_time, start_time, exclude_id or ""),
        ).fetchall()
        return [_reservation(row) for row in rows]

    async def search(
        self, filters: ReservationFilter, sort: Sequence[SortKey], offset: int, limit: int
    ) -> tuple[list[Reservation], int]:
        where, params = filter_clause(filters)
        total = self._db.execute(f"SELECT count(*) FROM reservations{where}", params).fetchone()[0]
        if offset >= total:
            return [], total
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM reservations{where}{order_clause(sort)} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [_reservation(row) for row in rows], total


class _Events:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def append(self, event_id: str, type: str, occurred_at: datetime, data: dict[str, Any]) -> Event:
        cursor = self._db.execute(
            "INSERT INTO events (event_id, type, occurred_at, data) VALUES (?, ?, ?, ?)",
            (event_id, type, format_timestamp(occurred_at), json.dumps(data, separators=(",", ":"))),
        )
        assert cursor.lastrowid is not None
        return Event(event_id, cursor.lastrowid, type, occurred_at, data)

    async def read_after(self, after: int, types: Sequence[str] | None, limit: int) -> list[Event]:
        sql = "SELECT sequence, event_id, type, occurred_at, data FROM events WHERE sequence > ?"
        params: list[Any] = [after]
        if types:
            sql += f" AND type IN ({', '.join('?' for _ in types)})"
            params.extend(types)
        rows = self._db.execute(sql + " ORDER BY sequence LIMIT ?", [*params, limit]).fetchall()
        return [_event(row) for row in rows]

    async def last_sequence(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(sequence), 0) FROM events").fetchone()[0])


class _Idempotency:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = self._db.execute(
            "SELECT fingerprint, response FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, key)
        ).fetchone()
        return IdempotencyRecord(scope, key, row[0], json.loads(row[1])) if row else None

    async def put(self, record: IdempotencyRecord) -> None:
        self._db.execute(
            "INSERT INTO idempotency_keys VALUES (?, ?, ?, ?)",
            (record.scope, record.key, record.fingerprint, json.dumps(record.response)),
        )


class SqliteUnitOfWork:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        db = store.connection
        self._db = db
        self.rooms = _Rooms(db)
        self.reservations = _Reservations(db)
        self.events = _Events(db)
        self.idempotency = _Idempotency(db)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store.lock.release()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        finally:
            self._store.lock.release()

    async def commit(self) -> None:
        self._db.execute("COMMIT")


class SqliteStore:
    def __init__(self, path: str | Path, rooms: Iterable[Room] = SEED_ROOMS) -> None:
        self.path = str(path)
        self._rooms = tuple(rooms)
        self._connection: sqlite3.Connection | None = None
        self.lock = asyncio.Lock()

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("SqliteStore.open() was not called")
        return self._connection

    def unit_of_work(self) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self)

    async def open(self) -> None:
        if self._connection is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
        db.create_function("rosetta_search_key", 1, search_key, deterministic=True)
        try:
            self._migrate(db)
        except BaseException:
            db.close()  # a later open() retries instead of running without the schema
            raise
        self._connection = db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")  # serializes two processes migrating the same file
        try:
            current = db.execute("PRAGMA user_version").fetchone()[0]
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")
            for room in self._rooms:
                db.execute(
                    "INSERT OR IGNORE INTO rooms VALUES (?, ?, ?, ?)",
                    (room.room_id, room.name, room.capacity, room.location),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def ping(self) -> None:
        self.connection.execute("SELECT 1").fetchone()
