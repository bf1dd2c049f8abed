"""Implementations of the core's store port: in-memory, SQLite (the default) and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.store.memory import MemoryStore
from services.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from services.store.postgres import PostgresStore

__all__ = ["MemoryStore", "SqliteStore", "open_store"]


def open_store(url: str) -> MemoryStore | SqliteStore | PostgresStore:
    """``memory://``, ``sqlite:///path/to/file.db`` (or a bare path), ``postgresql://…`` (libpq URL)."""
    if url.startswith("memory:"):
        return MemoryStore()
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return SqliteStore(url.removeprefix("sqlite:"))
    if url.startswith(("postgresql://", "postgres://")):
        from services.store.postgres import PostgresStore  # psycopg is loaded only when used

        return PostgresStore(url)
    if "://" not in url:
        return SqliteStore(url)
    raise ValueError(
        f"unsupported store URL: {url!r} (use memory://, sqlite:///path or postgresql://user@host/db)"
    )
