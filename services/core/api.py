"""``ReservationApi``: the one operation set, implemented by the core service and by every client.

The conformance suite and the benchmark drive any style through this Protocol, so a caller
cannot tell whether it talks to the core in-process or to REST, GraphQL, gRPC, SOAP or WebSocket.
``ServerApi`` is the wider port the gateway hands to every style's adapter: the same operations
plus the batch reads and the live event stream that servers (not clients) need.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import Protocol, Self, runtime_checkable

from services.core.access import Principal
from services.core.model import (
    Event,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    Room,
)

OPERATIONS: tuple[str, ...] = (
    "listRooms",
    "getRoom",
    "createReservation",
    "getReservation",
    "listReservations",
    "modifyReservation",
    "cancelReservation",
    "checkInReservation",
    "watchEvents",
)


@runtime_checkable
class ReservationApi(Protocol):
    async def list_rooms(self) -> list[Room]: ...

    async def get_room(self, room_id: str) -> Room: ...

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation: ...

    async def get_reservation(self, reservation_id: str) -> Reservation: ...

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage: ...

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation: ...

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation: ...

    async def check_in_reservation(self, reservation_id: str) -> Reservation: ...

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        """The events after sequence ``after`` in order (one batch of at most ``limit``)."""
        ...


@runtime_checkable
class ServerApi(ReservationApi, Protocol):
    """What an adapter receives from the gateway: the core service, or its instrumented proxy."""

    async def get_rooms(self, room_ids: Iterable[str]) -> dict[str, Room]:
        """Batch lookup (GraphQL DataLoaders): one store call for many rooms."""
        ...

    async def search_reservations(
        self, query: ReservationQuery, *, offset: int, limit: int
    ) -> tuple[list[Reservation], int]:
        """A filtered, sorted slice by offset and the total (REST's ``Range: items=``)."""
        ...

    async def reservations_of_rooms(self, room_ids: Sequence[str]) -> dict[str, list[Reservation]]:
        """Every listed room's reservations in date order, in one store call (DataLoaders)."""
        ...

    async def last_event_sequence(self) -> int:
        """The sequence of the newest event (a new webhook subscription starts there)."""
        ...

    def stream_events(
        self,
        after: int = 0,
        *,
        types: Sequence[str] | None = None,
        batch_size: int = 100,
        wait_timeout: float = 30.0,
    ) -> AsyncGenerator[Event, None]:
        """Every event after ``after``, then each new one as it is committed; arguments checked now.

        The caller closes it (``aclose()`` or ``contextlib.aclosing``) when it stops reading."""
        ...

    def acting_as(self, principal: Principal) -> Self:
        """The same operations run for ``principal``: creates record it as the owner, changes need
        it to be the owner or admin, and every call re-checks its scope (services/core/access.py)."""
        ...
