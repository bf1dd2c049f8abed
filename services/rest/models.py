"""The REST wire shapes as pydantic models (camelCase aliases), from which FastAPI generates the schemas.

They describe what goes on the wire; they do not sit on the hot path. Answers are rendered once by
``representations`` (orjson) and returned as ``Response`` objects, so FastAPI never re-validates our
own output; request bodies are read by one reader and validated by the core, the rule every style
shares (the models' limits are the core's constants, and the body models forbid unknown members,
as the core does).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

from services.core.model import EventType, ReservationStatus
from services.core.validation import (
    ATTENDEES_MAX,
    GUEST_NAME_MAX,
    PURPOSE_MAX,
    REASON_MAX,
)
from services.rest.errors import STATUS_BY_CODE

TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
Time = Annotated[str, Field(pattern=TIME_PATTERN, examples=["10:00"])]


def one_of(values: list[str]) -> Any:
    """A string among ``values`` (the enum in the schema; the core checks values it receives)."""
    enum: list[JsonValue] = list(values)
    return Field(json_schema_extra={"enum": enum})


Status = Annotated[str, one_of([s.value for s in ReservationStatus])]
EventTypeName = Annotated[str, one_of([t.value for t in EventType])]
ProblemCode = Annotated[str, one_of(list(STATUS_BY_CODE))]


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Body(Wire):
    """A request body: unknown members are refused (INVALID_PROPERTY naming the member)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Link(Wire):
    href: str
    method: str | None = None
    templated: bool | None = None


Links = dict[str, Link]


# -- reservations, rooms, events ---------------------------------------------------------------------


class Reservation(Wire):
    reservation_id: str
    room_id: str
    guest_name: Annotated[str, Field(max_length=GUEST_NAME_MAX)]
    date: dt.date
    start_time: Time
    end_time: Time
    attendees: Annotated[int, Field(ge=1)]
    purpose: str | None
    status: Status
    cancel_reason: str | None
    version: Annotated[int, Field(ge=1)]
    created_at: dt.datetime
    updated_at: dt.datetime
    actions: list[Literal["modify", "cancel", "check-in"]]
    links: Links = Field(default_factory=dict, alias="_links")


class Room(Wire):
    room_id: str
    name: str
    capacity: Annotated[int, Field(ge=1)]
    location: str
    links: Links = Field(default_factory=dict, alias="_links")


class Event(Wire):
    event_id: str
    sequence: Annotated[int, Field(ge=1)]
    type: EventTypeName
    occurred_at: dt.datetime
    data: dict[str, Any] = Field(description="The reservation after the change.")


class Pagination(Wire):
    page: Annotated[int, Field(ge=1)]
    page_size: Annotated[int, Field(ge=1)]
    total_items: Annotated[int, Field(ge=0)]
    total_pages: Annotated[int, Field(ge=0)]


class ReservationCollection(Wire):
    items: list[Reservation]
    pagination: Pagination
    links: Links = Field(alias="_links")


class EmbeddedReservations(Wire):
    reservations: list[Reservation]


class ReservationCollectionHal(Wire):
    pagination: Pagination
    links: Links = Field(alias="_links")
    embedded: EmbeddedReservations = Field(alias="_embedded")


class RoomCollection(Wire):
    items: list[Room]
    pagination: Pagination
    links: Links = Field(alias="_links")


class EmbeddedRooms(Wire):
    rooms: list[Room]


class RoomCollectionHal(Wire):
    pagination: Pagination
    links: Links = Field(alias="_links")
    embedded: EmbeddedRooms = Field(alias="_embedded")


class EventCollection(Wire):
    items: list[Event]
    links: Links = Field(alias="_links")


class EmbeddedEvents(Wire):
    events: list[Event]


class EventCollectionHal(Wire):
    links: Links = Field(alias="_links")
    embedded: EmbeddedEvents = Field(alias="_embedded")


class ApiRoot(Wire):
    name: str
    version: str
    links: Links = Field(alias="_links")


# -- Siren ----------------------------------------------------------------------------------------------


class SirenField(Wire):
    name: str
    type: str | None = None


class SirenAction(Wire):
    name: str
    method: str
    href: str
    type: str | None = None
    fields: list[SirenField] = Field(default_factory=list)


class SirenLink(Wire):
    rel: list[str]
    href: str


class SirenEntity(Wire):
    class_: list[str] = Field(alias="class")
    rel: list[str] | None = None
    properties: dict[str, Any] | None = None
    entities: list[SirenEntity] | None = None
    actions: list[SirenAction] | None = None
    links: list[SirenLink] | None = None


# -- problems ---------------------------------------------------------------------------------------------


class FieldProblem(Wire):
    field: str
    code: str


class Problem(Wire):
    """RFC 9457 problem details; title and detail follow Accept-Language (en, ko, fr)."""

    type: str
    code: ProblemCode
    title: str
    detail: str
    status: Annotated[int, Field(ge=400, le=599)]
    instance: str
    errors: list[FieldProblem] | None = None


# -- request bodies -------------------------------------------------------------------------------------


class ReservationCreate(Body):
    room_id: Annotated[str, Field(examples=["room-a"])]
    guest_name: Annotated[str, Field(min_length=1, max_length=GUEST_NAME_MAX)]
    date: dt.date
    start_time: Time
    end_time: Time
    attendees: Annotated[int, Field(ge=1, le=ATTENDEES_MAX)]
    purpose: Annotated[str | None, Field(max_length=PURPOSE_MAX)] = None


def no_default(schema: dict[str, Any]) -> None:
    """Optional but not nullable: the schema shows no ``default: null``."""
    schema.pop("default", None)


class ReservationPatch(Body):
    """JSON merge patch (RFC 7396): members present are changed; null clears purpose."""

    # Optional but not nullable (null is refused, except for purpose): a default the schema omits.
    room_id: str = Field(default=None, json_schema_extra=no_default)  # type: ignore[assignment]
    guest_name: Annotated[str, Field(min_length=1, max_length=GUEST_NAME_MAX)] = Field(
        default=None,  # type: ignore[assignment]
        json_schema_extra=no_default,
    )
    date: dt.date = Field(default=None, json_schema_extra=no_default)  # type: ignore[assignment]
    start_time: Time = Field(default=None, json_schema_extra=no_default)  # type: ignore[assignment]
    end_time: Time = Field(default=None, json_schema_extra=no_default)  # type: ignore[assignment]
    attendees: Annotated[int, Field(ge=1, le=ATTENDEES_MAX)] = Field(
        default=None,  # type: ignore[assignment]
        json_schema_extra=no_default,
    )
    purpose: Annotated[str | None, Field(max_length=PURPOSE_MAX)] = None


class CancelRequest(Body):
    reason: Annotated[str | None, Field(max_length=REASON_MAX)] = None
