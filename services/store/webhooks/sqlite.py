"""SQLite implementation of the webhook store port, in the same file as the core's tables.

All of the webhook SQL lives in this module; the statements use ``?`` placeholders and
portable SQL, so a PostgreSQL store can reuse them with ``%s`` (see ``SQL``). The schema is
versioned in its own ``webhook_schema`` table: ``PRAGMA user_version`` belongs to the core.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from services.core.model import format_timestamp, parse_timestamp
from services.store._sql import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    attempt_from_row,
    delivery_from_row,
)
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

SCHEMA_VERSION = 1

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS webhook_subscriptions (
            subscription_id TEXT PRIMARY KEY,
            position        INTEGER NOT NULL,
            url             TEXT NOT NULL,
            event_types     TEXT NOT NULL,
            description     TEXT,
            enabled         INTEGER NOT NULL,
            disabled_reason TEXT,
            secrets         TEXT NOT NULL,
            cursor          INTEGER NOT NULL,
            failing_since   TEXT,
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS webhook_deliveries (
            delivery_id     TEXT PRIMARY KEY,
            position        INTEGER NOT NULL,
            subscription_id TEXT NOT NULL
                REFERENCES webhook_subscriptions (subscription_id) ON DELETE CASCADE,
            event_id        TEXT NOT NULL,
            event_type      TEXT NOT NULL,
            sequence        INTEGER,
            payload         TEXT NOT NULL,
            status          TEXT NOT NULL,
            attempts        INTEGER NOT NULL,
            total_attempts  INTEGER NOT NULL,
            next_attempt_at TEXT,
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_subscription "
        "ON webhook_deliveries (subscription_id, position)",
        """CREATE TABLE IF NOT EXISTS webhook_attempts (
            delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
            number           INTEGER NOT NULL,
            attempted_at     TEXT NOT NULL,
            status_code      INTEGER,
            latency_ms       REAL NOT NULL,
            error            TEXT,
            response_excerpt TEXT,
            PRIMARY KEY (delivery_id, number)
        )""",
    ),
}


class SQL:
    """Every statement of the store (``?`` placeholders)."""

    schema_table = "CREATE TABLE IF NOT EXISTS webhook_schema (version INTEGER NOT NULL)"
    schema_version = "SELECT coalesce(max(version), 0) FROM webhook_schema"
    set_schema_version = "INSERT INTO webhook_schema (version) VALUES (?)"

    insert_subscription = (
        f"INSERT INTO webhook_subscriptions (position, {SUBSCRIPTION_COLUMNS}) "
        "VALUES ((SELECT coalesce(max(position), 0) + 1 FROM webhook_subscriptions), "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    get_subscription = f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE subscription_id = ?"
    list_subscriptions = (
        f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY position LIMIT ? OFFSET ?"
    )
    all_subscriptions = f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY position"
    count_subscriptions = "SELECT count(*) FROM webhook_subscriptions"
    update_subscription = (
        "UPDATE webhook_subscriptions SET url = ?, event_types = ?, description = ?, enabled = ?, "
        "disabled_reason = ?, secrets = ?, failing_since = ?, updated_at = ? WHERE subscription_id = ?"
    )
    delete_subscription = "DELETE FROM webhook_subscriptions WHERE subscription_id = ?"
    raise_cursor = "UPDATE webhook_subscriptions SET cursor = ? WHERE subscription_id = ? AND cursor < ?"
    set_health = "UPDATE webhook_subscriptions SET failing_since = ? WHERE subscription_id = ?"
    disable = (
        "UPDATE webhook_subscriptions SET enabled = 0, disabled_reason = ?, updated_at = ? "
        "WHERE subscription_id = ?"
    )

    insert_delivery = (
        f"INSERT INTO webhook_deliveries (position, {DELIVERY_COLUMNS}) "
        "SELECT (SELECT coalesce(max(position), 0) + 1 FROM webhook_deliveries), "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
        "WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE subscription_id = ?) "
        "ON CONFLICT (delivery_id) DO NOTHING"
    )
    # At most ``per_subscription`` per subscription, so one busy endpoint cannot fill the batch.
    due_deliveries = (
        f"SELECT {DELIVERY_COLUMNS} FROM ("
        f"SELECT {', '.join('d.' + c for c in DELIVERY_COLUMNS.split(', '))}, d.position, "
        "row_number() OVER (PARTITION BY d.subscription_id ORDER BY d.next_attempt_at, d.position) AS rank "
        "FROM webhook_deliveries d JOIN webhook_subscriptions s USING (subscription_id) "
        "WHERE d.status = 'PENDING' AND d.next_attempt_at <= ? AND s.enabled = 1"
        ") AS due WHERE rank <= ? ORDER BY next_attempt_at, position LIMIT ?"
    )
    lease = "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE delivery_id = ? AND status = 'PENDING'"
    next_due_at = (
        "SELECT min(d.next_attempt_at) FROM webhook_deliveries d "
        "JOIN webhook_subscriptions s USING (subscription_id) WHERE d.status = 'PENDING' AND s.enabled = 1"
    )
    # The attempt's outcome is written only if nobody requeued the delivery since it was sent
    # (a replay sets updated_at): otherwise the replay stands and only the attempt count moves on.
    update_delivery = (
        "UPDATE webhook_deliveries SET status = ?, attempts = ?, total_attempts = ?, next_attempt_at = ?, "
        "updated_at = ? WHERE delivery_id = ? AND updated_at <= ?"
    )
    count_attempt = (
        "UPDATE webhook_deliveries SET total_attempts = max(total_attempts, ?) WHERE delivery_id = ?"
    )
    insert_attempt = f"INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    get_delivery = (
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = ? AND delivery_id = ?"
    )
    list_deliveries = (
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = ? "
        "AND (? IS NULL OR status = ?) ORDER BY position DESC LIMIT ? OFFSET ?"
    )
    count_deliveries = (
        "SELECT count(*) FROM webhook_deliveries WHERE subscription_id = ? AND (? IS NULL OR status = ?)"
    )
    requeue = (
        "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = ?, updated_at = ? "
        "WHERE subscription_id = ? AND delivery_id = ?"
    )
    requeue_failed_since = (
        "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = ?, updated_at = ? "
        "WHERE subscription_id = ? AND status = 'FAILED' AND created_at >= ?"
    )

    @staticmethod
    def attempts_of(count: int) -> str:
        marks = ", ".join("?" for _ in range(count))
        return (
            f"SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE delivery_id IN ({marks}) ORDER BY number"
        )


def _ts(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def _parse(text: str | None) -> datetime | None:
    return None if text is None else parse_timestamp(text)


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        subscription_id=row[0],
        url=row[1],
        event_types=tuple(json.loads(row[2])),
        description=row[3],
        enabled=bool(row[4]),
        disabled_reason=DisabledReason(row[5]) if row[5] else None,
        secrets=tuple(SigningSecret(secret, _parse(expires)) for secret, expires in json.loads(row[6])),
        cursor=row[7],
        failing_since=_parse(row[8]),
        created_at=parse_timestamp(row[9]),
        updated_at=parse_timestamp(row[10]),
    )


def _secrets(subscription: Subscription) -> str:
    return json.dumps([[s.secret, _ts(s.expires_at)] for s in subscription.secrets])


def _delivery(row: Sequence[Any]) -> Delivery:
    return delivery_from_row(row, parse_timestamp)


def _attempt(row: Sequence[Any]) -> Attempt:
    return attempt_from_row(row, parse_timestamp)


class SqliteWebhookStore:
    """One connection of its own to the file; every method is one short transaction, never held
    across an ``await``, so it cannot block the core's connection in the same event loop."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.signal = WorkSignal()
        self._connection: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            # Opened on first use too: a process serving the management API without running the
            # dispatcher may never call open().
            self._open()
            assert self._connection is not None
        return self._connection

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def open(self) -> None:
        self._open()

    def _open(self) -> None:
        if self._connection is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
        self._connection = db
        with self._transaction():  # serializes two processes migrating the same file
            db.execute(SQL.schema_table)
            current = db.execute(SQL.schema_version).fetchone()[0]
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute(SQL.set_schema_version, (version,))

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- subscriptions --------------------------------------------------------------------

    async def add_subscription(self, subscription: Subscription) -> None:
        s = subscription
        with self._transaction() as db:
            db.execute(
                SQL.insert_subscription,
                (
                    s.subscription_id,
                    s.url,
                    json.dumps(list(s.event_types)),
                    s.description,
                    int(s.enabled),
                    s.disabled_reason.value if s.disabled_reason else None,
                    _secrets(s),
                    s.cursor,
                    _ts(s.failing_since),
                    _ts(s.created_at),
                    _ts(s.updated_at),
                ),
            )

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        row = self._db.execute(SQL.get_subscription, (subscription_id,)).fetchone()
        return _subscription(row) if row else None

    async def list_subscriptions(self, offset: int, limit: int) -> tuple[list[Subscription], int]:
        with self._transaction() as db:  # one snapshot for the page and its total
            total = db.execute(SQL.count_subscriptions).fetchone()[0]
            rows = db.execute(SQL.list_subscriptions, (limit, offset)).fetchall()
        return [_subscription(row) for row in rows], total

    async def update_subscription(self, subscription: Subscription) -> None:
        s = subscription
        with self._transaction() as db:
            db.execute(
                SQL.update_subscription,
                (
                    s.url,
                    json.dumps(list(s.event_types)),
                    s.description,
                    int(s.enabled),
                    s.disabled_reason.value if s.disabled_reason else None,
                    _secrets(s),
                    _ts(s.failing_since),
                    _ts(s.updated_at),
                    s.subscription_id,
                ),
            )

    async def delete_subscription(self, subscription_id: str) -> bool:
        with self._transaction() as db:
            return db.execute(SQL.delete_subscription, (subscription_id,)).rowcount > 0

    async def cursors(self) -> list[Subscription]:
        return [_subscription(row) for row in self._db.execute(SQL.all_subscriptions).fetchall()]

    # -- deliveries -----------------------------------------------------------------------

    async def enqueue(self, deliveries: Sequence[Delivery], cursors: Mapping[str, int]) -> None:
        with self._transaction() as db:
            for d in deliveries:
                db.execute(
                    SQL.insert_delivery,
                    (
                        d.delivery_id,
                        d.subscription_id,
                        d.event_id,
                        d.event_type,
                        d.sequence,
                        d.payload,
                        d.status.value,
                        d.attempts,
                        d.total_attempts,
                        _ts(d.next_attempt_at),
                        _ts(d.created_at),
                        _ts(d.updated_at),
                        d.subscription_id,
                    ),
                )
            for subscription_id, sequence in cursors.items():
                db.execute(SQL.raise_cursor, (sequence, subscription_id, sequence))

    async def due_deliveries(self, now: datetime, limit: int, per_subscription: int) -> list[Delivery]:
        rows = self._db.execute(SQL.due_deliveries, (_ts(now), per_subscription, limit)).fetchall()
        return [_delivery(row) for row in rows]

    async def lease(self, delivery_ids: Sequence[str], until: datetime) -> None:
        with self._transaction() as db:
            db.executemany(SQL.lease, [(_ts(until), delivery_id) for delivery_id in delivery_ids])

    async def next_due_at(self) -> datetime | None:
        return _parse(self._db.execute(SQL.next_due_at).fetchone()[0])

    async def record_attempt(self, delivery: Delivery, attempt: Attempt, health: SubscriptionHealth) -> None:
        d, a = delivery, attempt
        with self._transaction() as db:
            changed = db.execute(
                SQL.update_delivery,
                (
                    d.status.value,
                    d.attempts,
                    d.total_attempts,
                    _ts(d.next_attempt_at),
                    _ts(d.updated_at),
                    d.delivery_id,
                    _ts(a.attempted_at),
                ),
            ).rowcount
            if not changed and not db.execute(SQL.count_attempt, (d.total_attempts, d.delivery_id)).rowcount:
                return  # deleted with its subscription meanwhile
            db.execute(
                SQL.insert_attempt,
                (
                    a.delivery_id,
                    a.number,
                    _ts(a.attempted_at),
                    a.status_code,
                    a.latency_ms,
                    a.error,
                    a.response_excerpt,
                ),
            )
            db.execute(SQL.set_health, (_ts(health.failing_since), d.subscription_id))
            if health.disabled_reason is not None:
                db.execute(
                    SQL.disable, (health.disabled_reason.value, _ts(a.attempted_at), d.subscription_id)
                )

    async def get_delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        row = self._db.execute(SQL.get_delivery, (subscription_id, delivery_id)).fetchone()
        return _delivery(row) if row else None

    async def list_deliveries(
        self, subscription_id: str, status: DeliveryStatus | None, offset: int, limit: int
    ) -> tuple[list[Delivery], int]:
        wanted = None if status is None else status.value
        with self._transaction() as db:
            total = db.execute(SQL.count_deliveries, (subscription_id, wanted, wanted)).fetchone()[0]
            rows = db.execute(
                SQL.list_deliveries, (subscription_id, wanted, wanted, limit, offset)
            ).fetchall()
        return [_delivery(row) for row in rows], total

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        result: dict[str, list[Attempt]] = {delivery_id: [] for delivery_id in delivery_ids}
        if delivery_ids:
            for row in self._db.execute(SQL.attempts_of(len(delivery_ids)), list(delivery_ids)).fetchall():
                result[row[0]].append(_attempt(row))
        return result

    async def requeue(self, subscription_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        with self._transaction() as db:
            db.execute(SQL.requeue, (_ts(now), _ts(now), subscription_id, delivery_id))
            row = db.execute(SQL.get_delivery, (subscription_id, delivery_id)).fetchone()
        return _delivery(row) if row else None

    async def requeue_failed_since(self, subscription_id: str, since: datetime, now: datetime) -> int:
        with self._transaction() as db:
            return db.execute(
                SQL.requeue_failed_since, (_ts(now), _ts(now), subscription_id, _ts(since))
            ).rowcount
