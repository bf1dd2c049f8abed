"""In-memory store for tests and benchmarks: same semantics as SQLite, nothing on disk.

A single asyncio.Lock serializes units of work, so check-then-insert is atomic; writes are
staged and applied only on commit, so a failed unit of work leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from services.core.model import SEED_ROOMS, Event, Reservation, ReservationStatus, Room
from services.core.ports import IdempotencyRecord, ReservationFilter, SortKey
from services.core.validation import search_key


def matches(item: Reservation, filters: ReservationFilter) -> bool:
    if filters.status is not None and item.status != filters.status:
        return False
    if filters.room_ids is not None and item.room_id not in filters.room_ids:
        return False
    if filters.date_from is not None and item.date < filters.date_from:
        return False
    if filters.date_to is not None and item.date > filters.date_to:
        return False
    if filters.guest_name is not None and filters.guest_name not in search_key(item.guest_name):
        return False
    return True


def sort_reservations(items: list[Reservation], sort: Sequence[SortKey]) -> list[Reservation]:
    if not any(descending for _, descending in sort):  # the usual case: one pass, one C-level key
        return sorted(items, key=operator.attrgetter(*(a for a, _ in sort), "created_at", "reservation_id"))
    ordered = sorted(items, key=lambda r: (r.created_at, r.reservation_id))  # stable tie-break
    for attribute, descending in reversed(sort):
        ordered.sort(key=operator.attrgetter(attribute), reverse=descending)
    return ordered


class _State:
    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.reservations: dict[str, Reservation] = {}
        self.events: list[Event] = []
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}


class _Rooms:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def get(self, room_id: str) -> Room | None:
        return self._uow.state.rooms.get(room_id)

    async def get_many(self, room_ids: Iterable[str]) -> dict[str, Room]:
        rooms = self._uow.state.rooms
        return {rid: rooms[rid] for rid in room_ids if rid in rooms}

    async def list(self) -> list[Room]:
        return sorted(self._uow.state.rooms.values(), key=lambda r: r.room_id)

    async def add(self, room: Room) -> None:
        self._uow.stage(lambda s: s.rooms.__setitem__(room.room_id, room))


class _Reservations:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def get(self, reservation_id: str) -> Reservation | None:
        return self._uow.state.reservations.get(reservation_id)

    async def add(self, reservation: Reservation) -> None:
        _storable(reservation)
        self._uow.stage(lambda s: s.reservations.__setitem__(reservation.reservation_id, reservation))

    async def update(self, reservation: Reservation) -> None:
        await self.add(reservation)

    async def overlapping(
        self, room_id: str, date: str, start_time: str, end_time: str, exclude_id: str | None
    ) -> list[Reservation]:
        return [
            r
            for r in self._uow.state.reservations.values()
            if r.room_id == room_id
            and r.status != ReservationStatus.CANCELED
            and r.reservation_id != exclude_id
            and r.overlaps(date, start_time, end_time)
        ]

    async def search(
        self, filters: ReservationFilter, sort: Sequence[SortKey], offset: int, limit: int
    ) -> tuple[list[Reservation], int]:
        found = [r for r in self._uow.state.reservations.values() if matches(r, filters)]
        ordered = sort_reservations(found, sort)
        return ordered[offset : offset + limit], len(found)


def _storable(reservation: Reservation) -> None:
    """Refuse what SQLite and PostgreSQL cannot store (text that is not UTF-8), as they would: the unit
    of work then fails before commit and nothing is kept, rather than a record no answer can carry."""
    for value in (
        reservation.guest_name,
        reservation.purpose,
        reservation.cancel_reason,
        reservation.room_id,
    ):
        if value is not None:
            value.encode()


class _Events:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._appended = 0

    async def append(self, event_id: str, type: str, occurred_at: datetime, data: dict[str, Any]) -> Event:
        self._appended += 1
        event = Event(event_id, self._uow.store.next_sequence + self._appended - 1, type, occurred_at, data)
        self._uow.stage(lambda s: s.events.append(event))
        return event

    async def read_after(self, after: int, types: Sequence[str] | None, limit: int) -> list[Event]:
        events = self._uow.state.events
        # Sequences are dense from 1 in memory, so the start index is known.
        selected = (e for e in events[after:] if types is None or e.type in types)
        result: list[Event] = []
        for event in selected:
            result.append(event)
            if len(result) == limit:
                break
        return result

    async def last_sequence(self) -> int:
        return len(self._uow.state.events)


class _Idempotency:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        return self._uow.state.idempotency.get((scope, key))

    async def put(self, record: IdempotencyRecord) -> None:
        self._uow.stage(lambda s: s.idempotency.__setitem__((record.scope, record.key), record))


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.state = store.state
        self._staged: list[Callable[[_State], None]] = []
        self.rooms = _Rooms(self)
        self.reservations = _Reservations(self)
        self.events = _Events(self)
        self.idempotency = _Idempotency(self)

    def stage(self, change: Callable[[_State], None]) -> None:
        self._staged.append(change)

    async def __aenter__(self) -> Self:
        await self.store.lock.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._staged.clear()
        self.store.lock.release()

    async def commit(self) -> None:
        for change in self._staged:
            change(self.state)
        self._staged.clear()


class MemoryStore:
    def __init__(self, rooms: Iterable[Room] = SEED_ROOMS) -> None:
        self.state = _State()
        self.lock = asyncio.Lock()
        for room in rooms:
            self.state.rooms[room.room_id] = room

    @property
    def next_sequence(self) -> int:
        return len(self.state.events) + 1

    def unit_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None
