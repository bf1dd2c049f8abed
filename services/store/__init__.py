"""Implementations of the core's store port: in-memory, SQLite (the default) and PostgreSQL."""

from services.store.memory import MemoryStore
from services.store.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "open_store"]


def open_store(url: str) -> MemoryStore | SqliteStore:
    """``memory://``, ``sqlite:///path/to/file.db`` (or a bare path)."""
    if url.startswith("memory:"):
        return MemoryStore()
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return SqliteStore(url.removeprefix("sqlite:"))
    if "://" not in url:
        return SqliteStore(url)
    raise ValueError(f"unsupported store URL: {url!r} (use memory:// or sqlite:///path)")
