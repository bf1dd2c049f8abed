"""The REST adapter: Richardson level 3 resources over the core, as one ASGI (FastAPI) app.

Each resource is one route whose handlers turn HTTP into a use-case call and the result
back into a negotiated representation. Routes are plain Starlette routes inside FastAPI, so
no pydantic validation sits on the hot path and no FastAPI 422 can ever reach a client; the
OpenAPI document is built once by ``services.rest.openapi``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from services.core.api import ServerApi
from services.core.errors import (
    InternalError,
    InvalidProperty,
    MissingMandatoryProperty,
    PayloadTooLarge,
    RosettaError,
    VersionMismatch,
)
from services.core.model import Event, Reservation, ReservationDraft, ReservationQuery
from services.core.validation import PAGE_SIZE_MAX, changes_from_patch, from_mapping
from services.rest import openapi
from services.rest import representations as rep
from services.rest.errors import (
    VARY,
    HttpProblem,
    malformed_body,
    method_not_allowed,
    no_route,
    not_acceptable,
    not_an_object,
    problem_response,
    range_not_satisfiable,
    unsupported_media_type,
)
from services.rest.negotiation import (
    COLLECTION_MEDIA,
    EVENT_MEDIA,
    EVENT_STREAM,
    HAL,
    ITEM_MEDIA,
    JSON,
    SIREN,
    choose,
)

log = logging.getLogger("rosetta.rest")

MAX_RANGE_ITEMS = 100
SSE_HEARTBEAT_SECONDS = 15.0
# Swagger UI for /docs, vendored in gateway/static/vendor and served by the gateway (works offline).
SWAGGER_UI = "/static/vendor/swagger-ui-dist@5.31.0"
JSON_BODY_TYPES = frozenset({JSON})
PATCH_BODY_TYPES = frozenset({JSON, "application/merge-patch+json"})
RESERVATION_FILTERS: dict[str, str] = {
    # query parameter -> ReservationQuery field
    "status": "status",
    "roomId": "room_id",
    "dateFrom": "date_from",
    "dateTo": "date_to",
    "guestName": "guest_name",
    "sort": "sort",
}
PAGING_PARAMS = {"page": "page", "pageSize": "page_size"}
RESERVATION_PARAMS = frozenset(RESERVATION_FILTERS) | frozenset(PAGING_PARAMS)
ROOM_RESERVATION_PARAMS = RESERVATION_PARAMS - {"roomId"}
EVENT_PARAMS = frozenset({"after", "types", "limit"})
ETAG_SUFFIX = {JSON: "", HAL: ".hal", SIREN: ".siren"}
METHOD_ORDER = ("GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")
VERSION_MAX = 2**31 - 1  # the largest expectedVersion the core accepts


@dataclass(frozen=True)
class RestOptions:
    base_url: str = ""  # public origin for absolute links, e.g. http://127.0.0.1:8000; "" -> relative
    max_body_bytes: int = 262144
    webhooks: bool = True  # the webhook subscriptions are served beside (the API root links them)


Handler = Callable[[Request], Awaitable[Response]]


# -- request helpers -------------------------------------------------------------------------------


def _media(request: Request, offers: tuple[str, ...]) -> str:
    media = choose(request.headers.get("accept"), offers)
    if media is None:
        raise not_acceptable()
    return media


def _query(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    """The query parameters (last value wins), refusing unknown names like unknown body fields."""
    if not request.scope["query_string"]:
        return {}
    params = request.query_params
    for name in params:
        if name not in allowed:
            raise InvalidProperty(field=name, params={"reason": "unknown"})
    return dict(params)


def _no_query(request: Request) -> None:
    if request.scope["query_string"]:
        _query(request, frozenset())


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


def etag_of(reservation: Reservation, media: str) -> str:
    return f'"{reservation.reservation_id}.{reservation.version}{ETAG_SUFFIX[media]}"'


def _etag_parts(tag: str) -> list[str]:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"').split(".")


def _none_match(header: str, etag: str) -> bool:
    """Weak comparison of If-None-Match against the current ETag (RFC 9110 §13.1.2)."""
    if header.strip() == "*":
        return True
    current = _etag_parts(etag)
    return any(_etag_parts(tag) == current for tag in header.split(","))


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class RestResources:
    """The handlers of every resource, bound to the one core service."""

    def __init__(self, api: ServerApi, options: RestOptions) -> None:
        self.api = api
        self.options = options
        self.links = rep.Links(options.base_url, webhooks=options.webhooks)

    # -- bodies ----------------------------------------------------------------------------------

    async def _read_object(
        self, request: Request, types: frozenset[str], *, required: bool
    ) -> dict[str, Any]:
        limit = self.options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise PayloadTooLarge(params={"limit": limit})
        media = _content_type(request)
        if required and media not in types:
            raise self._unsupported(types)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(params={"limit": limit})
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not required and not raw.strip():
            return {}
        if media not in types:
            raise self._unsupported(types)
        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise malformed_body() from None
        if not isinstance(data, dict):
            raise not_an_object()
        return data

    @staticmethod
    def _unsupported(types: frozenset[str]) -> HttpProblem:
        headers = {"accept-patch": ", ".join(sorted(types))} if len(types) > 1 else {}
        return unsupported_media_type(headers)

    # -- responses -------------------------------------------------------------------------------

    def _reservation(
        self,
        reservation: Reservation,
        media: str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        body = rep.encode(rep.reservation_document(self.links, reservation, media))
        all_headers = {"etag": etag_of(reservation, media), "vary": VARY, **(headers or {})}
        return Response(body, status, all_headers, media_type=media)

    @staticmethod
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

    # -- the API root ---------------------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        media = _media(request, ITEM_MEDIA)
        _no_query(request)
        return Response(rep.root_document(self.links, media), 200, {"vary": VARY}, media_type=media)

    # -- rooms -------------------------------------------------------------------------------------

    async def list_rooms(self, request: Request) -> Response:
        media = _media(request, COLLECTION_MEDIA)
        _no_query(request)
        rooms = await self.api.list_rooms()
        total = len(rooms)
        urls = {"self": self.links.rooms, "first": self.links.rooms, "last": self.links.rooms}
        spec = _parse_range(request.headers.get("range"))
        if spec is None:
            paging = rep.pagination(1, PAGE_SIZE_MAX, total)
            return self._collection(
                rep.room_collection(self.links, rooms, paging, urls, media), media, urls, None
            )
        first, size = _range_window(spec)
        if first >= total:
            raise range_not_satisfiable(total)
        window = rooms[first : first + size]
        paging = rep.pagination(first // size + 1, size, total)
        content_range = f"items {first}-{first + len(window) - 1}/{total}"
        body = rep.room_collection(self.links, window, paging, urls, media)
        return self._collection(body, media, urls, content_range)

    async def get_room(self, request: Request) -> Response:
        media = _media(request, ITEM_MEDIA)
        _no_query(request)
        room = await self.api.get_room(request.path_params["roomId"])
        body = rep.encode(rep.room_document(self.links, room, media))
        return Response(body, 200, {"vary": VARY}, media_type=media)

    async def room_reservations(self, request: Request) -> Response:
        room_id = request.path_params["roomId"]
        media = _media(request, COLLECTION_MEDIA)
        params = _query(request, ROOM_RESERVATION_PARAMS)
        await self.api.get_room(room_id)  # 404 ROOM_NOT_FOUND rather than an empty list
        return await self._reservations(
            request, media, params, room_id, self.links.room_reservations(room_id)
        )

    # -- reservations --------------------------------------------------------------------------

    async def list_reservations(self, request: Request) -> Response:
        media = _media(request, COLLECTION_MEDIA)
        params = _query(request, RESERVATION_PARAMS)
        return await self._reservations(request, media, params, None, self.links.reservations)

    async def _reservations(
        self, request: Request, media: str, params: dict[str, Any], room_id: str | None, href: str
    ) -> Response:
        fields: dict[str, Any] = {field: params.get(name) for name, field in RESERVATION_FILTERS.items()}
        if room_id is not None:
            fields["room_id"] = room_id
        for name, field in PAGING_PARAMS.items():
            if name in params:
                fields[field] = params[name]
        query = ReservationQuery(**fields)
        kept = {name: params[name] for name in RESERVATION_FILTERS if params.get(name)}
        spec = _parse_range(request.headers.get("range"))
        if spec is None:
            page = await self.api.list_reservations(query)
            items, total, number, size = page.items, page.total_items, page.page, page.page_size
            content_range = None
        else:
            first, size = _range_window(spec)
            found, total = await self.api.search_reservations(query, offset=first, limit=size)
            if first >= total:
                raise range_not_satisfiable(total)
            items, number = tuple(found), first // size + 1
            content_range = f"items {first}-{first + len(items) - 1}/{total}"
        paging = rep.pagination(number, size, total)
        urls = rep.page_links(href, kept, number, size, paging["totalPages"])
        body = rep.reservation_collection(self.links, items, paging, urls, media)
        return self._collection(body, media, urls, content_range)

    async def get_reservation(self, request: Request) -> Response:
        media = _media(request, ITEM_MEDIA)
        _no_query(request)
        reservation = await self.api.get_reservation(request.path_params["reservationId"])
        etag = etag_of(reservation, media)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and _none_match(if_none_match, etag):
            return Response(None, 304, {"etag": etag, "vary": VARY})
        body = rep.encode(rep.reservation_document(self.links, reservation, media))
        return Response(body, 200, {"etag": etag, "vary": VARY}, media_type=media)

    async def create_reservation(self, request: Request) -> Response:
        media = _media(request, ITEM_MEDIA)
        _no_query(request)
        body = await self._read_object(request, JSON_BODY_TYPES, required=True)
        draft = from_mapping(ReservationDraft, body)
        reservation = await self.api.create_reservation(
            draft, idempotency_key=request.headers.get("idempotency-key")
        )
        location = self.links.reservation(reservation.reservation_id)
        return self._reservation(reservation, media, 201, {"location": location})

    async def modify_reservation(self, request: Request) -> Response:
        reservation_id = request.path_params["reservationId"]
        media = _media(request, ITEM_MEDIA)
        _no_query(request)
        body = await self._read_object(request, PATCH_BODY_TYPES, required=True)
        changes = changes_from_patch(body)
        expected = await self._expected_version(request.headers.get("if-match"), reservation_id)
        reservation = await self.api.modify_reservation(reservation_id, changes, expected_version=expected)
        return self._reservation(reservation, media)

    async def _expected_version(self, if_match: str | None, reservation_id: str) -> int | None:
        """If-Match carries expectedVersion: the version inside our ETag of this reservation."""
        if if_match is None or if_match.strip() == "*":
            return None
        parts = _etag_parts(if_match.split(",")[0])
        if len(parts) < 2 or len(parts) > 3 or not parts[1]:
            raise InvalidProperty(field="If-Match", params={"reason": "type"})
        version = int(parts[1]) if parts[1].isdigit() and len(parts[1]) < 11 else 0
        if parts[0] != reservation_id or not 1 <= version <= VERSION_MAX:
            # Another resource's ETag, or a version this one never had: it cannot match (412).
            current = await self.api.get_reservation(reservation_id)
            raise VersionMismatch(params={"expected": parts[1], "actual": current.version})
        return version

    async def cancel_reservation(self, request: Request) -> Response:
        media = _media(request, ITEM_MEDIA)
        _no_query(request)
        body = await self._read_object(request, JSON_BODY_TYPES, required=False)
        for name in body:
            if name != "reason":
                raise InvalidProperty(field=name, params={"reason": "unknown"})
        reservation = await self.api.cancel_reservation(
            request.path_params["reservationId"],
            reason=body.get("reason"),
            idempotency_key=request.headers.get("idempotency-key"),
        )
        return self._reservation(reservation, media)

    async def check_in_reservation(self, request: Request) -> Response:
        media = _media(request, ITEM_MEDIA)
        _no_query(request)
        body = await self._read_object(request, JSON_BODY_TYPES, required=False)
        for name in body:
            raise InvalidProperty(field=name, params={"reason": "unknown"})
        reservation = await self.api.check_in_reservation(request.path_params["reservationId"])
        return self._reservation(reservation, media)

    # -- events ------------------------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        media = _media(request, EVENT_MEDIA)
        params = _query(request, EVENT_PARAMS)
        types: list[str] = []
        for value in request.query_params.getlist("types"):
            types.extend(part.strip() for part in value.split(",") if part.strip())
        after = params.get("after", 0)
        if media == EVENT_STREAM:
            # A reconnecting EventSource sends the id of the last event it saw.
            return await self._event_stream(request.headers.get("last-event-id") or after, types)
        events = await self.api.watch_events(after, types=types or None, limit=params.get("limit", 100))
        last = events[-1].sequence if events else int(str(after).strip())
        following: dict[str, Any] = {"after": last}
        if types:
            following["types"] = ",".join(types)
        if "limit" in params:
            following["limit"] = params["limit"]
        base = self.links.events
        urls = {
            "self": base + ("?" + request.scope["query_string"].decode("latin-1") if params else ""),
            "next": base + "?" + urlencode(following),
        }
        body = rep.event_collection(self.links, events, urls, media)
        return self._collection(body, media, urls, None, ranges=False)

    async def _event_stream(self, after: object, types: list[str]) -> Response:
        """Server-sent events: ``id:`` is the sequence, so ``Last-Event-ID`` resumes with no gap.

        The core's stream is pulled one event at a time as the connection accepts bytes, so a
        slow reader only lags behind in the durable log: nothing piles up in memory.
        """
        events = self.api.stream_events(after, types=types or None)  # raises catalog errors now
        pending: asyncio.Future[Event] = asyncio.ensure_future(anext(events))

        async def body() -> AsyncIterator[bytes]:
            nonlocal pending
            try:
                yield b"retry: 2000\n\n"
                while True:
                    done, _ = await asyncio.wait({pending}, timeout=SSE_HEARTBEAT_SECONDS)
                    if not done:
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
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
                await events.aclose()

        headers = {"vary": VARY, "cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(body(), 200, headers, media_type=EVENT_STREAM)


# -- routing -------------------------------------------------------------------------------------------


class Resource:
    """One URL template: dispatches by method, answers OPTIONS/HEAD/405, maps every error to a problem."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers["HEAD"] = self.handlers["GET"]
        methods = [*self.handlers, "OPTIONS"]
        self.allow = ", ".join(m for m in METHOD_ORDER if m in methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.respond(request)
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        handler = self.handlers.get(request.method)
        try:
            if handler is None:
                if request.method == "OPTIONS":
                    return Response(None, 204, {"allow": self.allow, "vary": VARY})
                raise method_not_allowed(self.allow)
            return await handler(request)
        except RosettaError as error:
            if error.code == "INTERNAL":
                log.error("internal error in %s %s: %r", request.method, request.url.path, error)
            return problem_response(error, request.headers.get("accept-language"), request.url.path)
        except HttpProblem as problem:
            return _problem(request, problem)
        except ClientDisconnect:
            return Response(None, 400)  # nobody is listening any more
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return problem_response(InternalError(), request.headers.get("accept-language"), request.url.path)


def _problem(request: Request, problem: HttpProblem) -> Response:
    return problem_response(
        problem.error,
        request.headers.get("accept-language"),
        request.url.path,
        status=problem.status,
        headers=problem.headers,
    )


def _validation_error(error: RequestValidationError) -> RosettaError:
    """Translate FastAPI's own validation failure (routes declared with typed parameters) to the catalog."""
    for detail in error.errors():
        location = [str(part) for part in detail.get("loc", ())]
        kind = str(detail.get("type", ""))
        if kind == "json_invalid":
            return malformed_body()
        if location[:1] == ["body"] and len(location) == 1:
            return MissingMandatoryProperty(field="body") if kind == "missing" else not_an_object()
        name = location[-1] if len(location) > 1 else (location[0] if location else "request")
        if kind == "missing":
            return MissingMandatoryProperty(field=name)
        return InvalidProperty(field=name, params={"reason": "type"})
    return malformed_body()


def create_app(api: ServerApi, options: RestOptions | None = None) -> FastAPI:
    """The REST ASGI app; the gateway mounts it as the fallback for every other path."""
    options = options or RestOptions()
    resources = RestResources(api, options)
    document = openapi.build_document()
    document_bytes = rep.encode(document)
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

    async def serve_openapi(request: Request) -> Response:
        return Response(document_bytes, 200, {"vary": VARY}, media_type="application/json")

    async def serve_docs(request: Request) -> Response:
        return Response(docs_html, 200, {"vary": VARY}, media_type="text/html")

    r = resources
    table: dict[str, dict[str, Handler]] = {
        "/api/v1": {"GET": r.root},
        "/api/v1/rooms": {"GET": r.list_rooms},
        "/api/v1/rooms/{roomId}": {"GET": r.get_room},
        "/api/v1/rooms/{roomId}/reservations": {"GET": r.room_reservations},
        "/api/v1/reservations": {"GET": r.list_reservations, "POST": r.create_reservation},
        "/api/v1/reservations/{reservationId}": {"GET": r.get_reservation, "PATCH": r.modify_reservation},
        "/api/v1/reservations/{reservationId}/cancel": {"POST": r.cancel_reservation},
        "/api/v1/reservations/{reservationId}/check-in": {"POST": r.check_in_reservation},
        "/api/v1/events": {"GET": r.events},
        "/openapi.json": {"GET": serve_openapi},
        "/docs": {"GET": serve_docs},
    }
    app = FastAPI(
        title=document["info"]["title"],
        version=document["info"]["version"],
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.openapi_schema = document
    for path, handlers in table.items():
        app.router.routes.append(Route(path, Resource(handlers), include_in_schema=False))

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return _problem(request, no_route())
        if exc.status_code == 405:
            allow = (exc.headers or {}).get("Allow", "")
            return _problem(request, method_not_allowed(allow))
        if exc.status_code >= 500:
            return problem_response(InternalError(), request.headers.get("accept-language"), request.url.path)
        problem = HttpProblem(malformed_body(), exc.status_code, exc.headers)
        return _problem(request, problem)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            _validation_error(exc), request.headers.get("accept-language"), request.url.path
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(InternalError(), request.headers.get("accept-language"), request.url.path)

    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
    return app
