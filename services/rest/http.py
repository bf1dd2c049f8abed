"""The cross-cutting HTTP parts of REST as FastAPI dependencies and middleware.

Content negotiation, the strict query string (unknown or empty parameters refused like unknown
body members), the JSON body reader, HEAD served by GET, OPTIONS and 405 with a true ``Allow``,
and every error rendered as a localized RFC 9457 problem. The webhook management API uses the
same pieces, so both answer alike.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from fastapi import FastAPI, Header
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core import messages
from services.core.errors import (
    InternalError,
    InvalidProperty,
    MissingMandatoryProperty,
    PayloadTooLarge,
    RosettaError,
)
from services.core.ratelimit import refusal_header_pairs
from services.core.validation import json_document
from services.rest.errors import (
    VARY,
    HttpProblem,
    malformed_body,
    method_not_allowed,
    no_route,
    not_acceptable,
    not_an_object,
    problem_response,
    unsupported_media_type,
)
from services.rest.negotiation import choose

log = logging.getLogger("rosetta.rest")

METHOD_ORDER = ("GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")
# Whole-number parameters and the core's bounds, so a refusal says what the core would say.
INT_BOUNDS: dict[str, tuple[int, int]] = {}


# -- content negotiation -------------------------------------------------------------------------------


def negotiation(offers: tuple[str, ...]) -> Callable[[Request], Awaitable[str]]:
    """A dependency choosing the representation from ``Accept`` among ``offers`` (406 otherwise)."""

    async def media(request: Request) -> str:
        chosen = choose(request.headers.get("accept"), offers)
        if chosen is None:
            raise not_acceptable()
        return chosen

    return media


# -- language -------------------------------------------------------------------------------------------


async def language(
    accept_language: Annotated[
        str | None,
        Header(
            alias="Accept-Language",
            description="Language of messages: en (default), ko, fr; q-values honoured.",
        ),
    ] = None,
) -> str:
    """The language of the answer's text (problems always follow it; see ``Content-Language``)."""
    return messages.negotiate(accept_language)


# -- the query string ------------------------------------------------------------------------------------


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


_declared: dict[int, frozenset[str]] = {}


async def strict_query(request: Request) -> None:
    """Refuses a query parameter the operation does not declare, or one given without a value."""
    if not request.scope["query_string"]:
        return
    route = request.scope.get("route")
    allowed = _declared.get(id(route))
    if allowed is None:
        allowed = _query_names(route.dependant) if isinstance(route, APIRoute) else frozenset()
        _declared[id(route)] = allowed
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise InvalidProperty(field=name, params={"reason": "unknown"})
        if not value.strip(" ,"):  # present but empty: the contract asks for a value
            raise InvalidProperty(field=name, params={"reason": "empty"})


# -- bodies -------------------------------------------------------------------------------------------------


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


class JsonBody:
    """A dependency reading a JSON object body within a size limit; the core checks its members.

    Strings reach the core as decoded (lone surrogates included), so the core's text rule decides.
    """

    def __init__(self, types: Iterable[str], *, limit: int, required: bool = True) -> None:
        self.types = frozenset(types)
        self.limit = limit
        self.required = required

    def _unsupported(self) -> HttpProblem:
        headers = {"accept-patch": ", ".join(sorted(self.types))} if len(self.types) > 1 else {}
        return unsupported_media_type(headers)

    async def __call__(self, request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            raise PayloadTooLarge(params={"limit": self.limit})
        media = _content_type(request)
        if self.required and media not in self.types:
            raise self._unsupported()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.limit:
                raise PayloadTooLarge(params={"limit": self.limit})
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not self.required and not raw.strip():
            return {}
        if media not in self.types:
            raise self._unsupported()
        data = json_document(raw, text_rule=False)  # MALFORMED_REQUEST as every JSON style says it
        if not isinstance(data, dict):
            raise not_an_object()
        return data


def only_members(body: dict[str, Any], allowed: Iterable[str]) -> None:
    for name in body:
        if name not in allowed:
            raise InvalidProperty(field=str(name), params={"reason": "unknown"})


# -- HEAD, OPTIONS and 405 -------------------------------------------------------------------------------


class Edge:
    """The outermost REST layer, in one pass: HEAD runs the GET operation and drops the body
    (FastAPI routes HEAD nowhere by itself), and an exception nothing else handled becomes a
    logged 500 problem that discloses nothing (Starlette's own handler for ``Exception`` answers
    and then re-raises to the server, which would log it a second time)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        try:
            await self.app(scope, receive, send)
        except Exception as error:
            request = Request(scope)
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            response = problem_response(
                InternalError(), request.headers.get("accept-language"), request.url.path
            )
            try:
                await response(scope, receive, send)
            except Exception:
                raise error from None  # the answer had begun: the server ends the connection


def _without_body(send: Send) -> Send:
    async def without_body(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return without_body


def allow_header(methods: Iterable[str]) -> str:
    present = {*methods, "OPTIONS"}
    if "GET" in present:
        present.add("HEAD")
    return ", ".join(m for m in METHOD_ORDER if m in present)


class MethodFallback:
    """The operation of a path for the methods it does not declare: OPTIONS is 204, the rest 405."""

    def __init__(self, allow: str) -> None:
        self.allow = allow

    async def __call__(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(None, 204, {"allow": self.allow, "vary": VARY})
        raise method_not_allowed(self.allow)


def add_method_fallbacks(app: FastAPI) -> None:
    """Per declared path, one hidden route for every other method (FastAPI alone answers 405 without
    a complete ``Allow`` and knows no OPTIONS)."""
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute):
            methods.setdefault(route.path, set()).update(route.methods or ())
    for path, declared in methods.items():
        others = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS") if m not in declared]
        app.router.add_api_route(
            path, MethodFallback(allow_header(declared)), methods=others, include_in_schema=False
        )


# -- errors -------------------------------------------------------------------------------------------------


def problem_for(request: Request, problem: HttpProblem) -> Response:
    return problem_response(
        problem.error,
        request.headers.get("accept-language"),
        request.url.path,
        status=problem.status,
        headers=problem.headers,
    )


def catalog_error(error: RequestValidationError) -> RosettaError:
    """FastAPI's validation failure of a typed parameter, said as the core would say it."""
    for detail in error.errors():
        location = [str(part) for part in detail.get("loc", ())]
        kind = str(detail.get("type", ""))
        name = location[-1] if len(location) > 1 else (location[0] if location else "request")
        if kind == "json_invalid":
            return malformed_body()
        if location[:1] == ["body"] and len(location) == 1:
            return MissingMandatoryProperty(field="body") if kind == "missing" else not_an_object()
        if kind == "missing":
            return MissingMandatoryProperty(field=name)
        if name in INT_BOUNDS:
            low, high = INT_BOUNDS[name]
            return InvalidProperty(field=name, params={"reason": "range", "min": low, "max": high})
        return InvalidProperty(field=name, params={"reason": "type"})
    return malformed_body()


def refusal_headers(error: RosettaError) -> dict[str, str]:
    """What a 401, 429 or 503 must say besides the problem: how to authenticate, when to come back."""
    if error.code == "UNAUTHENTICATED":
        return {"www-authenticate": www_authenticate(error)}
    return {name.decode(): value.decode() for name, value in refusal_header_pairs(error)}


def www_authenticate(error: RosettaError) -> str:
    """The challenges of a 401 (RFC 9110 §11.6.1): every scheme a client may answer with."""
    realm = 'realm="rosetta"'
    bearer = f"Bearer {realm}"
    if error.params.get("reason") in ("auth_invalid", "auth_expired", "auth_revoked"):
        bearer += ', error="invalid_token"'  # RFC 6750 §3.1
    return f'{bearer}, ApiKey {realm}, Basic {realm}, charset="UTF-8"'


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal is a localized problem: catalog errors, HTTP's own, FastAPI's 422, the unexpected."""

    def language(request: Request) -> str | None:
        return request.headers.get("accept-language")

    async def on_rosetta_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RosettaError)
        if exc.code == "INTERNAL":
            log.error("internal error in %s %s: %r", request.method, request.url.path, exc)
        return problem_response(exc, language(request), request.url.path, headers=refusal_headers(exc))

    async def on_http_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpProblem)
        return problem_for(request, exc)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return problem_for(request, no_route())
        if exc.status_code == 405:
            return problem_for(request, method_not_allowed((exc.headers or {}).get("Allow", "")))
        if exc.status_code >= 500:
            return problem_response(InternalError(), language(request), request.url.path)
        return problem_for(request, HttpProblem(malformed_body(), exc.status_code, exc.headers))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(catalog_error(exc), language(request), request.url.path)

    async def on_disconnect(request: Request, exc: Exception) -> Response:
        return Response(None, 400)  # nobody is listening any more

    app.add_exception_handler(RosettaError, on_rosetta_error)
    app.add_exception_handler(HttpProblem, on_http_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
