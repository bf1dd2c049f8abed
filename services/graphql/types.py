"""The GraphQL wire types: each output type is built from a core object by ``from_domain``.

Input types leave every field nullable and untyped beyond String/Int on purpose: the core
validates, so a missing or malformed value gets the same code and field as in every other style.
"""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.types.unset import UNSET

from services.core import model
from services.graphql.context import Info
from services.graphql.permissions import requires


@strawberry.enum(description="Where a reservation stands; only RESERVED can still change.")
class ReservationStatus(enum.Enum):
    RESERVED = "RESERVED"
    CHECKED_IN = "CHECKED_IN"
    CANCELED = "CANCELED"


@strawberry.enum(description="What can be done next to a reservation (the core's modify, cancel, check-in).")
class ReservationAction(enum.Enum):
    MODIFY = "modify"
    CANCEL = "cancel"
    CHECK_IN = "check-in"


_STATUS = {status: ReservationStatus[status.name] for status in model.ReservationStatus}
# The actions follow from the status alone, so their wire lists are built once.
_ACTIONS = {
    status: [ReservationAction[action.name] for action in actions]
    for status, actions in model.ACTIONS_BY_STATUS.items()
}


@strawberry.type(description="A study room that can be reserved.")
class Room:
    room_id: strawberry.ID
    name: str
    capacity: int
    location: str

    @classmethod
    def from_domain(cls, room: model.Room) -> Room:
        return cls(
            room_id=strawberry.ID(room.room_id),
            name=room.name,
            capacity=room.capacity,
            location=room.location,
        )

    @strawberry.field(
        description="Every reservation of this room, in date order (batched across rooms).",
        permission_classes=[requires("listReservations")],
    )
    async def reservations(self, info: Info) -> list[Reservation]:
        found = await info.context.room_reservations.load(self.room_id)
        return [Reservation.from_domain(item) for item in found]


@strawberry.type(description="One reservation of one room for one time slot.")
class Reservation:
    reservation_id: strawberry.ID
    room_id: strawberry.ID
    guest_name: str
    date: str = strawberry.field(description="ISO date, YYYY-MM-DD.")
    start_time: str = strawberry.field(description="HH:MM, 24 h.")
    end_time: str = strawberry.field(description="HH:MM, 24 h.")
    attendees: int
    purpose: str | None
    status: ReservationStatus
    cancel_reason: str | None
    version: int = strawberry.field(description="Starts at 1, +1 on every change (optimistic concurrency).")
    created_at: str = strawberry.field(description="RFC 3339 UTC timestamp with milliseconds.")
    updated_at: str = strawberry.field(description="RFC 3339 UTC timestamp with milliseconds.")
    actions: list[ReservationAction]

    @classmethod
    def from_domain(cls, item: model.Reservation) -> Reservation:
        return cls(
            reservation_id=strawberry.ID(item.reservation_id),
            room_id=strawberry.ID(item.room_id),
            guest_name=item.guest_name,
            date=item.date,
            start_time=item.start_time,
            end_time=item.end_time,
            attendees=item.attendees,
            purpose=item.purpose,
            status=_STATUS[item.status],
            cancel_reason=item.cancel_reason,
            version=item.version,
            created_at=model.format_timestamp(item.created_at),
            updated_at=model.format_timestamp(item.updated_at),
            actions=_ACTIONS[item.status],
        )

    @strawberry.field(description="The reserved room (batched across reservations).")
    async def room(self, info: Info) -> Room:
        return Room.from_domain(await info.context.rooms.load(self.room_id))


@strawberry.type(description="One page of reservations, with the same pagination fields as REST.")
class ReservationPage:
    items: list[Reservation]
    page: int
    page_size: int
    total_items: int
    total_pages: int

    @classmethod
    def from_domain(cls, page: model.ReservationPage) -> ReservationPage:
        return cls(
            items=[Reservation.from_domain(item) for item in page.items],
            page=page.page,
            page_size=page.page_size,
            total_items=page.total_items,
            total_pages=page.total_pages,
        )


@strawberry.type(
    description="One entry of the ordered event log; `data` is the reservation after the change."
)
class Event:
    event_id: strawberry.ID
    sequence: int
    type: str = strawberry.field(
        description="reservation.created, reservation.modified, reservation.canceled, reservation.checked_in."
    )
    occurred_at: str
    data: Reservation

    @classmethod
    def from_domain(cls, event: model.Event) -> Event:
        return cls(
            event_id=strawberry.ID(event.event_id),
            sequence=event.sequence,
            type=event.type,
            occurred_at=model.format_timestamp(event.occurred_at),
            data=Reservation.from_domain(model.Reservation.from_dict(event.data)),
        )


@strawberry.input(description="A new reservation; every field is checked by the service, not by GraphQL.")
class CreateReservationInput:
    room_id: strawberry.ID | None = UNSET
    guest_name: str | None = UNSET
    date: str | None = UNSET
    start_time: str | None = UNSET
    end_time: str | None = UNSET
    attendees: int | None = UNSET
    purpose: str | None = UNSET


@strawberry.input(description="Fields to change; an absent field is left as is, `purpose: null` clears it.")
class ModifyReservationInput:
    room_id: strawberry.ID | None = UNSET
    guest_name: str | None = UNSET
    date: str | None = UNSET
    start_time: str | None = UNSET
    end_time: str | None = UNSET
    attendees: int | None = UNSET
    purpose: str | None = UNSET


@strawberry.input(description="Filters of `reservations`; values are checked by the service.")
class ReservationFilter:
    status: str | None = strawberry.field(default=None, description="RESERVED, CHECKED_IN or CANCELED.")
    room_id: strawberry.ID | None = None
    date_from: str | None = strawberry.field(default=None, description="ISO date, inclusive.")
    date_to: str | None = strawberry.field(default=None, description="ISO date, inclusive.")
    guest_name: str | None = strawberry.field(default=None, description="Case-insensitive substring.")


# (python attribute, camelCase wire name) of the reservation inputs, for ``from_mapping``.
_INPUT_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (name, model.WIRE_NAMES[name])
    for name in ("room_id", "guest_name", "date", "start_time", "end_time", "attendees", "purpose")
)


def provided(value: CreateReservationInput | ModifyReservationInput) -> dict[str, Any]:
    """The camelCase fields the caller actually sent (explicit nulls included, absent ones not)."""
    return {wire: getattr(value, name) for name, wire in _INPUT_FIELDS if getattr(value, name) is not UNSET}
