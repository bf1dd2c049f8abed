"""``ReservationApi``: the one operation set, implemented by the core service and by every client.

The conformance suite and the benchmark drive any style through this Protocol, so a caller
cannot tell whether it talks to the core in-process or to REST, GraphQL, gRPC, SOAP or WebSocket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

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
