"""What FastAPI's generated OpenAPI document of REST cannot know by itself, added to it.

Per operation: its id, summary and tag, the representations beside JSON (HAL, Siren, CSV) with
examples rendered by the real renderers (so they cannot drift from what the server sends), the
headers it sets, the problems it may answer with catalog examples, and OpenAPI links from a
reservation to its actions. Once for the document: the schemas only referenced from those
(Siren, problems, request bodies), the ``Accept-Language`` parameter every operation honours,
query parameters that are absent rather than null, and no FastAPI 422 (its validation errors are
catalog problems, see ``services.rest.http``).

Size: over 500 lines: the enrichment is one pass over the generated document, and its examples
are rendered by the real renderers beside the operations they illustrate.
"""

# pylint: disable=too-many-lines

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

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
from services.core.validation import PAGE_SIZE_MAX
from services.rest import errors as rest_errors
from services.rest import models
from services.rest import representations as rep
from services.rest.errors import PROBLEM_MEDIA_TYPE, STATUS_BY_CODE, problem_body
from services.rest.negotiation import CSV, HAL, JSON, MERGE_PATCH, SIREN

Schema = dict[str, Any]

DESCRIPTION = (
    "Study-room reservations, Richardson level 3: hypermedia links and actions, content "
    "negotiation (JSON, HAL, Siren, CSV), item ranges, ETags, idempotency keys, and RFC 9457 "
    "problem details localized by Accept-Language."
)
TAGS = [
    {"name": "root", "description": "Entry point."},
    {"name": "rooms", "description": "Study rooms and their reservations."},
    {"name": "reservations", "description": "Reservations and their actions."},
    {"name": "events", "description": "The ordered log of every change."},
    {"name": "webhooks", "description": "Webhook subscriptions and their deliveries."},
]
SORT_PATTERN = r"^-?(date|startTime|createdAt)(,-?(date|startTime|createdAt))*$"
EVENT_TYPES = [t.value for t in EventType]
# Schemas referenced only from the enrichment (FastAPI registers those of response ``model``s).
EXTRA_MODELS: list[type[BaseModel]] = [
    models.Problem,
    models.SirenEntity,
    models.ReservationCollectionHal,
    models.RoomCollectionHal,
    models.EventCollectionHal,
    models.ReservationCreate,
    models.ReservationPatch,
    models.CancelRequest,
]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def header(description: str, example: str | None = None) -> Schema:
    found: Schema = {"description": description, "schema": {"type": "string"}}
    if example is not None:
        found["example"] = example
    return found


VARY_HEADER = header("Always `Accept, Accept-Language`.", "Accept, Accept-Language")


# -- examples, rendered by the real renderers --------------------------------------------------------

LINKS = rep.Links("")
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
CREATE_EXAMPLE = {
    "roomId": "room-a",
    "guestName": "Ada Lovelace",
    "date": "2026-03-10",
    "startTime": "10:00",
    "endTime": "11:30",
    "attendees": 3,
    "purpose": "Study group",
}


def problem_example(error: RosettaError, status: int | None = None, instance: str = "/api/v1/...") -> Schema:
    status = status or STATUS_BY_CODE[error.code]
    return {"summary": error.title("en"), "value": problem_body(error, "en", instance, status)}


ERROR_EXAMPLES: dict[str, Schema] = {
    "missingProperty": problem_example(MissingMandatoryProperty(field="guestName")),
    "invalidProperty": problem_example(InvalidProperty(field="date", params={"reason": "date"})),
    "unknownProperty": problem_example(InvalidProperty(field="colour", params={"reason": "unknown"})),
    "malformed": problem_example(MalformedRequest(params={"reason": "syntax"})),
    "roomNotFound": problem_example(RoomNotFound(params={"roomId": "room-z"})),
    "reservationNotFound": problem_example(ReservationNotFound(params={"reservationId": "rsv_unknown"})),
    "noRoute": problem_example(rest_errors.no_route().error, 404),
    "notAcceptable": problem_example(rest_errors.not_acceptable().error, 406),
    "conflict": problem_example(
        ReservationConflict(
            params={"roomId": "room-a", "date": "2026-03-10", "startTime": "10:00", "endTime": "11:30"}
        )
    ),
    "stateTransition": problem_example(
        InvalidStateTransition(params={"status": "CANCELED", "action": "canceled"})
    ),
    "versionMismatch": problem_example(VersionMismatch(params={"expected": 1, "actual": 2})),
    "payloadTooLarge": problem_example(PayloadTooLarge(params={"limit": 262144})),
    "unsupportedMediaType": problem_example(rest_errors.unsupported_media_type().error, 415),
    "rangeNotSatisfiable": problem_example(rest_errors.range_not_satisfiable(57).error, 416),
    "capacity": problem_example(
        CapacityExceeded(field="attendees", params={"roomId": "room-a", "capacity": 4, "attendees": 9})
    ),
    "idempotencyReused": problem_example(
        IdempotencyKeyReused(field="idempotencyKey", params={"key": "3f1c9a"})
    ),
    "internal": problem_example(InternalError()),
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


def add_error_examples(
    examples: dict[str, Schema], responses: dict[int, tuple[str, tuple[str, ...]]]
) -> None:
    """More catalog examples and problem statuses (the webhook API's, for instance)."""
    ERROR_EXAMPLES.update(examples)
    ERROR_RESPONSES.update(responses)


def problems(*statuses: int, only: tuple[str, ...] = ()) -> dict[int | str, Schema]:
    """The problem responses of an operation (500 always), each with its catalog examples."""
    found: dict[int | str, Schema] = {}
    for status in (*statuses, 500):
        description, names = ERROR_RESPONSES[status]
        chosen = [n for n in names if not only or n in only] or list(names)
        response: Schema = {
            "description": description,
            "headers": {"Content-Language": header("Language of title and detail.")},
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": ref("Problem"),
                    "examples": {name: ERROR_EXAMPLES[name] for name in chosen},
                }
            },
        }
        if status == 416:
            response["headers"]["Content-Range"] = header("`items */<total>`.", "items */57")
        found[status] = response
    return found


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[int | str, Schema],
    *,
    body: Schema | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments of one path operation's decorator: its documentation."""
    extra: Schema = {"requestBody": body} if body is not None else {}
    return {
        "operation_id": operation_id,
        "summary": summary,
        "tags": [tag],
        "description": description,
        "response_model": None,
        "responses": responses,
        "openapi_extra": extra or None,
    }


def request_body(
    schema: str, example: Any, media: tuple[str, ...] = (JSON,), *, required: bool = True
) -> Schema:
    return {"required": required, "content": {m: {"schema": ref(schema), "example": example} for m in media}}


def _decoded(body: bytes) -> Any:
    return json.loads(body)


def _action_links(operations: tuple[str, ...], where: str = "$response.body#/reservationId") -> Schema:
    return {name: {"operationId": name, "parameters": {"reservationId": where}} for name in operations}


RESERVATION_LINKS = _action_links(
    ("getReservation", "modifyReservation", "cancelReservation", "checkInReservation")
)


def _item(model: type[BaseModel], description: str, json_example: Any, siren_example: Any) -> Schema:
    return {
        "model": model,
        "description": description,
        "headers": {"Vary": VARY_HEADER},
        "content": {
            JSON: {"example": json_example},
            HAL: {"schema": ref(model.__name__), "example": json_example},
            SIREN: {"schema": ref("SirenEntity"), "example": siren_example},
        },
    }


def _reservation(description: str, *, location: bool = False) -> Schema:
    response = _item(
        models.Reservation,
        description,
        rep.reservation_document(LINKS, SAMPLE, JSON),
        rep.reservation_document(LINKS, SAMPLE, SIREN),
    )
    response["headers"]["ETag"] = header("Version tag of this reservation.", '"rsv_k5v3xq7m2nb4hd6p.1"')
    if location:
        response["headers"]["Location"] = header("URL of the new reservation.")
    response["links"] = RESERVATION_LINKS
    return response


def _collection(
    model: type[BaseModel],
    hal: type[BaseModel],
    description: str,
    examples: dict[str, bytes],
    *,
    partial: bool,
) -> Schema:
    headers = {"Link": header("RFC 8288 links: self, first, prev, next, last."), "Vary": VARY_HEADER}
    if model is not models.EventCollection:
        headers["Accept-Ranges"] = header("`items`.", "items")
    if partial:
        headers["Content-Range"] = header("The returned items and the total.", "items 0-9/57")
    return {
        "model": model,
        "description": description,
        "headers": headers,
        "content": {
            JSON: {"example": _decoded(examples[JSON])},
            HAL: {"schema": ref(hal.__name__), "example": _decoded(examples[HAL])},
            SIREN: {"schema": ref("SirenEntity"), "example": _decoded(examples[SIREN])},
            CSV: {"schema": {"type": "string"}, "example": examples[CSV].decode()},
        },
    }


def _reservation_examples() -> dict[str, bytes]:
    paging = rep.pagination(1, 20, 1)
    urls = rep.page_links(LINKS.reservations, {}, 1, 20, 1)
    return {m: rep.reservation_collection(LINKS, [SAMPLE], paging, urls, m) for m in (JSON, HAL, SIREN, CSV)}


def _reservation_collection() -> dict[int | str, Schema]:
    examples = _reservation_examples()
    hal = models.ReservationCollectionHal
    return {
        200: _collection(
            models.ReservationCollection, hal, "A page of reservations.", examples, partial=False
        ),
        206: _collection(
            models.ReservationCollection, hal, "The requested item range.", examples, partial=True
        ),
    }


NOT_ACCEPTABLE = ("unknownProperty", "notAcceptable")


# -- the operations -------------------------------------------------------------------------------------


def get_api_root() -> dict[str, Any]:
    root = {
        "model": models.ApiRoot,
        "description": "Links to every collection.",
        "headers": {"Vary": VARY_HEADER},
        "content": {
            JSON: {"example": _decoded(rep.root_document(LINKS, JSON))},
            HAL: {"schema": ref("ApiRoot"), "example": _decoded(rep.root_document(LINKS, HAL))},
            SIREN: {"schema": ref("SirenEntity"), "example": _decoded(rep.root_document(LINKS, SIREN))},
        },
    }
    return operation(
        "getApiRoot",
        "API root: links to every collection",
        "root",
        {200: root, **problems(400, 406, only=NOT_ACCEPTABLE)},
    )


def list_rooms() -> dict[str, Any]:
    paging = rep.pagination(1, PAGE_SIZE_MAX, len(SEED_ROOMS))
    urls = {"self": LINKS.rooms, "first": LINKS.rooms, "last": LINKS.rooms}
    examples = {m: rep.room_collection(LINKS, SEED_ROOMS, paging, urls, m) for m in (JSON, HAL, SIREN, CSV)}
    hal = models.RoomCollectionHal
    return operation(
        "listRooms",
        "List rooms",
        "rooms",
        {
            200: _collection(models.RoomCollection, hal, "Every room.", examples, partial=False),
            206: _collection(models.RoomCollection, hal, "The requested item range.", examples, partial=True),
            **problems(400, 406, 416, only=(*NOT_ACCEPTABLE, "rangeNotSatisfiable")),
        },
    )


def get_room() -> dict[str, Any]:
    room = SEED_ROOMS[0]
    response = _item(
        models.Room, "The room.", rep.room_document(LINKS, room, JSON), rep.room_document(LINKS, room, SIREN)
    )
    response["links"] = {
        "listRoomReservations": {
            "operationId": "listRoomReservations",
            "parameters": {"roomId": "$response.body#/roomId"},
        }
    }
    return operation(
        "getRoom",
        "Get a room",
        "rooms",
        {200: response, **problems(400, 404, 406, only=(*NOT_ACCEPTABLE, "roomNotFound"))},
    )


def list_room_reservations() -> dict[str, Any]:
    refusals = ("invalidProperty", *NOT_ACCEPTABLE, "roomNotFound", "rangeNotSatisfiable")
    return operation(
        "listRoomReservations",
        "List one room's reservations",
        "rooms",
        {**_reservation_collection(), **problems(400, 404, 406, 416, only=refusals)},
    )


def list_reservations() -> dict[str, Any]:
    refusals = ("invalidProperty", *NOT_ACCEPTABLE, "rangeNotSatisfiable")
    return operation(
        "listReservations",
        "List reservations (filter, sort, page)",
        "reservations",
        {**_reservation_collection(), **problems(400, 406, 416, only=refusals)},
    )


def create_reservation() -> dict[str, Any]:
    refusals = (
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
    )
    return operation(
        "createReservation",
        "Create a reservation",
        "reservations",
        {
            201: _reservation("Created.", location=True),
            **problems(400, 404, 406, 409, 413, 415, 422, only=refusals),
        },
        body=request_body("ReservationCreate", CREATE_EXAMPLE),
    )


def get_reservation() -> dict[str, Any]:
    not_modified = {
        "description": "Not modified (If-None-Match).",
        "headers": {"ETag": header("The current ETag."), "Vary": VARY_HEADER},
    }
    refusals = (*NOT_ACCEPTABLE, "reservationNotFound")
    return operation(
        "getReservation",
        "Get a reservation",
        "reservations",
        {200: _reservation("The reservation."), 304: not_modified, **problems(400, 404, 406, only=refusals)},
    )


def modify_reservation() -> dict[str, Any]:
    refusals = (
        "invalidProperty",
        "unknownProperty",
        "malformed",
        "reservationNotFound",
        "roomNotFound",
        "notAcceptable",
        "conflict",
        "stateTransition",
        "versionMismatch",
        "payloadTooLarge",
        "unsupportedMediaType",
        "capacity",
    )
    return operation(
        "modifyReservation",
        "Modify a reservation (JSON merge patch)",
        "reservations",
        {
            200: _reservation("The modified reservation."),
            **problems(400, 404, 406, 409, 412, 413, 415, 422, only=refusals),
        },
        body=request_body("ReservationPatch", {"attendees": 4, "purpose": None}, (MERGE_PATCH, JSON)),
    )


def cancel_reservation() -> dict[str, Any]:
    refusals = (
        "invalidProperty",
        "unknownProperty",
        "malformed",
        "reservationNotFound",
        "notAcceptable",
        "stateTransition",
        "payloadTooLarge",
        "unsupportedMediaType",
        "idempotencyReused",
    )
    return operation(
        "cancelReservation",
        "Cancel a reservation",
        "reservations",
        {
            200: _reservation("The canceled reservation."),
            **problems(400, 404, 406, 409, 413, 415, 422, only=refusals),
        },
        body=request_body("CancelRequest", {"reason": "Exam moved"}, required=False),
    )


def check_in_reservation() -> dict[str, Any]:
    refusals = (
        "unknownProperty",
        "malformed",
        "reservationNotFound",
        "notAcceptable",
        "stateTransition",
        "payloadTooLarge",
        "unsupportedMediaType",
    )
    return operation(
        "checkInReservation",
        "Check a reservation in",
        "reservations",
        {
            200: _reservation("The checked-in reservation."),
            **problems(400, 404, 406, 409, 413, 415, only=refusals),
        },
    )


def list_events() -> dict[str, Any]:
    urls = {"self": LINKS.events + "?after=0", "next": LINKS.events + "?after=1"}
    examples = {m: rep.event_collection(LINKS, [SAMPLE_EVENT], urls, m) for m in (JSON, HAL, SIREN, CSV)}
    page = _collection(
        models.EventCollection,
        models.EventCollectionHal,
        "Events after `after`, with a `next` link.",
        examples,
        partial=False,
    )
    page["content"]["text/event-stream"] = {
        "schema": {"type": "string"},
        "example": "retry: 2000\n\nid: 1\nevent: reservation.created\ndata: {...}\n\n",
    }
    return operation(
        "listEvents",
        "Poll the event log, or follow it as server-sent events",
        "events",
        {200: page, **problems(400, 406, only=("invalidProperty", *NOT_ACCEPTABLE))},
        description=(
            "Follow the `next` link (`?after=<last sequence>`) to read on without gaps; with "
            "`Accept: text/event-stream` the log is streamed, resumable with `Last-Event-ID`."
        ),
    )


# -- the document ----------------------------------------------------------------------------------------

ACCEPT_LANGUAGE: Schema = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": "Language of error messages: en (default), ko, fr; q-values honoured.",
    "schema": {"type": "string"},
}


def _not_null(schema: Schema) -> Schema:
    """``anyOf: [X, null]`` -> X: an optional parameter is absent, never null."""
    variants = schema.get("anyOf")
    if not isinstance(variants, list):
        return schema
    kept = [v for v in variants if v != {"type": "null"}]
    if len(kept) != 1:
        return schema
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **merged}


def _restore_examples(document: Schema, routes: list[Any]) -> None:
    """FastAPI drops every null from the document (``exclude_none``), examples included: put the
    examples back as the routes declare them (``"purpose": null`` is part of the contract)."""
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation_doc = document["paths"][route.path_format][method.lower()]
            for status, declared in route.responses.items():
                documented = operation_doc["responses"][str(status)]
                for media, content in declared.get("content", {}).items():
                    for key in ("example", "examples"):
                        if key in content:
                            documented["content"][media][key] = content[key]
            body = (route.openapi_extra or {}).get("requestBody")
            if body is not None:
                operation_doc["requestBody"] = body


def enrich(document: Schema, extra_models: list[type[BaseModel]], routes: list[Any]) -> Schema:
    _restore_examples(document, routes)
    # Paths in one stable reading order, whatever order the routes are tried in.
    document["paths"] = dict(sorted(document.get("paths", {}).items()))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, definitions = models_json_schema(
        [(model, "validation") for model in extra_models], ref_template="#/components/schemas/{model}"
    )
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in document.get("paths", {}).values():
        for operation_doc in item.values():
            responses = operation_doc.get("responses", {})
            validation = responses.get("422", {}).get("content", {}).get(JSON, {}).get("schema", {})
            if validation == ref("HTTPValidationError"):
                del responses["422"]
            parameters = operation_doc.setdefault("parameters", [])
            for parameter in parameters:
                parameter["schema"] = _not_null(parameter.get("schema", {}))
            if not any(p.get("name") == "Accept-Language" for p in parameters):
                parameters.append(ACCEPT_LANGUAGE)
            security = operation_doc.get("security")
            if security and {"oauth2": []} in security:
                security.append({})  # no scope needed: anonymous callers may call it too
    return document


def install(app: FastAPI, extra_models: list[type[BaseModel]] | None = None) -> None:
    """``app.openapi()`` returns FastAPI's document, enriched, built once."""
    wanted = [*EXTRA_MODELS, *(extra_models or ())]

    def build() -> Schema:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
                separate_input_output_schemas=False,
            )
            app.openapi_schema = enrich(document, wanted, list(app.routes))
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
