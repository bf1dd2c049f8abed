"""Ports: what the use cases need from the outside world, as Protocols the stores implement.

A ``Store`` opens ``UnitOfWork``s; everything done inside one commits or rolls back together,
including the event appended for a change (the outbox rule of DESIGN §2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from services.core.model import Event, Reservation, ReservationStatus, Room

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime."""

IdGenerator = Callable[[str], str]
"""Returns a fresh opaque, URL-safe id with the given prefix (``rsv``, ``evt``)."""


@dataclass(frozen=True, slots=True)
class ReservationFilter:
    """Validated filters; ``None`` means no filter on that field."""

    status: ReservationStatus | None = None
    room_ids: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None
    guest_name: str | None = None  # a substring of the name's search key (validation.search_key)


SortKey = tuple[str, bool]
"""(reservation attribute, descending)."""


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    scope: str
    key: str
    fingerprint: str
    response: dict[str, Any]


class RoomRepository(Protocol):
    async def get(self, room_id: str) -> Room | None: ...
    async def get_many(self, room_ids: Iterable[str]) -> dict[str, Room]: ...
    async def list(self) -> list[Room]: ...
    async def add(self, room: Room) -> None: ...


class ReservationRepository(Protocol):
    async def get(self, reservation_id: str) -> Reservation | None: ...
    async def add(self, reservation: Reservation) -> None: ...
    async def update(self, reservation: Reservation) -> None: ...
    async def overlapping(
        self, room_id: str, date: str, start_time: str, end_time: str, exclude_id: str | None
    ) -> list[Reservation]:
        """Non-canceled reservations of the room on that date whose times overlap."""
        ...

    async def search(
        self, filters: ReservationFilter, sort: Sequence[SortKey], offset: int, limit: int
    ) -> tuple[list[Reservation], int]:
        """One page of matches and the total number of matches."""
        ...


class EventLog(Protocol):
    async def append(
        self, event_id: str, type: str, occurred_at: datetime, data: dict[str, Any]
    ) -> Event: ...
    async def read_after(self, after: int, types: Sequence[str] | None, limit: int) -> list[Event]: ...
    async def last_sequence(self) -> int: ...


class IdempotencyRecords(Protocol):
    async def get(self, scope: str, key: str) -> IdempotencyRecord | None: ...
    async def put(self, record: IdempotencyRecord) -> None: ...


class StoreUnavailable(Exception):
    """Raised by a unit of work whose connection to the store was lost before it committed (the
    database restarted, or could not be reached): nothing of it was written, so the use case may
    safely run again. A failure while committing is not this: its outcome is unknown."""


class UnitOfWork(Protocol):
    @property
    def rooms(self) -> RoomRepository: ...
    @property
    def reservations(self) -> ReservationRepository: ...
    @property
    def events(self) -> EventLog: ...
    @property
    def idempotency(self) -> IdempotencyRecords: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None: ...


class Store(Protocol):
    def unit_of_work(self) -> UnitOfWork: ...
    async def open(self) -> None:
        """Create the schema if needed and seed the rooms."""
        ...

    async def close(self) -> None: ...
    async def ping(self) -> None:
        """Raise if the store cannot answer (for /healthz)."""
        ...


class EventNotifier(Protocol):
    """Wakes event subscribers when new events are committed (in-process or cross-process)."""

    def published(self, sequence: int) -> None:
        """Called after a commit that appended events up to ``sequence``."""
        ...

    async def wait_beyond(self, sequence: int, timeout: float | None) -> bool:
        """Wait until an event after ``sequence`` may exist; False on timeout."""
        ...


@runtime_checkable
class ManagedNotifier(EventNotifier, Protocol):
    """A notifier with a connection of its own (PostgreSQL's LISTEN): started once its store is
    open (it reads the migrated event head), stopped on the way out."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@runtime_checkable
class NotifyingStore(Store, Protocol):
    """A store that brings its own cross-process notifier (PostgreSQL: LISTEN/NOTIFY), so a
    commit made by any process wakes the subscribers of every process."""

    def notifier(self) -> ManagedNotifier: ...
