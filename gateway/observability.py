"""Request ids, structured logs and Prometheus metrics, shared by every style."""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.core.errors import RosettaError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

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
        self.latency = Histogram(
            "rosetta_operation_seconds",
            "Use-case latency by style and operation",
            ["style", "operation"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        # Requests the gateway turned away (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED) before any use
        # case ran. ``client`` is the client id or "anonymous": addresses would explode the series.
        self.refusals = Counter(
            "rosetta_refusals",
            "Requests refused by the gateway, by style, catalog code and client",
            ["style", "code", "client"],
            registry=self.registry,
        )

    def refused(self, style: str, code: str, client: str) -> None:
        self.refusals.labels(style, code, client).inc()


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")[:128]
                break
        rid = incoming or uuid.uuid4().hex
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
            self.metrics.requests.labels(style, method, str(status)).inc()
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


_API_METHODS = {
    "list_rooms": "listRooms",
    "get_room": "getRoom",
    "create_reservation": "createReservation",
    "get_reservation": "getReservation",
    "list_reservations": "listReservations",
    "modify_reservation": "modifyReservation",
    "cancel_reservation": "cancelReservation",
    "check_in_reservation": "checkInReservation",
    "watch_events": "watchEvents",
}


class InstrumentedApi:
    """Wraps the one core service for one style: counts, times and classifies every use-case call.

    Adapters receive this instead of the bare service, so metrics need nothing from them.
    Other attributes (batch helpers, streams) pass through untouched.
    """

    def __init__(self, service: Any, style: str, metrics: Metrics) -> None:
        self._service = service
        self._style = style
        self._metrics = metrics
        for method, operation in _API_METHODS.items():
            setattr(self, method, self._wrap(getattr(service, method), operation))

    def _wrap(self, call: Callable[..., Awaitable[Any]], operation: str) -> Callable[..., Awaitable[Any]]:
        calls = self._metrics.operations.labels(self._style, operation)
        latency = self._metrics.latency.labels(self._style, operation)
        errors = self._metrics.errors

        async def instrumented(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            calls.inc()
            try:
                return await call(*args, **kwargs)
            except RosettaError as error:
                errors.labels(self._style, operation, error.code).inc()
                raise
            finally:
                latency.observe(time.perf_counter() - started)

        instrumented.__name__ = call.__name__
        return instrumented

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)
