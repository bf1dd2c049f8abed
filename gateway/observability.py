"""Request ids, structured logs and Prometheus metrics, shared by every style."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from typing import Any, ParamSpec, Self, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.access import Principal
from services.core.api import OPERATIONS, ServerApi
from services.core.errors import RosettaError
from services.core.model import (
    Event,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    Room,
)

_P = ParamSpec("_P")
_T = TypeVar("_T")


request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

access_logger = logging.getLogger("rosetta.access")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "requestId": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # replaced by rosetta.access


class Metrics:
    """Prometheus metrics on their own registry, so several apps can live in one test process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rosetta_http_requests",
            "HTTP requests by style and status",
            ["style", "method", "status"],
            registry=self.registry,
        )
        self.operations = Counter(
            "rosetta_operations",
            "Use-case calls by style and operation",
            ["style", "operation"],
            registry=self.registry,
        )
        self.errors = Counter(
            "rosetta_operation_errors",
            "Use-case errors by style, operation and catalog code",
            ["style", "operation", "code"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "rosetta_access_refusals",
            "Requests the gateway refused (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED)"
            " by style, code and client",
            ["style", "code", "client"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rosetta_operation_seconds",
            "Use-case latency by style and operation",
            ["style", "operation"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )


def style_of(path: str) -> str:
    for prefix, style in (
        ("/api/", "rest"),
        ("/graphql", "graphql"),
        ("/soap", "soap"),
        ("/ws", "websocket"),
    ):
        if path.startswith(prefix):
            return style
    return "gateway"


class ObservabilityMiddleware:
    """Pure ASGI middleware: ``X-Request-Id`` echoed or generated, access log, request counter."""

    def __init__(self, app: ASGIApp, metrics: Metrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        # (style, method, status) -> its counter: prometheus' labels() takes a lock and checks the labels
        # on every call; the counters live as long as the metrics do, so holding them adds nothing.
        self._counters: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")[:128]
                break
        rid = incoming or os.urandom(16).hex()  # as unique as uuid4().hex, at a third of the cost
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0
        header = (b"x-request-id", rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "websocket.accept":
                status = 101
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            style = style_of(path)
            method = scope.get("method", "WS")
            key = (style, method, status)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = self.metrics.requests.labels(style, method, str(status))
            counter.inc()
            if self.access_log:
                access_logger.info(
                    "%s %s %s",
                    method,
                    path,
                    status,
                    extra={
                        "fields": {
                            "method": method,
                            "path": path,
                            "query": scope.get("query_string", b"").decode("latin-1"),
                            "status": status,
                            "style": style,
                            "durationMs": round((time.perf_counter() - started) * 1000, 3),
                            "client": (scope.get("client") or ("-",))[0],
                        }
                    },
                )
            request_id.reset(token)


class InstrumentedApi:
    """The core service for one style: counts, times and classifies every use-case call.

    Adapters receive this instead of the bare service (both satisfy ``ServerApi``), so metrics
    need nothing from them. Batch reads and the event stream pass through unmeasured: they serve
    an operation already counted (GraphQL's DataLoaders, REST's ``Range``) or last for hours.
    """

    def __init__(self, service: ServerApi, style: str, metrics: Metrics) -> None:
        self._service = service
        self._style = style
        self._metrics = metrics
        self._probes = {
            operation: (
                metrics.operations.labels(style, operation),
                metrics.latency.labels(style, operation),
            )
            for operation in OPERATIONS
        }

    async def _measure(
        self, operation: str, call: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        calls, latency = self._probes[operation]
        started = time.perf_counter()
        calls.inc()
        try:
            return await call(*args, **kwargs)
        except RosettaError as error:
            self._metrics.errors.labels(self._style, operation, error.code).inc()
            raise
        finally:
            latency.observe(time.perf_counter() - started)

    # -- ReservationApi, measured ----------------------------------------------------------------

    async def list_rooms(self) -> list[Room]:
        return await self._measure("listRooms", self._service.list_rooms)

    async def get_room(self, room_id: str) -> Room:
        return await self._measure("getRoom", self._service.get_room, room_id)

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        return await self._measure(
            "createReservation", self._service.create_reservation, draft, idempotency_key=idempotency_key
        )

    async def get_reservation(self, reservation_id: str) -> Reservation:
        return await self._measure("getReservation", self._service.get_reservation, reservation_id)

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage:
        return await self._measure("listReservations", self._service.list_reservations, query)

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation:
        return await self._measure(
            "modifyReservation",
            self._service.modify_reservation,
            reservation_id,
            changes,
            expected_version=expected_version,
        )

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation:
        return await self._measure(
            "cancelReservation",
            self._service.cancel_reservation,
            reservation_id,
            reason=reason,
            idempotency_key=idempotency_key,
        )

    async def check_in_reservation(self, reservation_id: str) -> Reservation:
        return await self._measure("checkInReservation", self._service.check_in_reservation, reservation_id)

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        return await self._measure("watchEvents", self._service.watch_events, after, types=types, limit=limit)

    def acting_as(self, principal: Principal) -> Self:
        """The same instrumentation over the service's view for ``principal`` (one per request:
        a shallow copy, so the metric children looked up once in ``__init__`` are shared)."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._service = self._service.acting_as(principal)
        return view

    # -- the rest of ServerApi, passed through ------------------------------------------------------

    async def get_rooms(self, room_ids: Iterable[str]) -> dict[str, Room]:
        return await self._service.get_rooms(room_ids)

    async def search_reservations(
        self, query: ReservationQuery, *, offset: int, limit: int
    ) -> tuple[list[Reservation], int]:
        return await self._service.search_reservations(query, offset=offset, limit=limit)

    async def reservations_of_rooms(self, room_ids: Sequence[str]) -> dict[str, list[Reservation]]:
        return await self._service.reservations_of_rooms(room_ids)

    async def last_event_sequence(self) -> int:
        return await self._service.last_event_sequence()

    def stream_events(
        self,
        after: int = 0,
        *,
        types: Sequence[str] | None = None,
        batch_size: int = 100,
        wait_timeout: float = 30.0,
    ) -> AsyncGenerator[Event, None]:
        return self._service.stream_events(
            after, types=types, batch_size=batch_size, wait_timeout=wait_timeout
        )
