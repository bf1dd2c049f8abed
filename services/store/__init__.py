"""Implementations of the store ports: three back-ends for each of two domains.

```
                 memory                     SQLite (default)           PostgreSQL
reservations     reservations/memory.py     reservations/sqlite.py     reservations/postgres.py
                                                                       (+ pg_migrations, pg_notifier)
webhooks         webhooks/memory.py         webhooks/sqlite.py         webhooks/postgres.py
                                                                       (+ pg_migrations, pg_statements)
```

What the SQL stores share (column lists, clauses, PostgreSQL connection settings) lives in the
private ``_sql`` module. The gateway opens stores through ``open_store`` and ``open_webhook_store``
(here); psycopg is loaded only when a PostgreSQL URL is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.store._sql import (
    MIGRATION_LOCK,
    StoreUrl,
    check_schema,
    connect_kwargs,
    parse_store_url,
    split_schema,
)
from services.store.reservations.memory import MemoryStore
from services.store.reservations.sqlite import SqliteStore

if TYPE_CHECKING:
    from services.store.reservations.postgres import PostgresStore
    from services.store.webhooks.memory import MemoryWebhookStore
    from services.store.webhooks.postgres import PostgresWebhookStore
    from services.store.webhooks.sqlite import SqliteWebhookStore

__all__ = [
    "MIGRATION_LOCK",
    "MemoryStore",
    "StoreUrl",
    "SqliteStore",
    "check_schema",
    "connect_kwargs",
    "open_store",
    "open_webhook_store",
    "parse_store_url",
    "split_schema",
]


def open_store(url: str) -> MemoryStore | SqliteStore | PostgresStore:
    """``memory://``, ``sqlite:///path/to/file.db`` (or a bare path), ``postgresql://…[?schema=name]``."""
    where = parse_store_url(url)
    if where.kind == "memory":
        return MemoryStore()
    if where.kind == "sqlite":
        return SqliteStore(where.path)
    from services.store.reservations.postgres import PostgresStore  # psycopg is loaded only when used

    return PostgresStore(where.dsn, schema=where.schema)


def open_webhook_store(url: str) -> MemoryWebhookStore | SqliteWebhookStore | PostgresWebhookStore:
    """The webhook store beside the core's: the same URL, so the same file, or database and schema;
    not yet opened."""
    from services.store.webhooks.memory import MemoryWebhookStore
    from services.store.webhooks.sqlite import SqliteWebhookStore

    where = parse_store_url(url)
    if where.kind == "memory":
        return MemoryWebhookStore()
    if where.kind == "sqlite":
        return SqliteWebhookStore(where.path)
    from services.store.webhooks.postgres import PostgresWebhookStore  # psycopg only when used

    return PostgresWebhookStore(where.dsn, schema=where.schema)
