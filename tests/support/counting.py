"""A store that counts how often it is read: the way to tell a stream that waits from one that polls."""

from __future__ import annotations

from typing import Any

from services.core.ports import Store, UnitOfWork


class CountingStore:
    """Any ``Store``, unchanged, counting the units of work opened on it (each read or write opens one)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.units_of_work = 0

    def unit_of_work(self) -> UnitOfWork:
        self.units_of_work += 1
        return self._store.unit_of_work()

    async def open(self) -> None:
        await self._store.open()

    async def close(self) -> None:
        await self._store.close()

    async def ping(self) -> None:
        await self._store.ping()

    def __getattr__(self, name: str) -> Any:  # notifier(), identity tables ...: the wrapped store's own
        return getattr(self._store, name)
