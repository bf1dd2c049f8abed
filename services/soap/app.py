"""The SOAP endpoint as an ASGI app: WSDL at ``GET /soap?wsdl``, hardened POSTs handed to spyne (WSGI).

spyne runs in a2wsgi's worker threads; the core stays on the server's event loop and is reached
with ``run_coroutine_threadsafe`` (see ``CoreBridge``), so there is one loop and one store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from a2wsgi import WSGIMiddleware

from services.core.access import Guard
from services.core.api import ServerApi
from services.core.errors import RosettaError, Unauthenticated
from services.core.messages import negotiate
from services.soap.auth import credentials_of, operation_of
from services.soap.errors import CONTENT_TYPE, FAULT_HTTP_STATUS, fault_envelope
from services.soap.hardening import EnvelopeParser, read_body
from services.soap.service import (
    ENVELOPE_SCOPE_KEY,
    PRINCIPAL_SCOPE_KEY,
    CoreBridge,
    RosettaWsgiApplication,
    build_application,
)
from services.soap.service import render_wsdl as _render_wsdl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

WSDL_QUERY = b"wsdl"


@dataclass(frozen=True)
class SoapOptions:
    public_url: str  # the service address written into the served WSDL, e.g. http://127.0.0.1:8000/soap
    max_body_bytes: int = 256 * 1024
    worker_threads: int = 10


class SoapApp:
    """Pure ASGI: serves the prebuilt WSDL, refuses unsafe XML itself, and lets spyne answer the rest."""

    def __init__(self, api: ServerApi, options: SoapOptions, guard: Guard | None = None) -> None:
        self.options = options
        self.guard = guard
        self.bridge = CoreBridge(api)
        application = build_application(self.bridge)
        # Built once with the configured address: spyne's own ?wsdl cache would keep the first caller's Host.
        self.wsdl = _render_wsdl(application, options.public_url)
        self.parser = EnvelopeParser()
        self.spyne = WSGIMiddleware(RosettaWsgiApplication(application), workers=options.worker_threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        if self.bridge.loop is None:
            self.bridge.loop = asyncio.get_running_loop()
        method = scope["method"]
        if method in ("GET", "HEAD"):
            if WSDL_QUERY in scope["query_string"].lower().split(b"&"):
                await _respond(send, 200, b"" if method == "HEAD" else self.wsdl, len(self.wsdl))
                return
        if method != "POST":
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"GET, POST"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        language = negotiate(_header(headers, b"accept-language"))
        # Faults are localized, as in the other HTTP styles: say which language, and that it varies.
        localized = [(b"content-language", language.encode()), (b"vary", b"Accept-Language")]
        extra: dict[str, Any] = {}
        try:
            body = await read_body(receive, headers, self.options.max_body_bytes)
            envelope = self.parser.parse(body)
            if self.guard is not None:
                extra[PRINCIPAL_SCOPE_KEY] = await self._admit(scope, headers, envelope)
        except RosettaError as error:
            payload = fault_envelope(error, language)
            if isinstance(error, Unauthenticated):  # as HTTP asks of a refused credential (RFC 9110 §11.6.1)
                localized.append((b"www-authenticate", b'Bearer realm="rosetta", Basic realm="rosetta"'))
            await _respond(send, FAULT_HTTP_STATUS, payload, len(payload), localized)
            return

        async def send_localized(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *localized]}
            await send(message)

        await self.spyne(
            {**scope, ENVELOPE_SCOPE_KEY: envelope, **extra}, _replay(body, receive), send_localized
        )

    async def _admit(self, scope: Scope, headers: list[tuple[bytes, bytes]], envelope: Any) -> Any:
        """authenticate -> authorize -> charge, before spyne reads the operation's arguments."""
        assert self.guard is not None
        client = scope.get("client")
        credentials = credentials_of(
            envelope,
            _header(headers, b"authorization"),
            _header(headers, b"x-api-key"),
            client[0] if client else None,
        )
        principal = await self.guard.authenticate(credentials)
        operation = operation_of(envelope)
        if operation is not None:  # an unknown operation is spyne's to refuse (Client.MALFORMED_REQUEST)
            self.guard.authorize(principal, operation)
        await self.guard.charge(principal, "soap", operation or "unknown")
        return principal


def create_app(api: ServerApi, options: SoapOptions, guard: Guard | None = None) -> SoapApp:
    return SoapApp(api, options, guard)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def _respond(
    send: Send, status: int, body: bytes, length: int, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", CONTENT_TYPE), (b"content-length", str(length).encode()), *(extra or ())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields the already read body once, then defers to the real one."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
