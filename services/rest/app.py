"""The REST adapter: Richardson level 3 resources over the core, as FastAPI path operations.

Each operation declares its path, query and header parameters with types, its representations
with pydantic models (``services.rest.models``) and its refusals as problem responses; content
negotiation, the strict query string and the body reader are dependencies (``services.rest.http``).
FastAPI generates the OpenAPI document from that; ``services.rest.openapi`` only enriches it
(examples rendered by the real renderers, problem examples, links, security schemes).

What FastAPI does not express, and how it is done here instead:
- One operation answers in up to four media types chosen by ``Accept`` (JSON, HAL, Siren, CSV)
  and sets ETag, Link, Content-Range: FastAPI serializes one model per status. The handlers
  render with ``representations`` (orjson) and return ``Response`` objects, which also keeps
  FastAPI from re-validating our own output on the hot path; the models document every type.
- Request bodies are validated by the core, the one rule every style shares (same codes, fields
  and localized messages), not by pydantic: a pydantic body would refuse first, in its own words.
- HEAD, OPTIONS and a 405 with a complete ``Allow``: FastAPI routes HEAD nowhere and answers no
  OPTIONS; ``Edge`` and one hidden fallback route per path (``add_method_fallbacks``) do.
- FastAPI's 422 never reaches a client: its validation errors become catalog problems.

Size: over 500 lines, and ``add_resources`` over 80: the path operations are closures over the
one ``ServerApi``, its options and guard (FastAPI reads their annotations where they are defined),
so they are written in one function; splitting it by resource is the next step.
"""

# pylint: disable=too-many-lines

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations of path
# operations defined in a closure, so they must be evaluated where the closure's names exist.

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Header, Path, Query
from fastapi.openapi.docs import get_swagger_ui_html
from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from services.core import messages
from services.core.access import Guard
from services.core.api import ServerApi
from services.core.errors import Unauthenticated
from services.core.model import Event, Reservation, ReservationDraft, ReservationQuery
from services.core.service import EVENT_BATCH_MAX
from services.core.validation import PAGE_SIZE_MAX, changes_from_patch, from_mapping, whole_number
from services.rest import openapi, security
from services.rest import representations as rep
from services.rest.conditional import etag_of, expected_version, if_match_versions, none_match
from services.rest.errors import VARY, problem_body, range_not_satisfiable
from services.rest.http import (
    INT_BOUNDS,
    Edge,
    JsonBody,
    add_method_fallbacks,
    install_error_handlers,
    negotiation,
    only_members,
    strict_query,
)
from services.rest.negotiation import (
    COLLECTION_MEDIA,
    EVENT_MEDIA,
    EVENT_STREAM,
    ITEM_MEDIA,
    JSON,
    MERGE_PATCH,
)
from services.rest.routing import CompiledRoute

MAX_RANGE_ITEMS = 100
SSE_HEARTBEAT_SECONDS = 15.0
PAGE_MAX = 10**9
AFTER_MAX = 2**62
# Swagger UI for /docs, vendored in gateway/static/vendor and served by the gateway (works offline).
SWAGGER_UI = "/static/vendor/swagger-ui-dist@5.31.0"
INT_BOUNDS.update(
    {
        "page": (1, PAGE_MAX),
        "pageSize": (1, PAGE_SIZE_MAX),
        "after": (0, AFTER_MAX),
        "limit": (1, EVENT_BATCH_MAX),
    }
)


@dataclass(frozen=True)
class RestOptions:
    base_url: str = ""  # public origin for absolute links, e.g. http://127.0.0.1:8000; "" -> relative
    max_body_bytes: int = 262144
    webhooks: bool = True  # the webhook subscriptions are served beside (the API root links them)
    resources: bool = True  # False: only the extensions (``--styles webhooks`` without rest)


# -- parameters ------------------------------------------------------------------------------------------

ItemMedia = Annotated[str, Depends(negotiation(ITEM_MEDIA))]
CollectionMedia = Annotated[str, Depends(negotiation(COLLECTION_MEDIA))]
EventMedia = Annotated[str, Depends(negotiation(EVENT_MEDIA))]
RoomId = Annotated[str, Path(alias="roomId", description="Room id.", examples=["room-a"])]
ReservationId = Annotated[
    str, Path(alias="reservationId", description="Reservation id.", examples=[openapi.SAMPLE.reservation_id])
]
RangeHeader = Annotated[
    str | None,
    Header(
        alias="Range",
        description="Item range, e.g. `items=0-9` (at most 100 items): answered with 206 and Content-Range.",
        json_schema_extra={"pattern": r"^items=\d{1,9}-\d{0,9}$"},
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key and body return the first result.",
        json_schema_extra={"minLength": 1, "maxLength": 200},
    ),
]


@dataclass(frozen=True)
class ReservationFilters:
    """The filter, sort and page parameters of a reservation collection."""

    status: str | None
    date_from: str | None
    date_to: str | None
    guest_name: str | None
    sort: str | None
    page: int | None
    page_size: int | None


async def reservation_filters(
    status: Annotated[
        str | None,
        Query(
            description="Only reservations in this status.",
            json_schema_extra={"enum": ["RESERVED", "CHECKED_IN", "CANCELED"]},
        ),
    ] = None,
    date_from: Annotated[
        str | None,
        Query(
            alias="dateFrom", description="Earliest date (inclusive).", json_schema_extra={"format": "date"}
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(alias="dateTo", description="Latest date (inclusive).", json_schema_extra={"format": "date"}),
    ] = None,
    guest_name: Annotated[
        str | None, Query(alias="guestName", description="Case-insensitive part of the guest name.")
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            description="Comma-separated keys among date, startTime, createdAt; `-` for descending.",
            json_schema_extra={"pattern": openapi.SORT_PATTERN},
        ),
    ] = None,
    page: Annotated[int | None, Query(ge=1, le=PAGE_MAX, description="Page number (default 1).")] = None,
    page_size: Annotated[
        int | None, Query(alias="pageSize", ge=1, le=PAGE_SIZE_MAX, description="Page size (default 20).")
    ] = None,
) -> ReservationFilters:
    return ReservationFilters(status, date_from, date_to, guest_name, sort, page, page_size)


Filters = Annotated[ReservationFilters, Depends(reservation_filters)]


def _parse_range(header: str | None) -> tuple[int, int | None] | None:
    """``items=first-last`` or ``items=first-``; anything else is ignored (RFC 9110 §14.2)."""
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "items" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not first_text.isdigit() or len(first_text) > 12:
        return None
    first = int(first_text)
    if not last_text:
        return first, None
    if not last_text.isdigit() or len(last_text) > 12 or int(last_text) < first:
        return None
    return first, int(last_text)


def _range_window(spec: tuple[int, int | None]) -> tuple[int, int]:
    first, last = spec
    size = MAX_RANGE_ITEMS if last is None else last - first + 1
    return first, min(size, MAX_RANGE_ITEMS)


def _collection(
    body: bytes, media: str, urls: Mapping[str, str], content_range: str | None, ranges: bool = True
) -> Response:
    headers = {"vary": VARY, "link": rep.link_header(urls)}
    if ranges:
        headers["accept-ranges"] = "items"
    if content_range is None:
        return Response(body, 200, headers, media_type=rep.MEDIA_TYPE_HEADER[media])
    headers["content-range"] = content_range
    return Response(body, 206, headers, media_type=rep.MEDIA_TYPE_HEADER[media])


# -- the resources ---------------------------------------------------------------------------------------


STRICT = [Depends(strict_query)]
API = rep.API_PREFIX


def add_resources(app: FastAPI, api: ServerApi, options: RestOptions, guard: Guard | None) -> None:  # pylint: disable=function-too-long
    """Every REST path operation over the one core object (declared on the app itself: FastAPI's
    included routers are not plain routes any more, and the method fallbacks need those)."""
    links = rep.Links(options.base_url, webhooks=options.webhooks)

    def calls(operation: str) -> Callable[..., Awaitable[ServerApi]]:
        """The service an operation calls, as its admitted caller (see ``security.caller``)."""
        return security.caller(api, guard, operation)

    create_body = JsonBody((JSON,), limit=options.max_body_bytes)
    patch_body = JsonBody((JSON, MERGE_PATCH), limit=options.max_body_bytes)
    optional_body = JsonBody((JSON,), limit=options.max_body_bytes, required=False)

    def reservation_response(
        reservation: Reservation, media: str, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        body = rep.encode(rep.reservation_document(links, reservation, media))
        all_headers = {"etag": etag_of(reservation, media), "vary": VARY, **(headers or {})}
        return Response(body, status, all_headers, media_type=media)

    # Declared first: routes are tried in order, and reading one reservation is the hot path.
    @app.get(API + "/reservations/{reservationId}", dependencies=STRICT, **openapi.get_reservation())
    async def get_reservation(
        caller: Annotated[ServerApi, Depends(calls("getReservation"))],
        reservation_id: ReservationId,
        media: ItemMedia,
        if_none_match: Annotated[
            str | None, Header(alias="If-None-Match", description="ETags; 304 when one is still current.")
        ] = None,
    ) -> Response:
        reservation = await caller.get_reservation(reservation_id)
        etag = etag_of(reservation, media)
        if if_none_match is not None and none_match(if_none_match, etag):
            return Response(None, 304, {"etag": etag, "vary": VARY})
        body = rep.encode(rep.reservation_document(links, reservation, media))
        return Response(body, 200, {"etag": etag, "vary": VARY}, media_type=media)

    @app.get(API, dependencies=STRICT, **openapi.get_api_root())
    async def get_api_root(media: ItemMedia) -> Response:
        return Response(rep.root_document(links, media), 200, {"vary": VARY}, media_type=media)

    @app.get(API + "/rooms", dependencies=STRICT, **openapi.list_rooms())
    async def list_rooms(
        caller: Annotated[ServerApi, Depends(calls("listRooms"))],
        media: CollectionMedia,
        range_: RangeHeader = None,
    ) -> Response:
        rooms = await caller.list_rooms()
        total = len(rooms)
        urls = {"self": links.rooms, "first": links.rooms, "last": links.rooms}
        spec = _parse_range(range_)
        if spec is None:
            paging = rep.pagination(1, PAGE_SIZE_MAX, total)
            return _collection(rep.room_collection(links, rooms, paging, urls, media), media, urls, None)
        first, size = _range_window(spec)
        if first >= total:
            raise range_not_satisfiable(total)
        window = rooms[first : first + size]
        paging = rep.pagination(first // size + 1, size, total)
        content_range = f"items {first}-{first + len(window) - 1}/{total}"
        return _collection(
            rep.room_collection(links, window, paging, urls, media), media, urls, content_range
        )

    @app.get(API + "/rooms/{roomId}", dependencies=STRICT, **openapi.get_room())
    async def get_room(
        caller: Annotated[ServerApi, Depends(calls("getRoom"))], room_id: RoomId, media: ItemMedia
    ) -> Response:
        room = await caller.get_room(room_id)
        body = rep.encode(rep.room_document(links, room, media))
        return Response(body, 200, {"vary": VARY}, media_type=media)

    @app.get(API + "/rooms/{roomId}/reservations", dependencies=STRICT, **openapi.list_room_reservations())
    async def list_room_reservations(
        caller: Annotated[ServerApi, Depends(calls("listReservations"))],
        room_id: RoomId,
        media: CollectionMedia,
        filters: Filters,
        range_: RangeHeader = None,
    ) -> Response:
        await caller.get_room(room_id)  # 404 ROOM_NOT_FOUND rather than an empty list
        return await reservations(caller, media, filters, room_id, range_, links.room_reservations(room_id))

    @app.get(API + "/reservations", dependencies=STRICT, **openapi.list_reservations())
    async def list_reservations(
        caller: Annotated[ServerApi, Depends(calls("listReservations"))],
        media: CollectionMedia,
        filters: Filters,
        room_id: Annotated[
            str | None, Query(alias="roomId", description="Only reservations of this room.")
        ] = None,
        range_: RangeHeader = None,
    ) -> Response:
        return await reservations(caller, media, filters, room_id, range_, links.reservations)

    async def reservations(
        caller: ServerApi,
        media: str,
        filters: ReservationFilters,
        room_id: str | None,
        range_: str | None,
        href: str,
    ) -> Response:
        query = ReservationQuery(
            status=filters.status,
            room_id=room_id,
            date_from=filters.date_from,
            date_to=filters.date_to,
            guest_name=filters.guest_name,
            sort=filters.sort,
            **({"page": filters.page} if filters.page is not None else {}),
            **({"page_size": filters.page_size} if filters.page_size is not None else {}),
        )
        kept = {
            name: value
            for name, value in (
                ("status", filters.status),
                ("roomId", room_id if href == links.reservations else None),
                ("dateFrom", filters.date_from),
                ("dateTo", filters.date_to),
                ("guestName", filters.guest_name),
                ("sort", filters.sort),
            )
            if value
        }
        spec = _parse_range(range_)
        if spec is None:
            page = await caller.list_reservations(query)
            items, total, number, size = page.items, page.total_items, page.page, page.page_size
            content_range = None
        else:
            first, size = _range_window(spec)
            found, total = await caller.search_reservations(query, offset=first, limit=size)
            if first >= total:
                raise range_not_satisfiable(total)
            items, number = tuple(found), first // size + 1
            content_range = f"items {first}-{first + len(items) - 1}/{total}"
        paging = rep.pagination(number, size, total)
        urls = rep.page_links(href, kept, number, size, paging["totalPages"])
        body = rep.reservation_collection(links, items, paging, urls, media)
        return _collection(body, media, urls, content_range)

    @app.post(API + "/reservations", dependencies=STRICT, status_code=201, **openapi.create_reservation())
    async def create_reservation(
        caller: Annotated[ServerApi, Depends(calls("createReservation"))],
        media: ItemMedia,
        body: Annotated[dict[str, Any], Depends(create_body)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        draft = from_mapping(ReservationDraft, body)
        reservation = await caller.create_reservation(draft, idempotency_key=idempotency_key)
        location = links.reservation(reservation.reservation_id)
        return reservation_response(reservation, media, 201, {"location": location})

    @app.patch(API + "/reservations/{reservationId}", dependencies=STRICT, **openapi.modify_reservation())
    async def modify_reservation(
        caller: Annotated[ServerApi, Depends(calls("modifyReservation"))],
        reservation_id: ReservationId,
        media: ItemMedia,
        body: Annotated[dict[str, Any], Depends(patch_body)],
        if_match: Annotated[
            str | None,
            Header(
                alias="If-Match",
                description="ETags of the versions being changed; 412 when none is current.",
            ),
        ] = None,
    ) -> Response:
        changes = changes_from_patch(body)
        versions = if_match_versions(if_match, reservation_id)
        expected: int | None = None
        if versions is not None and len(versions) == 1:
            expected = next(iter(versions))  # the core compares it atomically with the stored version
        elif versions is not None:
            # Which listed version is current: read as the server (the change itself stays the caller's).
            expected = expected_version(if_match, versions, await api.get_reservation(reservation_id))
        reservation = await caller.modify_reservation(reservation_id, changes, expected_version=expected)
        return reservation_response(reservation, media)

    @app.post(
        API + "/reservations/{reservationId}/cancel", dependencies=STRICT, **openapi.cancel_reservation()
    )
    async def cancel_reservation(
        caller: Annotated[ServerApi, Depends(calls("cancelReservation"))],
        reservation_id: ReservationId,
        media: ItemMedia,
        body: Annotated[dict[str, Any], Depends(optional_body)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        only_members(body, ("reason",))
        reservation = await caller.cancel_reservation(
            reservation_id, reason=body.get("reason"), idempotency_key=idempotency_key
        )
        return reservation_response(reservation, media)

    @app.post(
        API + "/reservations/{reservationId}/check-in", dependencies=STRICT, **openapi.check_in_reservation()
    )
    async def check_in_reservation(
        caller: Annotated[ServerApi, Depends(calls("checkInReservation"))],
        reservation_id: ReservationId,
        media: ItemMedia,
        body: Annotated[dict[str, Any], Depends(optional_body)],
    ) -> Response:
        only_members(body, ())
        return reservation_response(await caller.check_in_reservation(reservation_id), media)

    @app.get(API + "/events", dependencies=STRICT, **openapi.list_events())
    async def list_events(
        caller: Annotated[ServerApi, Depends(calls("watchEvents"))],
        request: Request,
        media: EventMedia,
        after: Annotated[
            int, Query(ge=0, le=AFTER_MAX, description="Events after this sequence number.")
        ] = 0,
        types: Annotated[
            list[str] | None,
            Query(
                description="Event types (repeated, or comma-separated).",
                json_schema_extra={"items": {"type": "string", "enum": openapi.EVENT_TYPES}},
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=EVENT_BATCH_MAX, description="Most events returned.")] = 100,
        last_event_id: Annotated[
            str | None,
            Header(alias="Last-Event-ID", description="Server-sent events: resume after this sequence."),
        ] = None,
    ) -> Response:
        wanted = [part.strip() for value in types or () for part in value.split(",") if part.strip()]
        if media == EVENT_STREAM:
            # A reconnecting EventSource sends the id of the last event it saw.
            start = after if last_event_id is None else _last_event_id(last_event_id)
            return await event_stream(caller, request, start, wanted)
        events = await caller.watch_events(after, types=wanted or None, limit=limit)
        last = events[-1].sequence if events else after
        following: dict[str, Any] = {"after": last}
        if wanted:
            following["types"] = ",".join(wanted)
        if "limit" in request.query_params:
            following["limit"] = limit
        query_string = request.scope["query_string"].decode("latin-1")
        urls = {
            "self": links.events + ("?" + query_string if query_string else ""),
            "next": links.events + "?" + urlencode(following),
        }
        body = rep.event_collection(links, events, urls, media)
        return _collection(body, media, urls, None, ranges=False)

    async def event_stream(caller: ServerApi, request: Request, after: int, types: list[str]) -> Response:
        """Server-sent events: ``id:`` is the sequence, so ``Last-Event-ID`` resumes with no gap.

        The core's stream is pulled one event at a time as the connection accepts bytes, so a
        slow reader only lags behind in the durable log: nothing piles up in memory. With a guard
        the stream holds one of the client's stream slots, and ends when its token expires with
        an ``error`` event (the UNAUTHENTICATED problem): reconnecting with a fresh token and
        ``Last-Event-ID`` resumes after the last event sent.
        """
        principal = security.principal_of(request)
        events = caller.stream_events(after, types=types or None)  # raises catalog errors now
        slots = contextlib.AsyncExitStack()
        if guard is not None:
            await slots.enter_async_context(guard.stream(principal, security.STYLE))  # 429 now
        expires = principal.expires_at.timestamp() if principal.expires_at is not None else None
        language = messages.negotiate(request.headers.get("accept-language"))

        async def body() -> AsyncIterator[bytes]:
            # The first read starts with the body: a response that never starts leaves no task behind.
            pending: asyncio.Future[Event] | None = None
            try:
                yield b"retry: 2000\n\n"
                pending = asyncio.ensure_future(anext(events))
                while True:
                    wait = SSE_HEARTBEAT_SECONDS
                    if expires is not None:
                        wait = min(wait, expires - time.time())
                        if wait <= 0:
                            expired = Unauthenticated(params={"reason": "auth_expired"})
                            problem = problem_body(expired, language, request.url.path, 401)
                            yield b"event: error\ndata: " + rep.encode(problem) + b"\n\n"
                            return
                    done, _ = await asyncio.wait({pending}, timeout=wait)
                    if not done:
                        if expires is None or time.time() < expires:
                            yield b": keep-alive\n\n"
                        continue
                    event = pending.result()
                    yield (
                        f"id: {event.sequence}\nevent: {event.type}\ndata: ".encode()
                        + rep.encode(event.to_dict())
                        + b"\n\n"
                    )
                    pending = asyncio.ensure_future(anext(events))
            finally:
                if pending is not None:
                    pending.cancel()
                    with contextlib.suppress(BaseException):
                        await pending
                await events.aclose()
                await slots.aclose()

        headers = {"vary": VARY, "cache-control": "no-cache", "x-accel-buffering": "no"}
        # The slot is given back by the body's end, or here if the body never started.
        return StreamingResponse(
            body(), 200, headers, media_type=EVENT_STREAM, background=BackgroundTask(slots.aclose)
        )


def _last_event_id(value: str) -> int:
    return whole_number("Last-Event-ID", value, minimum=0, maximum=AFTER_MAX, coerce=True)


@dataclass(frozen=True)
class Extension:
    """More path operations for the same app and document, and the schemas only they reference."""

    add: Callable[[FastAPI], None]
    models: tuple[type[BaseModel], ...] = ()


def create_app(
    api: ServerApi,
    options: RestOptions | None = None,
    *,
    guard: Guard | None = None,
    extensions: Sequence[Extension] = (),
) -> FastAPI:
    """The REST ASGI app; each extension adds its path operations to it and to its document (the
    webhook management API). The gateway mounts it as the fallback for every other path."""
    options = options or RestOptions()
    app = FastAPI(
        title="Rosetta REST API",
        version="1.0.0",
        description=openapi.DESCRIPTION,
        openapi_url=None,  # served below, with the headers every answer carries
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        separate_input_output_schemas=False,
        # The gateway measures every style (Prometheus); FastAPI's own OpenTelemetry hooks would
        # only ask, on every request, whether a provider was configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.router.route_class = CompiledRoute
    if options.resources:
        add_resources(app, api, options, guard)
    for extension in extensions:
        extension.add(app)
    docs_html = bytes(
        get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Rosetta REST API",
            swagger_js_url=SWAGGER_UI + "/swagger-ui-bundle.js",
            swagger_css_url=SWAGGER_UI + "/swagger-ui.css",
            swagger_favicon_url=SWAGGER_UI + "/favicon-32x32.png",
            # No badge image from validator.swagger.io (it would leave the machine).
            swagger_ui_parameters={"validatorUrl": None},
        ).body
    )

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document() -> Response:
        return Response(document(), 200, {"vary": VARY}, media_type="application/json")

    @functools.cache
    def document() -> bytes:
        return rep.encode(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return Response(docs_html, 200, {"vary": VARY}, media_type="text/html")

    add_method_fallbacks(app)
    install_error_handlers(app)
    if guard is not None:
        app.add_middleware(security.QuotaHeaders)
    app.add_middleware(Edge)
    openapi.install(app, [model for extension in extensions for model in extension.models])
    return app
