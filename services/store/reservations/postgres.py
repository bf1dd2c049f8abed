"""PostgreSQL store, for several processes sharing one database (the compose topology).

Every unit of work borrows one pooled connection and runs one READ COMMITTED transaction.
The rules the embedded stores get from a single writer hold here in the database itself:

- **No double booking**: the core checks for overlaps first (the fast path, and the error it
  reports); the ``reservations_no_overlap`` exclusion constraint (btree_gist) is the guarantee
  when two processes race past that check. It surfaces as the core's ``ReservationConflict``.
- **No lost update**: ``update`` is a compare-and-set on the version the unit of work read;
  if another transaction changed the reservation first, it raises ``VersionMismatch``.
- **Events commit in sequence order**: see ``_Events``.
- **One result per idempotency key**: ``idempotency.get`` takes a transaction-scoped advisory
  lock on the key, so a concurrent retry waits for the first attempt and then replays it.

The schema is versioned (``pg_migrations``) and upgraded in place at ``open()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import errors, sql
from psycopg.pq import TransactionStatus
from psycopg.types.json import Json
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool

from services.core.errors import ReservationConflict, ReservationNotFound, VersionMismatch
from services.core.model import SEED_ROOMS, Event, Reservation, Room
from services.core.ports import IdempotencyRecord, ReservationFilter, SortKey, StoreUnavailable
from services.core.validation import search_key
from services.store._sql import (
    COLUMNS,
    MIGRATION_LOCK,
    WRITE_COLUMNS,
    check_schema,
    connect_kwargs,
    events_channel,
    filter_clause,
    order_clause,
    reservation_from_row,
    reservation_values,
)
from services.store.reservations.pg_migrations import LATEST_VERSION, MIGRATIONS, SEARCH_KEY_VERSION
from services.store.reservations.pg_notifier import PgNotifier

NO_OVERLAP = "reservations_no_overlap"
_NOT_IN_TRANSACTION = (TransactionStatus.IDLE, TransactionStatus.UNKNOWN)


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # The domain keeps dates and times as ISO strings: take PostgreSQL's text as it comes.
    conn.adapters.register_loader("date", TextLoader)
    conn.adapters.register_loader("time", TextLoader)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _as_is(moment: datetime) -> datetime:
    return moment


def _reservation(row: Sequence[Any]) -> Reservation:
    return reservation_from_row(row, _utc)


def _values(r: Reservation) -> tuple[Any, ...]:
    return reservation_values(r, _as_is)


def _conflict(r: Reservation) -> ReservationConflict:
    return ReservationConflict(
        params={"roomId": r.room_id, "date": r.date, "startTime": r.start_time, "endTime": r.end_time}
    )


_INSERT_RESERVATION = f"INSERT INTO reservations ({WRITE_COLUMNS}) VALUES ({', '.join(['%s'] * 15)})"
_UPDATE_RESERVATION = (
    "UPDATE reservations SET "
    + ", ".join(f"{name} = %s" for name in WRITE_COLUMNS.split(", ")[1:])
    + " WHERE reservation_id = %s AND version = %s"
)
_APPEND_EVENT = """
WITH head AS (
    UPDATE event_head SET last_sequence = last_sequence + 1 RETURNING last_sequence
), appended AS (
    INSERT INTO events (sequence, event_id, type, occurred_at, data)
    SELECT last_sequence, %s, %s, %s, %s FROM head
    RETURNING sequence
)
SELECT sequence, pg_notify(%s, sequence::text) FROM appended
"""
_READ_AFTER = """
SELECT h.last_sequence, e.sequence, e.event_id, e.type, e.occurred_at, e.data
FROM event_head h LEFT JOIN LATERAL (
    SELECT sequence, event_id, type, occurred_at, data FROM events
    WHERE sequence > %s {types} ORDER BY sequence LIMIT %s
) e ON true
ORDER BY e.sequence
"""
_READ_AFTER_ALL = _READ_AFTER.format(types="")
_READ_AFTER_TYPES = _READ_AFTER.format(types="AND type = ANY(%s)")


class _Rooms:
    def __init__(self, uow: PostgresUnitOfWork) -> None:
        self._uow = uow

    async def get(self, room_id: str) -> Room | None:
        cur = await self._uow.connection.execute(
            "SELECT room_id, name, capacity, location FROM rooms WHERE room_id = %s", (room_id,)
        )
        row = await cur.fetchone()
        return Room(*row) if row else None

    async def get_many(self, room_ids: Iterable[str]) -> dict[str, Room]:
        ids = list(dict.fromkeys(room_ids))
        if not ids:
            return {}
        cur = await self._uow.connection.execute(
            "SELECT room_id, name, capacity, location FROM rooms WHERE room_id = ANY(%s)", (ids,)
        )
        return {row[0]: Room(*row) for row in await cur.fetchall()}

    async def list(self) -> list[Room]:
        cur = await self._uow.connection.execute(
            "SELECT room_id, name, capacity, location FROM rooms ORDER BY room_id"
        )
        return [Room(*row) for row in await cur.fetchall()]

    async def add(self, room: Room) -> None:
        await self._uow.connection.execute(
            "INSERT INTO rooms VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (room.room_id, room.name, room.capacity, room.location),
        )


class _Reservations:
    def __init__(self, uow: PostgresUnitOfWork) -> None:
        self._uow = uow

    async def get(self, reservation_id: str) -> Reservation | None:
        cur = await self._uow.connection.execute(
            f"SELECT {COLUMNS} FROM reservations WHERE reservation_id = %s", (reservation_id,)
        )
        row = await cur.fetchone()
        return _reservation(row) if row else None

    async def add(self, reservation: Reservation) -> None:
        try:
            await self._uow.connection.execute(_INSERT_RESERVATION, _values(reservation))
        except errors.ExclusionViolation as exc:
            if exc.diag.constraint_name != NO_OVERLAP:
                raise
            raise _conflict(reservation) from None

    async def update(self, reservation: Reservation) -> None:
        """Write the new state if the stored one is still the version it was derived from."""
        values = _values(reservation)
        conn = self._uow.connection
        try:
            cur = await conn.execute(_UPDATE_RESERVATION, (*values[1:], values[0], reservation.version - 1))
        except errors.ExclusionViolation as exc:
            if exc.diag.constraint_name != NO_OVERLAP:
                raise
            raise _conflict(reservation) from None
        if cur.rowcount == 1:
            return
        cur = await conn.execute(
            "SELECT version FROM reservations WHERE reservation_id = %s", (reservation.reservation_id,)
        )
        row = await cur.fetchone()
        if row is None:
            raise ReservationNotFound(params={"reservationId": reservation.reservation_id})
        raise VersionMismatch(params={"expected": reservation.version - 1, "actual": row[0]})

    async def overlapping(
        self, room_id: str, date: str, start_time: str, end_time: str, exclude_id: str | None
    ) -> list[Reservation]:
        """The overlaps, read under the room's row lock: writers of one room queue here.

        Without it, two transactions inserting conflicting rows each wait for the other inside
        the exclusion constraint's check and PostgreSQL aborts one with "deadlock detected"
        instead of RESERVATION_CONFLICT. The constraint stays the guarantee; the lock makes
        the core's check see every committed booking of the room first.
        """
        conn = self._uow.connection
        await conn.execute("SELECT 1 FROM rooms WHERE room_id = %s FOR UPDATE", (room_id,))
        cur = await conn.execute(
            f"SELECT {COLUMNS} FROM reservations WHERE room_id = %s AND date = %s "
            "AND status <> 'CANCELED' AND start_time < %s AND %s < end_time AND reservation_id <> %s",
            (room_id, date, end_time, start_time, exclude_id or ""),
        )
        return [_reservation(row) for row in await cur.fetchall()]

    async def search(
        self, filters: ReservationFilter, sort: Sequence[SortKey], offset: int, limit: int
    ) -> tuple[list[Reservation], int]:
        where, params = filter_clause(filters, "%s")
        conn = self._uow.connection
        # One round trip in the usual case: the total rides along with the page.
        cur = await conn.execute(
            f"SELECT {COLUMNS}, count(*) OVER () FROM reservations{where}{order_clause(sort)} "
            "LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        rows = await cur.fetchall()
        if rows:
            return [_reservation(row) for row in rows], rows[0][14]
        if offset == 0:
            return [], 0
        cur = await conn.execute(f"SELECT count(*) FROM reservations{where}", params)
        row = await cur.fetchone()
        return [], row[0] if row else 0


class _Events:
    """The event log: ``sequence`` strictly increasing, gapless, and committed in order.

    A bigserial would hand out 7 then 8 to two concurrent transactions that may commit 8
    first; a reader at ``after=6`` would then see 8, move its cursor to 8 and skip 7 forever.
    So ``append`` takes the next sequence by updating the single ``event_head`` row: the row
    lock is held until commit, so the next appender waits, reads the committed head and
    commits after it. Whoever sees sequence N therefore sees every sequence below N. The
    price is that event-appending transactions serialize from their append to their commit,
    which the core keeps short (the append is the last write of a change). A transaction that
    rolls back releases the head unchanged, so the log has no gaps.

    ``append`` also issues ``pg_notify(channel, '<sequence>')``, delivered on commit to every
    ``PgNotifier`` listening on the store's channel.
    """

    def __init__(self, uow: PostgresUnitOfWork) -> None:
        self._uow = uow
        self._horizon: int | None = None

    async def append(self, event_id: str, type: str, occurred_at: datetime, data: dict[str, Any]) -> Event:
        self._horizon = None
        cur = await self._uow.connection.execute(
            _APPEND_EVENT, (event_id, type, occurred_at, Json(data), self._uow.channel)
        )
        row = await cur.fetchone()
        assert row is not None
        return Event(event_id, row[0], type, occurred_at, data)

    async def read_after(self, after: int, types: Sequence[str] | None, limit: int) -> list[Event]:
        """Events after ``after``; the head is read in the same statement (same snapshot), so a
        following ``last_sequence`` in this unit of work cannot run ahead of what was read."""
        if types:
            cur = await self._uow.connection.execute(_READ_AFTER_TYPES, (after, list(types), limit))
        else:
            cur = await self._uow.connection.execute(_READ_AFTER_ALL, (after, limit))
        rows = await cur.fetchall()
        self._horizon = rows[0][0] if rows else 0
        return [Event(r[2], r[1], r[3], r[4].astimezone(UTC), r[5]) for r in rows if r[1] is not None]

    async def last_sequence(self) -> int:
        if self._horizon is not None:
            return self._horizon
        cur = await self._uow.connection.execute("SELECT last_sequence FROM event_head")
        row = await cur.fetchone()
        return int(row[0]) if row else 0


class _Idempotency:
    def __init__(self, uow: PostgresUnitOfWork) -> None:
        self._uow = uow

    async def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        conn = self._uow.connection
        # Held until the unit of work ends: a concurrent retry with this key waits, then replays.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{scope}:{key}",))
        cur = await conn.execute(
            "SELECT fingerprint, response FROM idempotency_keys WHERE scope = %s AND key = %s", (scope, key)
        )
        row = await cur.fetchone()
        return IdempotencyRecord(scope, key, row[0], row[1]) if row else None

    async def put(self, record: IdempotencyRecord) -> None:
        await self._uow.connection.execute(
            "INSERT INTO idempotency_keys VALUES (%s, %s, %s, %s)",
            (record.scope, record.key, record.fingerprint, Json(record.response)),
        )


class PostgresUnitOfWork:
    """One pooled connection, one transaction: committed by ``commit()``, else rolled back."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._committing = False
        self.channel = store.channel
        self.rooms = _Rooms(self)
        self.reservations = _Reservations(self)
        self.events = _Events(self)
        self.idempotency = _Idempotency(self)

    @property
    def connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open (use `async with`)")
        return self._conn

    async def __aenter__(self) -> Self:
        self._committing = False
        try:
            self._conn = await self._store.pool.getconn()
        except psycopg.OperationalError as exc:  # includes the pool's timeout: no server to talk to
            raise StoreUnavailable(str(exc)) from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not conn.broken and conn.info.transaction_status not in _NOT_IN_TRANSACTION:
                await conn.rollback()
        except psycopg.OperationalError:
            if exc is None:
                raise
        finally:
            await self._store.pool.putconn(conn)  # a broken connection is discarded by the pool
        # The server went away (e.g. PostgreSQL restarting) before this unit of work committed:
        # nothing was written, so the core may run it again. A lost COMMIT is left as it is.
        if isinstance(exc, psycopg.OperationalError) and conn.broken and not self._committing:
            raise StoreUnavailable(str(exc)) from exc

    async def commit(self) -> None:
        self._committing = True
        await self.connection.commit()


class PostgresStore:
    """The core's ``Store`` over PostgreSQL (psycopg 3, async pool).

    ``schema`` puts every table in that schema (created if missing) via the search_path, so
    tests can isolate themselves in a fresh schema and drop it afterwards.
    """

    def __init__(
        self,
        dsn: str,
        rooms: Iterable[Room] = SEED_ROOMS,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        self.dsn = dsn
        self.schema = check_schema(schema)
        self.channel = events_channel(schema)
        self._rooms = tuple(rooms)
        self._min_size = min_size
        self._max_size = max_size
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    @property
    def pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            raise RuntimeError("PostgresStore.open() was not called")
        return self._pool

    def unit_of_work(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self)

    def notifier(self) -> PgNotifier:
        """A ``PgNotifier`` listening on this store's channel (start it, stop it)."""
        return PgNotifier(self.dsn, schema=self.schema)

    async def open(self) -> None:
        if self._pool is not None:
            return
        await self.migrate()
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self.dsn,
            kwargs=connect_kwargs(self.schema),
            min_size=self._min_size,
            max_size=self._max_size,
            open=False,
            configure=_configure,
            # A connection the server closed while it sat in the pool (PostgreSQL restarted) is
            # replaced at checkout instead of failing the request that borrowed it; while the
            # server is down, checkout waits for it (up to the pool's timeout) rather than fail.
            check=AsyncConnectionPool.check_connection,
            name=f"rosetta-{self.schema or 'public'}",
        )
        await pool.open(wait=True, timeout=30.0)
        self._pool = pool

    async def migrate(self, target: int = LATEST_VERSION) -> int:
        """Apply the migrations up to ``target`` that the database lacks; return its version.

        A transaction-scoped ``pg_advisory_xact_lock`` serializes every migrator of the
        database (two processes starting together, or stores of several schemas creating the
        extension), and is released even if this process dies mid-way.
        """
        async with await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, prepare_threshold=None, **connect_kwargs(self.schema)
        ) as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                if self.schema is not None:
                    await conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                    )
                extension_schema = await _btree_gist_schema(conn)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
                row = await cur.fetchone()
                current = int(row[0]) if row else 0
                for version in range(current + 1, target + 1):
                    await conn.execute(
                        sql.SQL(MIGRATIONS[version]).format(ext=sql.Identifier(extension_schema))
                    )
                    if version == SEARCH_KEY_VERSION:
                        await _backfill_search_keys(conn)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                if self._rooms:
                    async with conn.cursor() as cur:
                        await cur.executemany(
                            "INSERT INTO rooms VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            [(r.room_id, r.name, r.capacity, r.location) for r in self._rooms],
                        )
                return max(current, target)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def ping(self) -> None:
        async with self.pool.connection(timeout=5.0) as conn:
            await conn.execute("SELECT 1")


async def _backfill_search_keys(conn: psycopg.AsyncConnection[Any]) -> None:
    """Fill ``guest_search`` of rows written before it existed (the core computes the key, in Python)."""
    cur = await conn.execute("SELECT reservation_id, guest_name FROM reservations")
    rows = await cur.fetchall()
    if rows:
        async with conn.cursor() as update:
            await update.executemany(
                "UPDATE reservations SET guest_search = %s WHERE reservation_id = %s",
                [(search_key(name), reservation_id) for reservation_id, name in rows],
            )


async def _btree_gist_schema(conn: psycopg.AsyncConnection[Any]) -> str:
    """The schema of the btree_gist extension, created in ``public`` if the database lacks it
    (a trusted extension since PostgreSQL 13: the database owner may create it)."""
    query = (
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'btree_gist'"
    )
    row = await (await conn.execute(query)).fetchone()
    if row is None:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
        row = await (await conn.execute(query)).fetchone()
        assert row is not None
    return str(row[0])
