"""The GraphQL floor's schema: bare strawberry, one fixed reservation and one fixed page of 20, caches.

Module level and without postponed annotations, so strawberry resolves the types by itself.
"""

import enum
import functools
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


# The floor restates the schema's fields on purpose (it measures bare strawberry, not the adapter).
@strawberry.type
class Reservation:  # pylint: disable=duplicate-code
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


@strawberry.input(name="ReservationFilter")
class ReservationFilter:
    status: str | None = None
    room_id: strawberry.ID | None = None
    date_from: str | None = None
    date_to: str | None = None
    guest_name: str | None = None


@strawberry.type
class ReservationPage:
    items: list[Reservation]
    page: int
    page_size: int
    total_items: int
    total_pages: int


def _reservation(fixed: DomainReservation) -> Reservation:
    data = fixed.to_dict()
    return Reservation(
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


def build_app(fixed: DomainReservation, page_items: tuple[DomainReservation, ...] = ()) -> Any:
    answer = _reservation(fixed)
    fixed_page = ReservationPage(
        items=[_reservation(item) for item in page_items], page=1, page_size=20, total_items=30, total_pages=2
    )

    @strawberry.type
    class Query:
        @strawberry.field
        def reservation(self, reservation_id: strawberry.ID) -> Reservation:
            return answer

        @strawberry.field
        def reservations(
            self,
            page: int,
            page_size: int,
            filter: ReservationFilter | None = None,  # noqa: A002 - the contract's argument name
            sort: str | None = None,
        ) -> ReservationPage:
            return fixed_page

    schema = strawberry.Schema(
        query=Query,
        # factories, as strawberry asks (both caches are shared per maxsize at module level)
        extensions=[
            functools.partial(ParserCache, maxsize=100),
            functools.partial(ValidationCache, maxsize=100),
        ],
    )
    return GraphQL(schema, graphql_ide=None)
