"""Implementations of the store ports: three back-ends for each of two domains.

```
                 memory                     SQLite (default)           PostgreSQL
reservations     reservations/memory.py     reservations/sqlite.py     reservations/postgres.py
                                                                       (+ pg_migrations, pg_notifier)
webhooks         webhooks/memory.py         webhooks/sqlite.py         webhooks/postgres.py
                                                                       (+ pg_migrations)
```

What the SQL stores share (column lists, clauses, PostgreSQL connection settings) lives in the
private ``_sql`` module. The gateway opens stores through ``open_store`` and ``open_webhook_store``
(here); psycopg is loaded only when a PostgreSQL URL is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.store._sql import MIGRATION_LOCK, check_schema, connect_kwargs, split_schema
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
    "SqliteStore",
    "check_schema",
    "connect_kwargs",
    "open_store",
    "open_webhook_store",
    "split_schema",
]


def open_store(url: str) -> MemoryStore | SqliteStore | PostgresStore:
    """``memory://``, ``sqlite:///path/to/file.db`` (or a bare path), ``postgresql://…[?schema=name]``."""
    if url.startswith("memory:"):
        return MemoryStore()
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return SqliteStore(url.removeprefix("sqlite:"))
    if url.startswith(("postgresql://", "postgres://")):
        from services.store.reservations.postgres import PostgresStore  # psycopg is loaded only when used

        dsn, schema = split_schema(url)
        return PostgresStore(dsn, schema=schema)
    if "://" not in url:
        return SqliteStore(url)
    raise ValueError(
        f"unsupported store URL: {url!r} (use memory://, sqlite:///path or postgresql://user@host/db)"
    )


def open_webhook_store(url: str) -> MemoryWebhookStore | SqliteWebhookStore | PostgresWebhookStore:
    """The webhook store beside the core's: the same URL, so the same file, or database and schema;
    not yet opened."""
    from services.store.webhooks.memory import MemoryWebhookStore
    from services.store.webhooks.sqlite import SqliteWebhookStore

    if url.startswith(("postgresql://", "postgres://")):
        from services.store.webhooks.postgres import PostgresWebhookStore  # psycopg only when used

        dsn, schema = split_schema(url)
        return PostgresWebhookStore(dsn, schema=schema)
    if url.startswith("memory:"):
        return MemoryWebhookStore()
    if url.startswith("sqlite:///"):
        return SqliteWebhookStore(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return SqliteWebhookStore(url.removeprefix("sqlite:"))
    if "://" not in url:
        return SqliteWebhookStore(url)
    raise ValueError(
        f"unsupported webhook store URL: {url!r} (use memory://, sqlite:///path or postgresql://user@host/db)"
    )
