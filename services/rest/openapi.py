"""The OpenAPI 3.1 document of the REST adapter, built once and identical on every run.

Examples are rendered by the same code that renders responses (representations and the
core's error messages), so they cannot drift from what the server sends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.core.errors import (
    CapacityExceeded,
    IdempotencyKeyReused,
    InternalError,
    InvalidProperty,
    InvalidStateTransition,
    MalformedRequest,
    MissingMandatoryProperty,
    PayloadTooLarge,
    ReservationConflict,
    ReservationNotFound,
    RoomNotFound,
    RosettaError,
    VersionMismatch,
)
from services.core.model import SEED_ROOMS, Event, EventType, Reservation, ReservationStatus
from services.core.validation import (
    ATTENDEES_MAX,
    GUEST_NAME_MAX,
    IDEMPOTENCY_KEY_MAX,
    PAGE_SIZE_MAX,
    PURPOSE_MAX,
    REASON_MAX,
)
from services.rest import errors as rest_errors
from services.rest import representations as rep
from services.rest.errors import STATUS_BY_CODE, problem_body
from services.rest.negotiation import CSV, HAL, JSON, SIREN

Schema = dict[str, Any]

TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
SORT_PATTERN = r"^-?(date|startTime|createdAt)(,-?(date|startTime|createdAt))*$"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> Schema:
    return {"type": [kind, "null"], **extra}


LINK: Schema = {
    "type": "object",
    "required": ["href"],
    "properties": {"href": {"type": "string"}, "method": {"type": "string"}},
}
LINKS: Schema = {"type": "object", "additionalProperties": _ref("Link")}

RESERVATION: Schema = {
    "type": "object",
    "required": [
        "reservationId",
        "roomId",
        "guestName",
        "date",
        "startTime",
        "endTime",
        "attendees",
        "purpose",
        "status",
        "cancelReason",
        "version",
        "createdAt",
        "updatedAt",
        "actions",
    ],
    "properties": {
        "reservationId": {"type": "string"},
        "roomId": {"type": "string"},
        "guestName": {"type": "string", "maxLength": GUEST_NAME_MAX},
        "date": {"type": "string", "format": "date"},
        "startTime": {"type": "string", "pattern": TIME_PATTERN},
        "endTime": {"type": "string", "pattern": TIME_PATTERN},
        "attendees": {"type": "integer", "minimum": 1},
        "purpose": _nullable("string"),
        "status": {"type": "string", "enum": [s.value for s in ReservationStatus]},
        "cancelReason": _nullable("string"),
        "version": {"type": "integer", "minimum": 1},
        "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
        "actions": {"type": "array", "items": {"type": "string", "enum": ["modify", "cancel", "check-in"]}},
        "_links": _ref("Links"),
    },
}
ROOM: Schema = {
    "type": "object",
    "required": ["roomId", "name", "capacity", "location"],
    "properties": {
        "roomId": {"type": "string"},
        "name": {"type": "string"},
        "capacity": {"type": "integer", "minimum": 1},
        "location": {"type": "string"},
        "_links": _ref("Links"),
    },
}
PAGINATION: Schema = {
    "type": "object",
    "required": ["page", "pageSize", "totalItems", "totalPages"],
    "properties": {
        "page": {"type": "integer", "minimum": 1},
        "pageSize": {"type": "integer", "minimum": 1},
        "totalItems": {"type": "integer", "minimum": 0},
        "totalPages": {"type": "integer", "minimum": 0},
    },
}
EVENT: Schema = {
    "type": "object",
    "required": ["eventId", "sequence", "type", "occurredAt", "data"],
    "properties": {
        "eventId": {"type": "string"},
        "sequence": {"type": "integer", "minimum": 1},
        "type": {"type": "string", "enum": [t.value for t in EventType]},
        "occurredAt": {"type": "string", "format": "date-time"},
        "data": {"type": "object", "description": "The reservation after the change."},
    },
}


def _collection(item: str, embedded: str) -> tuple[Schema, Schema]:
    plain = {
        "type": "object",
        "required": ["items", "_links"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "pagination": _ref("Pagination"),
            "_links": _ref("Links"),
        },
    }
    hal = {
        "type": "object",
        "required": ["_links", "_embedded"],
        "properties": {
            "pagination": _ref("Pagination"),
            "_links": _ref("Links"),
            "_embedded": {
                "type": "object",
                "required": [embedded],
                "properties": {embedded: {"type": "array", "items": _ref(item)}},
            },
        },
    }
    return plain, hal


SIREN_ENTITY: Schema = {
    "type": "object",
    "required": ["class"],
    "properties": {
        "class": {"type": "array", "items": {"type": "string"}},
        "rel": {"type": "array", "items": {"type": "string"}},
        "properties": {"type": "object"},
        "entities": {"type": "array", "items": _ref("SirenEntity")},
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "method", "href"],
                "properties": {
                    "name": {"type": "string"},
                    "method": {"type": "string"},
                    "href": {"type": "string"},
                    "type": {"type": "string"},
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["rel", "href"],
                "properties": {
                    "rel": {"type": "array", "items": {"type": "string"}},
                    "href": {"type": "string"},
                },
            },
        },
    },
}
PROBLEM: Schema = {
    "type": "object",
    "description": "RFC 9457 problem details; title and detail follow Accept-Language (en, ko, fr).",
    "required": ["type", "code", "title", "detail", "status", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "code": {"type": "string", "enum": list(STATUS_BY_CODE)},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code"],
                "properties": {"field": {"type": "string"}, "code": {"type": "string"}},
            },
        },
    },
}
_TEXT = {"type": "string"}
RESERVATION_CREATE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["roomId", "guestName", "date", "startTime", "endTime", "attendees"],
    "properties": {
        "roomId": {"type": "string", "examples": ["room-a"]},
        "guestName": {"type": "string", "minLength": 1, "maxLength": GUEST_NAME_MAX},
        "date": {"type": "string", "format": "date"},
        "startTime": {"type": "string", "pattern": TIME_PATTERN},
        "endTime": {"type": "string", "pattern": TIME_PATTERN},
        "attendees": {"type": "integer", "minimum": 1, "maximum": ATTENDEES_MAX},
        "purpose": _nullable("string", maxLength=PURPOSE_MAX),
    },
}
RESERVATION_PATCH: Schema = {
    "type": "object",
    "description": "JSON merge patch (RFC 7396): members present are changed; null clears purpose.",
    "additionalProperties": False,
    "properties": {
        **{k: v for k, v in RESERVATION_CREATE["properties"].items() if k != "purpose"},
        "purpose": _nullable("string", maxLength=PURPOSE_MAX),
    },
}
CANCEL_REQUEST: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": _nullable("string", maxLength=REASON_MAX)},
}
API_ROOT: Schema = {
    "type": "object",
    "required": ["_links"],
    "properties": {"name": _TEXT, "version": _TEXT, "_links": _ref("Links")},
}


def _schemas() -> dict[str, Schema]:
    reservations, reservations_hal = _collection("Reservation", "reservations")
    rooms, rooms_hal = _collection("Room", "rooms")
    events, events_hal = _collection("Event", "events")
    return {
        "Link": LINK,
        "Links": LINKS,
        "Pagination": PAGINATION,
        "Reservation": RESERVATION,
        "ReservationCollection": reservations,
        "ReservationCollectionHal": reservations_hal,
        "Room": ROOM,
        "RoomCollection": rooms,
        "RoomCollectionHal": rooms_hal,
        "Event": EVENT,
        "EventCollection": events,
        "EventCollectionHal": events_hal,
        "ApiRoot": API_ROOT,
        "SirenEntity": SIREN_ENTITY,
        "Problem": PROBLEM,
        "ReservationCreate": RESERVATION_CREATE,
        "ReservationPatch": RESERVATION_PATCH,
        "CancelRequest": CANCEL_REQUEST,
    }


# -- examples, rendered by the real renderers --------------------------------------------------------

_LINKS = rep.Links("")
_AT = datetime(2026, 3, 2, 9, 15, 0, 123000, tzinfo=UTC)
SAMPLE = Reservation(
    reservation_id="rsv_k5v3xq7m2nb4hd6p",
    room_id="room-a",
    guest_name="Ada Lovelace",
    date="2026-03-10",
    start_time="10:00",
    end_time="11:30",
    attendees=3,
    purpose="Study group",
    status=ReservationStatus.RESERVED,
    cancel_reason=None,
    version=1,
    created_at=_AT,
    updated_at=_AT,
)
SAMPLE_EVENT = Event("evt_3m7q2kx9d4hb6n5p", 1, EventType.CREATED.value, _AT, SAMPLE.to_dict())


def _decoded(body: bytes) -> Any:
    return json.loads(body)


def _problem_example(error: RosettaError, status: int | None = None, instance: str = "/api/v1/...") -> Schema:
    status = status or STATUS_BY_CODE[error.code]
    return {"summary": error.title("en"), "value": problem_body(error, "en", instance, status)}


ERROR_EXAMPLES: dict[str, Schema] = {
    "missingProperty": _problem_example(MissingMandatoryProperty(field="guestName")),
    "invalidProperty": _problem_example(InvalidProperty(field="date", params={"reason": "date"})),
    "unknownProperty": _problem_example(InvalidProperty(field="colour", params={"reason": "unknown"})),
    "malformed": _problem_example(MalformedRequest(params={"reason": "syntax"})),
    "roomNotFound": _problem_example(RoomNotFound(params={"roomId": "room-z"})),
    "reservationNotFound": _problem_example(ReservationNotFound(params={"reservationId": "rsv_unknown"})),
    "noRoute": _problem_example(rest_errors.no_route().error, 404),
    "notAcceptable": _problem_example(rest_errors.not_acceptable().error, 406),
    "conflict": _problem_example(
        ReservationConflict(
            params={"roomId": "room-a", "date": "2026-03-10", "startTime": "10:00", "endTime": "11:30"}
        )
    ),
    "stateTransition": _problem_example(
        InvalidStateTransition(params={"status": "CANCELED", "action": "canceled"})
    ),
    "versionMismatch": _problem_example(VersionMismatch(params={"expected": 1, "actual": 2})),
    "payloadTooLarge": _problem_example(PayloadTooLarge(params={"limit": 262144})),
    "unsupportedMediaType": _problem_example(rest_errors.unsupported_media_type().error, 415),
    "rangeNotSatisfiable": _problem_example(rest_errors.range_not_satisfiable(57).error, 416),
    "capacity": _problem_example(
        CapacityExceeded(field="attendees", params={"roomId": "room-a", "capacity": 4, "attendees": 9})
    ),
    "idempotencyReused": _problem_example(
        IdempotencyKeyReused(field="idempotencyKey", params={"key": "3f1c9a"})
    ),
    "internal": _problem_example(InternalError()),
}

ERROR_RESPONSES: dict[int, tuple[str, tuple[str, ...]]] = {
    400: (
        "The request is invalid (catalog code in `code`, the field in `errors`).",
        ("missingProperty", "invalidProperty", "unknownProperty", "malformed"),
    ),
    404: ("Not found.", ("roomNotFound", "reservationNotFound", "noRoute")),
    406: ("None of the accepted media types can be produced.", ("notAcceptable",)),
    409: ("Conflicts with the current state.", ("conflict", "stateTransition")),
    412: ("If-Match does not name the current version.", ("versionMismatch",)),
    413: ("The body is larger than the limit.", ("payloadTooLarge",)),
    415: ("The body is not sent as a supported media type.", ("unsupportedMediaType",)),
    416: ("The requested item range lies outside the collection.", ("rangeNotSatisfiable",)),
    422: ("A business rule refuses the request.", ("capacity", "idempotencyReused")),
    500: ("Unexpected server error; no internals are disclosed.", ("internal",)),
}


def _error_response(status: int, only: tuple[str, ...] | None = None) -> Schema:
    description, names = ERROR_RESPONSES[status]
    chosen = [n for n in names if only is None or n in only] or list(names)
    response: Schema = {
        "description": description,
        "headers": {"Content-Language": _header("Language of title and detail.")},
        "content": {
            "application/problem+json": {
                "schema": _ref("Problem"),
                "examples": {name: ERROR_EXAMPLES[name] for name in chosen},
            }
        },
    }
    if status == 416:
        response["headers"]["Content-Range"] = _header("`items */<total>`.", "items */57")
    return response


def _header(description: str, example: str | None = None) -> Schema:
    header: Schema = {"description": description, "schema": {"type": "string"}}
    if example is not None:
        header["example"] = example
    return header


# -- parameters ------------------------------------------------------------------------------------


def _param(
    name: str, where: str, schema: Schema, description: str, *, required: bool = False, example: Any = None
) -> Schema:
    parameter = {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": schema,
    }
    if example is not None:
        parameter["example"] = example
    return parameter


PARAMETERS: dict[str, Schema] = {
    "reservationId": _param(
        "reservationId",
        "path",
        {"type": "string", "pattern": ID_PATTERN},
        "Reservation id.",
        required=True,
        example=SAMPLE.reservation_id,
    ),
    "roomId": _param(
        "roomId",
        "path",
        {"type": "string", "pattern": ID_PATTERN},
        "Room id.",
        required=True,
        example="room-a",
    ),
    "status": _param(
        "status",
        "query",
        {"type": "string", "enum": [s.value for s in ReservationStatus]},
        "Only reservations in this status.",
    ),
    "roomIdFilter": _param("roomId", "query", {"type": "string"}, "Only reservations of this room."),
    "dateFrom": _param(
        "dateFrom", "query", {"type": "string", "format": "date"}, "Earliest date (inclusive)."
    ),
    "dateTo": _param("dateTo", "query", {"type": "string", "format": "date"}, "Latest date (inclusive)."),
    "guestName": _param("guestName", "query", {"type": "string"}, "Case-insensitive part of the guest name."),
    "sort": _param(
        "sort",
        "query",
        {"type": "string", "pattern": SORT_PATTERN},
        "Comma-separated keys among date, startTime, createdAt; `-` for descending.",
    ),
    "page": _param(
        "page", "query", {"type": "integer", "minimum": 1, "maximum": 999999999, "default": 1}, "Page number."
    ),
    "pageSize": _param(
        "pageSize",
        "query",
        {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX, "default": 20},
        "Page size.",
    ),
    "Range": _param(
        "Range",
        "header",
        {"type": "string", "pattern": r"^items=\d{1,9}-\d{0,9}$"},
        "Item range, e.g. `items=0-9` (at most 100 items): answered with 206 and Content-Range.",
    ),
    "If-None-Match": _param(
        "If-None-Match", "header", {"type": "string"}, "An ETag; 304 when it is still current."
    ),
    "If-Match": _param(
        "If-Match",
        "header",
        {"type": "string"},
        "The ETag of the version being changed (expectedVersion); 412 when stale.",
    ),
    "Idempotency-Key": _param(
        "Idempotency-Key",
        "header",
        {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
        "Retries with the same key and body return the first result.",
    ),
    "Accept-Language": _param(
        "Accept-Language",
        "header",
        {"type": "string"},
        "Language of error messages: en (default), ko, fr; q-values honoured.",
    ),
    "after": _param(
        "after",
        "query",
        {"type": "integer", "minimum": 0, "maximum": 999999999, "default": 0},
        "Events after this sequence number.",
    ),
    "types": _param(
        "types",
        "query",
        {
            "type": "string",
            "pattern": r"^reservation\.(created|modified|canceled|checked_in)"
            r"(,reservation\.(created|modified|canceled|checked_in))*$",
        },
        "Comma-separated event types.",
    ),
    "limit": _param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "Most events returned.",
    ),
}


def _p(*names: str) -> list[Schema]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in (*names, "Accept-Language")]


# -- responses ------------------------------------------------------------------------------------

_VARY = _header("Always `Accept, Accept-Language`.", "Accept, Accept-Language")


def _item_content(schema: str, json_example: Any, siren_example: Any) -> Schema:
    return {
        JSON: {"schema": _ref(schema), "example": json_example},
        HAL: {"schema": _ref(schema), "example": json_example},
        SIREN: {"schema": _ref("SirenEntity"), "example": siren_example},
    }


def _reservation_response(description: str, *, location: bool = False) -> Schema:
    headers = {"ETag": _header("Version tag of this reservation.", '"rsv_k5v3xq7m2nb4hd6p.1"'), "Vary": _VARY}
    if location:
        headers["Location"] = _header("URL of the new reservation.")
    return {
        "description": description,
        "headers": headers,
        "content": _item_content(
            "Reservation",
            rep.reservation_document(_LINKS, SAMPLE, JSON),
            rep.reservation_document(_LINKS, SAMPLE, SIREN),
        ),
    }


def _collection_response(
    description: str, schema: str, examples: dict[str, bytes], *, partial: bool
) -> Schema:
    headers = {
        "Link": _header("RFC 8288 links: self, first, prev, next, last."),
        "Vary": _VARY,
    }
    if schema != "Event":
        headers["Accept-Ranges"] = _header("`items`.", "items")
    if partial:
        headers["Content-Range"] = _header("The returned items and the total.", "items 0-9/57")
    plain, hal = (f"{schema}Collection", f"{schema}CollectionHal")
    return {
        "description": description,
        "headers": headers,
        "content": {
            JSON: {"schema": _ref(plain), "example": _decoded(examples[JSON])},
            HAL: {"schema": _ref(hal), "example": _decoded(examples[HAL])},
            SIREN: {"schema": _ref("SirenEntity"), "example": _decoded(examples[SIREN])},
            CSV: {"schema": {"type": "string"}, "example": examples[CSV].decode()},
        },
    }


def _reservation_examples() -> dict[str, bytes]:
    paging = rep.pagination(1, 20, 1)
    urls = rep.page_links(_LINKS.reservations, {}, 1, 20, 1)
    return {m: rep.reservation_collection(_LINKS, [SAMPLE], paging, urls, m) for m in (JSON, HAL, SIREN, CSV)}


def _room_examples() -> dict[str, bytes]:
    paging = rep.pagination(1, PAGE_SIZE_MAX, len(SEED_ROOMS))
    urls = {"self": _LINKS.rooms, "first": _LINKS.rooms, "last": _LINKS.rooms}
    return {m: rep.room_collection(_LINKS, SEED_ROOMS, paging, urls, m) for m in (JSON, HAL, SIREN, CSV)}


def _event_examples() -> dict[str, bytes]:
    urls = {"self": _LINKS.events + "?after=0", "next": _LINKS.events + "?after=1"}
    return {m: rep.event_collection(_LINKS, [SAMPLE_EVENT], urls, m) for m in (JSON, HAL, SIREN, CSV)}


def _errors(*statuses: int, only: tuple[str, ...] | None = None) -> dict[str, Schema]:
    return {str(status): _error_response(status, only) for status in (*statuses, 500)}


def _body(schema: str, example: Any, media: tuple[str, ...] = (JSON,), required: bool = True) -> Schema:
    return {
        "required": required,
        "content": {m: {"schema": _ref(schema), "example": example} for m in media},
    }


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    parameters: list[Schema],
    responses: Schema,
    body: Schema | None = None,
    description: str | None = None,
) -> Schema:
    operation: Schema = {"tags": [tag], "summary": summary, "operationId": operation_id}
    if description:
        operation["description"] = description
    operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = responses
    return operation


def _paths() -> dict[str, Schema]:
    reservation_examples = _reservation_examples()
    room_examples = _room_examples()
    room = SEED_ROOMS[0]
    list_filters = ("status", "roomIdFilter", "dateFrom", "dateTo", "guestName", "sort", "page", "pageSize")
    room_filters = tuple(name for name in list_filters if name != "roomIdFilter")
    reservation_collection = {
        "200": _collection_response(
            "A page of reservations.", "Reservation", reservation_examples, partial=False
        ),
        "206": _collection_response(
            "The requested item range.", "Reservation", reservation_examples, partial=True
        ),
    }
    not_found_reservation = ("reservationNotFound",)
    create_example = {
        "roomId": "room-a",
        "guestName": "Ada Lovelace",
        "date": "2026-03-10",
        "startTime": "10:00",
        "endTime": "11:30",
        "attendees": 3,
        "purpose": "Study group",
    }
    created = _reservation_response("Created.", location=True)
    return {
        "/api/v1": {
            "get": _operation(
                "getApiRoot",
                "API root: links to every collection",
                "root",
                _p(),
                {
                    "200": {
                        "description": "Links to every collection.",
                        "headers": {"Vary": _VARY},
                        "content": {
                            JSON: {
                                "schema": _ref("ApiRoot"),
                                "example": _decoded(rep.root_document(_LINKS, JSON)),
                            },
                            HAL: {
                                "schema": _ref("ApiRoot"),
                                "example": _decoded(rep.root_document(_LINKS, HAL)),
                            },
                            SIREN: {
                                "schema": _ref("SirenEntity"),
                                "example": _decoded(rep.root_document(_LINKS, SIREN)),
                            },
                        },
                    },
                    **_errors(400, 406, only=("unknownProperty", "notAcceptable")),
                },
            )
        },
        "/api/v1/rooms": {
            "get": _operation(
                "listRooms",
                "List rooms",
                "rooms",
                _p("Range"),
                {
                    "200": _collection_response("Every room.", "Room", room_examples, partial=False),
                    "206": _collection_response(
                        "The requested item range.", "Room", room_examples, partial=True
                    ),
                    **_errors(
                        400, 406, 416, only=("unknownProperty", "notAcceptable", "rangeNotSatisfiable")
                    ),
                },
            )
        },
        "/api/v1/rooms/{roomId}": {
            "get": _operation(
                "getRoom",
                "Get a room",
                "rooms",
                _p("roomId"),
                {
                    "200": {
                        "description": "The room.",
                        "headers": {"Vary": _VARY},
                        "content": _item_content(
                            "Room",
                            rep.room_document(_LINKS, room, JSON),
                            rep.room_document(_LINKS, room, SIREN),
                        ),
                    },
                    **_errors(400, 404, 406, only=("unknownProperty", "roomNotFound", "notAcceptable")),
                },
            )
        },
        "/api/v1/rooms/{roomId}/reservations": {
            "get": _operation(
                "listRoomReservations",
                "List one room's reservations",
                "rooms",
                _p("roomId", *room_filters, "Range"),
                {
                    **reservation_collection,
                    **_errors(
                        400,
                        404,
                        406,
                        416,
                        only=(
                            "invalidProperty",
                            "unknownProperty",
                            "roomNotFound",
                            "notAcceptable",
                            "rangeNotSatisfiable",
                        ),
                    ),
                },
            )
        },
        "/api/v1/reservations": {
            "get": _operation(
                "listReservations",
                "List reservations (filter, sort, page)",
                "reservations",
                _p(*list_filters, "Range"),
                {
                    **reservation_collection,
                    **_errors(
                        400,
                        406,
                        416,
                        only=("invalidProperty", "unknownProperty", "notAcceptable", "rangeNotSatisfiable"),
                    ),
                },
            ),
            "post": _operation(
                "createReservation",
                "Create a reservation",
                "reservations",
                _p("Idempotency-Key"),
                {
                    "201": created,
                    **_errors(
                        400,
                        404,
                        406,
                        409,
                        413,
                        415,
                        422,
                        only=(
                            "missingProperty",
                            "invalidProperty",
                            "unknownProperty",
                            "malformed",
                            "roomNotFound",
                            "notAcceptable",
                            "conflict",
                            "payloadTooLarge",
                            "unsupportedMediaType",
                            "capacity",
                            "idempotencyReused",
                        ),
                    ),
                },
                body=_body("ReservationCreate", create_example),
            ),
        },
        "/api/v1/reservations/{reservationId}": {
            "get": _operation(
                "getReservation",
                "Get a reservation",
                "reservations",
                _p("reservationId", "If-None-Match"),
                {
                    "200": _reservation_response("The reservation."),
                    "304": {
                        "description": "Not modified (If-None-Match).",
                        "headers": {"ETag": _header("The current ETag."), "Vary": _VARY},
                    },
                    **_errors(
                        400, 404, 406, only=("unknownProperty", *not_found_reservation, "notAcceptable")
                    ),
                },
            ),
            "patch": _operation(
                "modifyReservation",
                "Modify a reservation (JSON merge patch)",
                "reservations",
                _p("reservationId", "If-Match"),
                {
                    "200": _reservation_response("The modified reservation."),
                    **_errors(
                        400,
                        404,
                        406,
                        409,
                        412,
                        413,
                        415,
                        422,
                        only=(
                            "invalidProperty",
                            "unknownProperty",
                            "malformed",
                            *not_found_reservation,
                            "roomNotFound",
                            "notAcceptable",
                            "conflict",
                            "stateTransition",
                            "versionMismatch",
                            "payloadTooLarge",
                            "unsupportedMediaType",
                            "capacity",
                        ),
                    ),
                },
                body=_body(
                    "ReservationPatch",
                    {"attendees": 4, "purpose": None},
                    ("application/merge-patch+json", JSON),
                ),
            ),
        },
        "/api/v1/reservations/{reservationId}/cancel": {
            "post": _operation(
                "cancelReservation",
                "Cancel a reservation",
                "reservations",
                _p("reservationId", "Idempotency-Key"),
                {
                    "200": _reservation_response("The canceled reservation."),
                    **_errors(
                        400,
                        404,
                        406,
                        409,
                        413,
                        415,
                        422,
                        only=(
                            "invalidProperty",
                            "unknownProperty",
                            "malformed",
                            *not_found_reservation,
                            "notAcceptable",
                            "stateTransition",
                            "payloadTooLarge",
                            "unsupportedMediaType",
                            "idempotencyReused",
                        ),
                    ),
                },
                body=_body("CancelRequest", {"reason": "Exam moved"}, required=False),
            )
        },
        "/api/v1/reservations/{reservationId}/check-in": {
            "post": _operation(
                "checkInReservation",
                "Check a reservation in",
                "reservations",
                _p("reservationId"),
                {
                    "200": _reservation_response("The checked-in reservation."),
                    **_errors(
                        400,
                        404,
                        406,
                        409,
                        413,
                        415,
                        only=(
                            "unknownProperty",
                            "malformed",
                            *not_found_reservation,
                            "notAcceptable",
                            "stateTransition",
                            "payloadTooLarge",
                            "unsupportedMediaType",
                        ),
                    ),
                },
            )
        },
        "/api/v1/events": {
            "get": _operation(
                "listEvents",
                "Poll the event log",
                "events",
                _p("after", "types", "limit"),
                {
                    "200": _collection_response(
                        "Events after `after`, with a `next` link.", "Event", _event_examples(), partial=False
                    ),
                    **_errors(400, 406, only=("invalidProperty", "unknownProperty", "notAcceptable")),
                },
                description="Follow the `next` link (`?after=<last sequence>`) to read on without gaps.",
            )
        },
    }


def build_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rosetta REST API",
            "version": "1.0.0",
            "description": (
                "Study-room reservations, Richardson level 3: hypermedia links and actions, content "
                "negotiation (JSON, HAL, Siren, CSV), item ranges, ETags, idempotency keys, and RFC 9457 "
                "problem details localized by Accept-Language."
            ),
        },
        "tags": [
            {"name": "root", "description": "Entry point."},
            {"name": "rooms", "description": "Study rooms and their reservations."},
            {"name": "reservations", "description": "Reservations and their actions."},
            {"name": "events", "description": "The ordered log of every change."},
        ],
        "paths": _paths(),
        "components": {"schemas": _schemas(), "parameters": PARAMETERS},
    }
