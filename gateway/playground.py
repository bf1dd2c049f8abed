"""The playground's server side: the side-by-side page, a gRPC proxy and the webhook messages of a change.

Browsers speak HTTP/1.1 and WebSocket but cannot make gRPC calls (HTTP/2 trailers are hidden from
fetch; grpc-web would need a translating proxy), so ``POST /playground/grpc`` makes the call with the
project's generated stub and returns request, response, status and rich error details as JSON.
Webhooks are outbound, so ``GET /playground/webhooks`` renders the Standard Webhooks messages the
event log's new events become, signed with an example secret (no subscription is involved).
For the events tab, ``GET /playground/grpc-events?after=N`` relays the real ``WatchEvents`` stream to the
browser as Server-Sent Events, one event per message, as it arrives.

With authentication on, the page carries a credential like any client, and these endpoints pass it on
(gRPC metadata) or check it (the webhook messages need read scope). The page gets a short-lived token of
the ``demo`` client from ``/state`` only when the caller is on this machine (a loopback address, not
forwarded from elsewhere) or the server runs in workshop mode; anyone else is asked to sign in with a
client id and secret (``/oauth/token``), so a deployment never hands its visitors a credential.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, cast
from urllib.parse import parse_qs

import grpc
from google.protobuf import json_format, text_format
from google.protobuf.message import Message as ProtoMessage
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.faults import FaultInjector
from services.core.access import Guard, credentials_from_headers
from services.core.errors import AccessError, RosettaError
from services.core.messages import negotiate
from services.core.service import ReservationService, utc_now
from services.grpc.errors import rich_status_of
from services.webhooks.model import message_id
from services.webhooks.service import event_payload
from services.webhooks.signing import webhook_headers

# Imported by name: mypy always reads the generated .pyi stubs, which are not strict-clean.
pb: Any = importlib.import_module("services.grpc.generated.reservations_pb2")
pb_grpc: Any = importlib.import_module("services.grpc.generated.reservations_pb2_grpc")

PREFIX = "/playground"
MAX_BODY_BYTES = 64 * 1024
GRPC_TIMEOUT_SECONDS = 10.0
GRPC_STREAM_SECONDS = 600.0  # an events tab left open is let go after ten minutes

# Webhook messages are signed for display only: this secret belongs to no subscription.
EXAMPLE_SECRET = "whsec_" + base64.b64encode(b"rosetta-playground-example-key!!").decode()
EXAMPLE_SUBSCRIPTION_ID = "sub_playground_example"
EXAMPLE_RECEIVER = "https://receiver.example/webhooks"
MAX_WEBHOOK_MESSAGES = 50

_SERVICE = pb.DESCRIPTOR.services_by_name["ReservationService"]
# Unary methods only: a streaming call has no single response to show side by side.
GRPC_REQUESTS: dict[str, type[ProtoMessage]] = {
    method.name: getattr(pb, method.input_type.name)
    for method in _SERVICE.methods
    if not method.server_streaming and not method.client_streaming
}

_STATIC: dict[str, tuple[str, str]] = {
    "": ("playground.html", "text/html; charset=utf-8"),
    "/": ("playground.html", "text/html; charset=utf-8"),
    "/playground.js": ("playground.js", "text/javascript; charset=utf-8"),
    "/playground.css": ("playground.css", "text/css; charset=utf-8"),
}


def _to_json(message: ProtoMessage) -> dict[str, Any]:
    """Canonical protobuf JSON (camelCase names, int64 as strings, defaults omitted)."""
    result: dict[str, Any] = json_format.MessageToDict(message)
    return result


def _to_text(message: ProtoMessage) -> str:
    return str(text_format.MessageToString(message, as_utf8=True))


class BadRequest(Exception):
    """The playground's own input was unusable (not a gRPC or domain error)."""


@dataclass
class GrpcChannel:
    """One channel to the process's own gRPC server, opened on first use (it binds to the running loop)."""

    target: Callable[[], str | None]
    _channel: grpc.aio.Channel | None = None
    _stub: Any = None

    def stub(self) -> Any:
        if self._stub is None:
            target = self.target()
            if target is None:
                return None
            self._channel = grpc.aio.insecure_channel(target)
            self._stub = pb_grpc.ReservationServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None


class Playground:
    """``/playground``: the page and its assets, ``/state``, ``/grpc`` and ``/webhooks``."""

    def __init__(
        self,
        service: ReservationService,
        styles: frozenset[str],
        grpc_target: Callable[[], str | None],
        faults: FaultInjector | None = None,
        credential: Callable[[], Awaitable[dict[str, Any] | None]] | None = None,
        guard: Guard | None = None,
        demo_for_anyone: bool = False,
    ) -> None:
        self.service = service
        self.styles = styles
        self.faults = faults
        self.credential = credential  # None: authentication is off
        self.guard = guard
        self.demo_for_anyone = demo_for_anyone  # workshop mode: a classroom, every learner gets it
        self.grpc = GrpcChannel(grpc_target)
        static = resources.files("gateway").joinpath("static")
        self.assets = {
            path: (static.joinpath(name).read_bytes(), content_type)
            for path, (name, content_type) in _STATIC.items()
        }
        self.handlers: dict[tuple[str, str], Callable[[Scope, bytes], Awaitable[tuple[int, Any]]]] = {
            ("GET", "/state"): self.state,
            ("POST", "/grpc"): self.grpc_call,
            ("GET", "/webhooks"): self.webhooks,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        path = scope["path"].removeprefix(PREFIX)
        method = scope["method"]
        if path == "/grpc-events" and method == "GET":
            await self.grpc_events(scope, receive, send)
            return
        asset = self.assets.get(path)
        if asset is not None:
            if method not in ("GET", "HEAD"):
                await _send(send, 405, b"", "text/plain", [(b"allow", b"GET, HEAD")])
                return
            await _send(send, 200, asset[0], asset[1], [(b"cache-control", b"no-cache")])
            return
        handler = self.handlers.get((method, path))
        if handler is None:
            allowed = [m for (m, p) in self.handlers if p == path]
            if allowed:
                await _send_json(send, 405, {"code": "METHOD_NOT_ALLOWED"}, [(b"allow", allowed[0].encode())])
            else:
                await _send_json(send, 404, {"code": "NOT_FOUND"})
            return
        try:
            body = await _read_body(receive)
            status, payload = await handler(scope, body)
        except BadRequest as problem:
            status, payload = 400, {"code": "BAD_REQUEST", "detail": str(problem)}
        except RosettaError as error:
            status, payload = 400, {"code": error.code, "detail": error.localized("en")}
        await _send_json(send, status, payload)

    # -- /playground/state ---------------------------------------------------------------------

    async def state(self, scope: Scope, body: bytes) -> tuple[int, Any]:
        demo = self.credential is not None and (self.demo_for_anyone or from_this_machine(scope))
        return 200, {
            "styles": sorted(self.styles),
            "grpcTarget": self.grpc.target(),
            "lastSequence": await self.service.last_event_sequence(),
            "faults": self.faults.snapshot() if self.faults is not None else None,
            # With authentication on, a caller on this machine (or any, in workshop mode) acts as the
            # `demo` client: a short-lived token the page puts on every request (None when auth is off,
            # or the demo client is gone or revoked). Anyone else signs in (`signIn`).
            "credential": await self.credential() if demo and self.credential is not None else None,
            "signIn": self.credential is not None and not demo,
        }

    # -- /playground/grpc ------------------------------------------------------------------------

    async def grpc_call(self, scope: Scope, body: bytes) -> tuple[int, Any]:
        try:
            call = json.loads(body or b"{}")
        except ValueError:
            raise BadRequest("the body is not JSON") from None
        if not isinstance(call, dict):
            raise BadRequest("the body must be a JSON object")
        name = call.get("method")
        request_class = GRPC_REQUESTS.get(name) if isinstance(name, str) else None
        if request_class is None or not isinstance(name, str):
            raise BadRequest(f"method must be one of {', '.join(GRPC_REQUESTS)}")
        values = call.get("request") or {}
        if not isinstance(values, dict):
            raise BadRequest("request must be a JSON object (protobuf JSON)")
        try:
            request = json_format.ParseDict(values, request_class())
        except json_format.ParseError as error:
            # What a gRPC client would refuse before sending: the message cannot be encoded.
            raise BadRequest(f"cannot encode {request_class.__name__}: {error}") from None
        language = negotiate(call.get("language") if isinstance(call.get("language"), str) else None)
        metadata: tuple[tuple[str, str], ...] = (("accept-language", language),)
        token = call.get("token")
        if isinstance(token, str) and token:  # the page's credential, sent as a gRPC client sends it
            metadata += (("authorization", f"Bearer {token}"),)
        stub = self.grpc.stub()
        if stub is None:
            return 503, {"code": "GRPC_NOT_SERVED", "detail": "this process does not serve gRPC"}
        full_method = f"/{_SERVICE.full_name}/{name}"
        result: dict[str, Any] = {
            "method": full_method,
            "target": self.grpc.target(),
            "metadata": dict(metadata),
            "request": _to_json(request),
            "requestText": _to_text(request),
            "requestBytes": request.ByteSize(),
        }
        started = time.perf_counter()
        try:
            response = await getattr(stub, name)(request, metadata=metadata, timeout=GRPC_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as failure:
            result["elapsedMs"] = round((time.perf_counter() - started) * 1000, 2)
            result.update(_failure(failure))
            return 200, result
        result["elapsedMs"] = round((time.perf_counter() - started) * 1000, 2)
        result.update(
            status={"code": "OK", "number": 0, "message": ""},
            response=_to_json(response),
            responseText=_to_text(response),
            responseBytes=response.ByteSize(),
            details=[],
            detailsBytes=0,
        )
        return 200, result

    # -- /playground/grpc-events ------------------------------------------------------------------

    async def grpc_events(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``WatchEvents`` on the real gRPC port, relayed as Server-Sent Events until the page goes away."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            after = int((query.get("after") or ["0"])[0])
        except ValueError:
            await _send_json(send, 400, {"code": "BAD_REQUEST", "detail": "after must be a whole number"})
            return
        stub = self.grpc.stub()
        if stub is None:
            await _send_json(
                send, 503, {"code": "GRPC_NOT_SERVED", "detail": "this process does not serve gRPC"}
            )
            return
        metadata = _credential_metadata(scope)  # the page's credential, as a gRPC client sends it
        call = stub.WatchEvents(
            pb.WatchEventsRequest(after=max(after, 0)), timeout=GRPC_STREAM_SECONDS, metadata=metadata
        )
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def relay() -> None:
            async for message in call:
                event = _to_json(message.event)
                line = {
                    "sequence": int(event.get("sequence", 0)),
                    "type": event.get("type"),
                    "occurredAt": event.get("occurredAt"),
                    "bytes": message.ByteSize(),
                }
                data = f"id: {line['sequence']}\ndata: {json.dumps(line)}\n\n".encode()
                await send({"type": "http.response.body", "body": data, "more_body": True})

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        tasks = [asyncio.ensure_future(relay()), asyncio.ensure_future(disconnected())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            call.cancel()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError, OSError):
                    await task
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    # -- /playground/webhooks ---------------------------------------------------------------------

    async def webhooks(self, scope: Scope, body: bytes) -> tuple[int, Any]:
        if self.guard is not None:  # the messages show guests' names: read scope, as for the events
            headers = dict(scope.get("headers", ()))
            credentials = credentials_from_headers(
                _header(headers, b"authorization"), _header(headers, b"x-api-key")
            )
            try:
                self.guard.authorize(await self.guard.authenticate(credentials), "watchEvents")
            except AccessError as error:
                status = 401 if error.code == "UNAUTHENTICATED" else 403
                return status, {"code": error.code, "detail": error.localized("en")}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        after = (query.get("after") or ["0"])[0]
        # The raw value: the core checks and coerces it (a bad one is INVALID_PROPERTY).
        events = await self.service.watch_events(after, limit=MAX_WEBHOOK_MESSAGES)
        sent_at = utc_now()
        messages = [_webhook_message(event, sent_at) for event in events]
        return 200, {
            "exampleSecret": EXAMPLE_SECRET,
            "subscriptionId": EXAMPLE_SUBSCRIPTION_ID,
            "messages": messages,
        }

    async def close(self) -> None:
        await self.grpc.close()


LOOPBACK = ("127.", "::1", "::ffff:127.")
FORWARDED = (b"forwarded", b"x-forwarded-for", b"x-real-ip")
PEER_KEY = (
    "rosetta.peer"  # the socket's peer, kept by ``behind_proxies`` before a proxy header rewrites "client"
)


def behind_proxies(app: ASGIApp, trusted: str) -> ASGIApp:
    """uvicorn's proxy-header handling (``X-Forwarded-For`` from ``trusted`` peers becomes the client),
    with the socket's own peer kept under ``PEER_KEY``: with ``FORWARDED_ALLOW_IPS="*"`` anyone may name
    any client, so "on this machine" must ask the socket, not the header."""
    inner: Any = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=trusted)  # uvicorn's own ASGI types

    async def keep_peer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[PEER_KEY] = scope.get("client")
        await inner(scope, receive, send)

    return keep_peer


def from_this_machine(scope: Scope) -> bool:
    """The caller is on this machine: a loopback peer on the socket and as the client a proxy named,
    and no proxy says it forwarded someone else."""
    for address in (scope.get(PEER_KEY, scope.get("client")), scope.get("client")):
        if not address or not str(address[0]).startswith(LOOPBACK):
            return False
    for name, value in scope.get("headers", ()):
        if name in FORWARDED:
            # A proxy on this machine forwarding a local browser says so too (the compose topology).
            addresses = value.decode("latin-1").replace("for=", "").replace('"', "").split(",")
            if not all(a.strip().strip("[]").startswith(LOOPBACK) for a in addresses):
                return False
    return True


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


def _credential_metadata(scope: Scope) -> tuple[tuple[str, str], ...]:
    headers = dict(scope.get("headers", ()))
    pairs = ((key, _header(headers, key.encode())) for key in ("authorization", "x-api-key"))
    return tuple((key, value) for key, value in pairs if value)


def _webhook_message(event: Any, sent_at: datetime) -> dict[str, Any]:
    payload = event_payload(event)
    headers = {"content-type": "application/json"}
    webhook_id = message_id(event.event_id, EXAMPLE_SUBSCRIPTION_ID)
    headers.update(webhook_headers([EXAMPLE_SECRET], webhook_id, sent_at, payload))
    return {
        "eventType": event.type,
        "sequence": event.sequence,
        "method": "POST",
        "url": EXAMPLE_RECEIVER,
        "headers": headers,
        "body": payload,
        "bodyBytes": len(payload.encode()),
    }


def _failure(failure: grpc.aio.AioRpcError) -> dict[str, Any]:
    """Status, trailers and the decoded google.rpc.Status details of a failed call."""
    code = failure.code()
    details: list[dict[str, Any]] = []
    details_bytes = 0
    trailers: dict[str, str] = {}
    for key, value in failure.trailing_metadata() or ():
        if isinstance(value, bytes):
            trailers[key] = f"<{len(value)} bytes>"
            if key == "grpc-status-details-bin":
                details_bytes = len(value)
        else:
            trailers[key] = value
    rich = rich_status_of(failure)
    if rich is not None:
        details = [_to_json(detail) for detail in rich.details]
    return {
        "status": {"code": code.name, "number": code.value[0], "message": failure.details() or ""},
        "response": None,
        "responseText": "",
        "responseBytes": 0,
        "trailers": trailers,
        "details": details,
        "detailsBytes": details_bytes,
    }


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequest(f"the body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(
    send: Send, status: int, body: bytes, content_type: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _send_json(
    send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    await _send(send, status, body, "application/json", [(b"cache-control", b"no-store"), *(extra or [])])


def local_grpc_target(host: str, port: int | None) -> str | None:
    """Where this process's own gRPC server answers (None until it started, or when it is not served)."""
    if not port:
        return None
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def create_app(
    service: ReservationService,
    styles: frozenset[str],
    grpc_target: Callable[[], str | None],
    faults: FaultInjector | None = None,
    credential: Callable[[], Awaitable[dict[str, Any] | None]] | None = None,
    guard: Guard | None = None,
    demo_for_anyone: bool = False,
) -> tuple[ASGIApp, Callable[[], Awaitable[None]]]:
    """The playground app and the coroutine that closes its gRPC channel at shutdown."""
    playground = Playground(service, styles, grpc_target, faults, credential, guard, demo_for_anyone)
    return playground, playground.close
