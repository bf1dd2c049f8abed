"""PostgreSQL implementation of the webhook store port, in the same database and schema as the core's store.

It mirrors ``store.webhooks.sqlite`` (its statements are ``pg_statements.SQL``) and adds what
several dispatcher processes sharing one database need:

- **One attempt at a time per message**: ``claim`` leases due deliveries with ``FOR UPDATE SKIP
  LOCKED`` and re-checks that each is still due, so of two dispatchers reaching for one message
  exactly one gets it and the other moves on without waiting. A lease is a due time in the
  future: a dispatcher that dies mid-attempt leaves its messages due again once the lease ends.
- **Wake-ups across processes**: writes that make work due (new deliveries, replays, re-enabling)
  ``NOTIFY`` the store's channel; an opened store LISTENs and fires its ``WorkSignal``, so a ping
  or replay accepted by a management process wakes the dispatcher of another at once.
- **Creation order from identity columns**, not ``max(position) + 1`` (which races across processes).
- **Its own schema version** in ``webhook_schema_migrations`` (``pg_migrations``), upgraded at open
  under the same advisory lock as the core's migrations (the core's ``schema_migrations`` is left alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from services.core.model import format_timestamp, parse_timestamp
from services.store._sql import (
    MIGRATION_LOCK,
    attempt_from_row,
    check_schema,
    connect_kwargs,
    delivery_from_row,
)
from services.store.webhooks.pg_migrations import LATEST_VERSION, MIGRATIONS
from services.store.webhooks.pg_statements import SQL
from services.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    SigningSecret,
    Subscription,
    SubscriptionHealth,
)
from services.webhooks.ports import WorkSignal

log = logging.getLogger(__name__)

WORK_CHANNEL = "rosetta_hooks"  # + "_<schema>": at most 62 characters, under PostgreSQL's 63


def work_channel(schema: str | None) -> str:
    """The NOTIFY channel of a store's dispatcher work, one per schema like the core's events."""
    return WORK_CHANNEL if schema is None else f"{WORK_CHANNEL}_{schema}"


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        subscription_id=row[0],
        url=row[1],
        event_types=tuple(row[2]),
        description=row[3],
        enabled=row[4],
        disabled_reason=DisabledReason(row[5]) if row[5] else None,
        secrets=tuple(
            SigningSecret(secret, None if expires is None else parse_timestamp(expires))
            for secret, expires in row[6]
        ),
        cursor=row[7],
        failing_since=_utc(row[8]),
        created_at=row[9].astimezone(UTC),
        updated_at=row[10].astimezone(UTC),
    )


def _subscription_fields(s: Subscription) -> tuple[Any, ...]:
    """url … updated_at, in the order of ``SQL.update_subscription`` (the cursor is not among them)."""
    secrets = [
        [secret.secret, None if secret.expires_at is None else format_timestamp(secret.expires_at)]
        for secret in s.secrets
    ]
    return (
        s.url,
        list(s.event_types),
        s.description,
        s.enabled,
        s.disabled_reason.value if s.disabled_reason else None,
        Jsonb(secrets),
        s.failing_since,
        s.updated_at,
    )


def _utc_moment(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _delivery(row: Sequence[Any]) -> Delivery:
    return delivery_from_row(row, _utc_moment)


def _attempt(row: Sequence[Any]) -> Attempt:
    return attempt_from_row(row, _utc_moment)


Connection: TypeAlias = psycopg.AsyncConnection[Any]


class PostgresWebhookStore:
    """A pool of its own (autocommit: one statement is one round trip; several are one explicit
    transaction). ``open()`` also LISTENs for other processes' work; a process that serves only the
    management API may skip it: the first call then migrates and opens the pool without listening."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 8,
        reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 2.0,
    ) -> None:
        self.dsn = dsn
        self.schema = check_schema(schema)
        self.channel = work_channel(schema)
        self.signal = WorkSignal()
        self._token = uuid.uuid4().hex  # marks this store's own NOTIFYs, which its signal already saw
        self._min_size = min_size
        self._max_size = max_size
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._opening = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._listening: Connection | None = None

    @property
    def listener_pid(self) -> int | None:
        """The server process of the LISTEN connection (None while not listening)."""
        conn = self._listening
        return conn.info.backend_pid if conn is not None and not conn.closed else None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        await self._open_pool()
        if self._listener is None:
            conn = await self._listen()
            self._listener = asyncio.get_running_loop().create_task(
                self._wake_on_notifications(conn), name="rosetta-webhook-listener"
            )

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _open_pool(self) -> AsyncConnectionPool[Connection]:
        async with self._opening:
            if self._pool is None:
                await self.migrate()
                pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
                    self.dsn,
                    kwargs={**connect_kwargs(self.schema), "autocommit": True},
                    min_size=self._min_size,
                    max_size=self._max_size,
                    open=False,
                    name=f"rosetta-webhooks-{self.schema or 'public'}",
                )
                await pool.open(wait=True, timeout=30.0)
                self._pool = pool
            return self._pool

    async def migrate(self, target: int = LATEST_VERSION) -> int:
        """Apply the webhook migrations up to ``target`` that the database lacks; return its version.

        The core's advisory lock serializes this with every other migrator of the database (and
        with the core creating the same schema), and is released even if this process dies.
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
                await conn.execute(SQL.schema_table)
                row = await (await conn.execute(SQL.schema_version)).fetchone()
                current = int(row[0]) if row else 0
                for version in range(current + 1, target + 1):
                    await conn.execute(MIGRATIONS[version])
                    await conn.execute(SQL.set_schema_version, (version,))
                return max(current, target)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        pool = self._pool or await self._open_pool()
        async with pool.connection() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        async with self._connection() as conn, conn.transaction():
            yield conn

    async def _fetchone(self, query: str, params: Any = None) -> Any:
        async with self._connection() as conn:
            return await (await conn.execute(query, params)).fetchone()

    async def _fetchall(self, query: str, params: Any = None) -> list[Any]:
        async with self._connection() as conn:
            rows: list[Any] = await (await conn.execute(query, params)).fetchall()
            return rows

    async def _notify(self, conn: Connection) -> None:
        """Wake the dispatchers of other processes when this transaction commits."""
        await conn.execute(SQL.notify, (self.channel, self._token))

    # -- wake-ups from other processes -------------------------------------------------------

    async def _listen(self) -> Connection:
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, prepare_threshold=None, **connect_kwargs(self.schema)
        )
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            await conn.close()
            raise
        self._listening = conn
        return conn

    async def _wake_on_notifications(self, conn: Connection) -> None:
        try:
            while True:
                try:
                    async for notification in conn.notifies():
                        if notification.payload != self._token:
                            self.signal.notify()
                except psycopg.OperationalError as exc:
                    log.warning("webhook work listener lost its connection (%s); reconnecting", exc)
                await conn.close()
                conn = await self._relisten()
                self.signal.notify()  # work may have arrived while nobody listened
        finally:
            self._listening = None
            await conn.close()

    async def _relisten(self) -> Connection:
        delay = self._reconnect_delay
        while True:
            await asyncio.sleep(delay)  # a server that is restarting is not hammered
            try:
                return await self._listen()
            except psycopg.OperationalError as exc:
                log.warning("webhook work listener cannot reconnect (%s); retrying", exc)
                delay = min(delay * 2, self._max_reconnect_delay)

    # -- subscriptions --------------------------------------------------------------------

    async def add_subscription(self, subscription: Subscription) -> None:
        s = subscription
        url, event_types, description, enabled, reason, secrets, failing_since, updated_at = (
            _subscription_fields(s)
        )
        values = (s.subscription_id, url, event_types, description, enabled, reason, secrets, s.cursor)
        async with self._connection() as conn:
            await conn.execute(SQL.insert_subscription, (*values, failing_since, s.created_at, updated_at))

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        row = await self._fetchone(SQL.get_subscription, (subscription_id,))
        return _subscription(row) if row else None

    async def list_subscriptions(self, offset: int, limit: int) -> tuple[list[Subscription], int]:
        rows = await self._fetchall(SQL.list_subscriptions, (limit, offset))
        if rows:
            return [_subscription(row) for row in rows], rows[0][11]
        total = 0 if offset == 0 else (await self._fetchone(SQL.count_subscriptions))[0]
        return [], total

    async def update_subscription(self, subscription: Subscription) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                SQL.update_subscription, (*_subscription_fields(subscription), subscription.subscription_id)
            )
            await self._notify(conn)  # re-enabled: its pending deliveries may go now

    async def delete_subscription(self, subscription_id: str) -> bool:
        async with self._connection() as conn:
            cur = await conn.execute(SQL.delete_subscription, (subscription_id,))
            return bool(cur.rowcount > 0)

    async def cursors(self) -> list[Subscription]:
        return [_subscription(row) for row in await self._fetchall(SQL.all_subscriptions)]

    # -- deliveries -----------------------------------------------------------------------

    async def enqueue(self, deliveries: Sequence[Delivery], cursors: Mapping[str, int]) -> None:
        # Two dispatchers fanning out the same events insert the same rows in the same order
        # (sequence, then subscription), so they queue behind each other rather than deadlock.
        async with self._transaction() as conn:
            if deliveries:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        SQL.insert_delivery,
                        [
                            (
                                d.delivery_id,
                                d.event_id,
                                d.event_type,
                                d.sequence,
                                d.payload,
                                d.status.value,
                                d.attempts,
                                d.total_attempts,
                                d.next_attempt_at,
                                d.created_at,
                                d.updated_at,
                                d.subscription_id,
                            )
                            for d in deliveries
                        ],
                    )
            if cursors:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        SQL.raise_cursor,
                        [
                            (sequence, subscription_id, sequence)
                            for subscription_id, sequence in cursors.items()
                        ],
                    )
            if deliveries:
                await self._notify(conn)

    async def due_deliveries(self, now: datetime, limit: int, per_subscription: int) -> list[Delivery]:
        rows = await self._fetchall(
            SQL.due_deliveries, {"now": now, "per_subscription": per_subscription, "limit": limit}
        )
        return [_delivery(row) for row in rows]

    async def lease(self, delivery_ids: Sequence[str], until: datetime) -> None:
        async with self._connection() as conn:
            await conn.execute(SQL.lease, (until, list(delivery_ids)))

    async def claim(self, delivery_ids: Sequence[str], now: datetime, until: datetime) -> list[str]:
        rows = await self._fetchall(SQL.claim, {"until": until, "ids": list(delivery_ids), "now": now})
        return [row[0] for row in rows]

    async def next_due_at(self) -> datetime | None:
        row = await self._fetchone(SQL.next_due_at)
        return _utc(row[0]) if row else None

    async def record_attempt(self, delivery: Delivery, attempt: Attempt, health: SubscriptionHealth) -> None:
        d, a = delivery, attempt
        async with self._transaction() as conn:
            cur = await conn.execute(
                SQL.update_delivery,
                (
                    d.status.value,
                    d.attempts,
                    d.total_attempts,
                    d.next_attempt_at,
                    d.updated_at,
                    d.delivery_id,
                    a.attempted_at,
                ),
            )
            if not cur.rowcount:
                cur = await conn.execute(SQL.count_attempt, (d.total_attempts, d.delivery_id))
                if not cur.rowcount:
                    return  # deleted with its subscription meanwhile
            await conn.execute(
                SQL.insert_attempt,
                (
                    a.delivery_id,
                    a.number,
                    a.attempted_at,
                    a.status_code,
                    a.latency_ms,
                    a.error,
                    a.response_excerpt,
                ),
            )
            await conn.execute(SQL.set_health, (health.failing_since, d.subscription_id))
            if health.disabled_reason is not None:
                await conn.execute(
                    SQL.disable, (health.disabled_reason.value, a.attempted_at, d.subscription_id)
                )

    async def get_delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        row = await self._fetchone(SQL.get_delivery, (subscription_id, delivery_id))
        return _delivery(row) if row else None

    async def list_deliveries(
        self, subscription_id: str, status: DeliveryStatus | None, offset: int, limit: int
    ) -> tuple[list[Delivery], int]:
        params = {
            "subscription_id": subscription_id,
            "status": None if status is None else status.value,
            "limit": limit,
            "offset": offset,
        }
        rows = await self._fetchall(SQL.list_deliveries, params)
        if rows:
            return [_delivery(row) for row in rows], rows[0][12]
        total = 0 if offset == 0 else (await self._fetchone(SQL.count_deliveries, params))[0]
        return [], total

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        result: dict[str, list[Attempt]] = {delivery_id: [] for delivery_id in delivery_ids}
        if delivery_ids:
            for row in await self._fetchall(SQL.attempts_of, (list(delivery_ids),)):
                result[row[0]].append(_attempt(row))
        return result

    async def requeue(self, subscription_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        async with self._transaction() as conn:
            row = await (await conn.execute(SQL.requeue, (now, now, subscription_id, delivery_id))).fetchone()
            if row is None:
                return None
            await self._notify(conn)
        return _delivery(row)

    async def requeue_failed_since(self, subscription_id: str, since: datetime, now: datetime) -> int:
        async with self._transaction() as conn:
            cur = await conn.execute(SQL.requeue_failed_since, (now, now, subscription_id, since))
            count = int(cur.rowcount)
            if count:
                await self._notify(conn)
        return count
