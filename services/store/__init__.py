"""Implementations of the core's store port: in-memory, SQLite (the default) and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.store.memory import MemoryStore
from services.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from services.store.postgres import PostgresStore

__all__ = ["MemoryStore", "SqliteStore", "open_store"]


def split_schema(url: str) -> tuple[str, str | None]:
    """``postgresql://…?schema=name`` -> (the libpq URL without it, name): one schema per deployment."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), None)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def open_store(url: str) -> MemoryStore | SqliteStore | PostgresStore:
    """``memory://``, ``sqlite:///path/to/file.db`` (or a bare path), ``postgresql://…[?schema=name]``."""
    if url.startswith("memory:"):
        return MemoryStore()
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return SqliteStore(url.removeprefix("sqlite:"))
    if url.startswith(("postgresql://", "postgres://")):
        from services.store.postgres import PostgresStore  # psycopg is loaded only when used

        dsn, schema = split_schema(url)
        return PostgresStore(dsn, schema=schema)
    if "://" not in url:
        return SqliteStore(url)
    raise ValueError(
        f"unsupported store URL: {url!r} (use memory://, sqlite:///path or postgresql://user@host/db)"
    )
