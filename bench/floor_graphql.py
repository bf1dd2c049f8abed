"""The GraphQL floor's schema: bare strawberry, one fixed reservation, parse and validation caches.

Module level and without postponed annotations, so strawberry resolves the types by itself.
"""

import enum
from typing import Any

import strawberry
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from services.core.model import Reservation as DomainReservation


@strawberry.enum(name="ReservationStatus")
class ReservationStatus(enum.Enum):
    RESERVED = "RESERVED"
    CHECKED_IN = "CHECKED_IN"
    CANCELED = "CANCELED"


@strawberry.type
class Reservation:
    reservation_id: strawberry.ID
    room_id: strawberry.ID
    guest_name: str
    date: str
    start_time: str
    end_time: str
    attendees: int
    purpose: str | None
    status: ReservationStatus
    cancel_reason: str | None
    version: int
    created_at: str
    updated_at: str


def build_app(fixed: DomainReservation) -> Any:
    data = fixed.to_dict()
    answer = Reservation(
        reservation_id=strawberry.ID(fixed.reservation_id),
        room_id=strawberry.ID(fixed.room_id),
        guest_name=fixed.guest_name,
        date=fixed.date,
        start_time=fixed.start_time,
        end_time=fixed.end_time,
        attendees=fixed.attendees,
        purpose=fixed.purpose,
        status=ReservationStatus(fixed.status.value),
        cancel_reason=fixed.cancel_reason,
        version=fixed.version,
        created_at=data["createdAt"],
        updated_at=data["updatedAt"],
    )

    @strawberry.type
    class Query:
        @strawberry.field
        def reservation(self, reservation_id: strawberry.ID) -> Reservation:
            return answer

    schema = strawberry.Schema(
        query=Query, extensions=[ParserCache(maxsize=100), ValidationCache(maxsize=100)]
    )
    return GraphQL(schema, graphql_ide=None)
