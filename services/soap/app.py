"""The SOAP endpoint as an ASGI app: WSDL at ``GET /soap?wsdl``, hardened POSTs handed to spyne (WSGI).

spyne runs in a2wsgi's worker threads; the core stays on the server's event loop and is reached
with ``run_coroutine_threadsafe`` (see ``CoreBridge``), so there is one loop and one store.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, cast

from a2wsgi import WSGIMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.access import Guard, QuotaState
from services.core.api import ServerApi
from services.core.errors import InternalError, MalformedRequest, RosettaError, Unauthenticated
from services.core.messages import negotiate
from services.core.ratelimit import quota_header_pairs, refusal_header_pairs
from services.soap.application import RosettaWsgiApplication, build_application
from services.soap.application import render_wsdl as _render_wsdl
from services.soap.auth import credentials_of, operation_of
from services.soap.errors import CONTENT_TYPE, FAULT_HTTP_STATUS, fault_envelope
from services.soap.hardening import EnvelopeParser, read_body
from services.soap.service import ENVELOPE_SCOPE_KEY, PRINCIPAL_SCOPE_KEY, CoreBridge

WSDL_QUERY = b"wsdl"
_BODY_MARK = b"Body>"  # every serialized answer, result or Fault, closes a soap:Body
log = logging.getLogger("rosetta.soap")


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
        # a2wsgi types the ASGI scope and messages as TypedDicts; what it gets here are the same dicts.
        self.spyne = cast(
            ASGIApp, WSGIMiddleware(RosettaWsgiApplication(application), workers=options.worker_threads)
        )

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
        if not _is_xml(_header(headers, b"content-type")):
            # text/plain, forms and multipart travel cross-site without a CORS preflight: only XML is read.
            error = MalformedRequest(field="Content-Type", params={"reason": "media_type"})
            payload = fault_envelope(error, language)
            await _respond(send, 415, payload, len(payload), localized)
            return
        extra: dict[str, Any] = {}
        try:
            body = await read_body(receive, headers, self.options.max_body_bytes)
            envelope = self.parser.parse(body)
            if self.guard is not None:
                extra[PRINCIPAL_SCOPE_KEY], quota = await self._admit(scope, headers, envelope)
                localized.extend(quota_header_pairs(quota))  # RateLimit fields on every charged answer
        except RosettaError as error:
            payload = fault_envelope(error, language)
            if isinstance(error, Unauthenticated):  # as HTTP asks of a refused credential (RFC 9110 §11.6.1)
                localized.append((b"www-authenticate", b'Bearer realm="rosetta", Basic realm="rosetta"'))
            localized.extend(refusal_header_pairs(error))  # Retry-After beside the fault's retryAfter
            await _respond(send, FAULT_HTTP_STATUS, payload, len(payload), localized)
            return

        # spyne's answer is held until complete: one that failed to serialize (spyne then sends an
        # envelope without a Body) is replaced by a logged Server.INTERNAL Fault, never sent empty.
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_checked(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            answer = b"".join(chunks)
            headers = [*start.get("headers", ()), *localized]
            if _BODY_MARK not in answer:
                log.error("a SOAP answer could not be serialized; sent Server.INTERNAL instead")
                answer = fault_envelope(InternalError(), language)
                start = {**start, "status": FAULT_HTTP_STATUS}
                headers = [(b"content-type", CONTENT_TYPE), *localized]
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers.append((b"content-length", str(len(answer)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": answer})

        await self.spyne(
            {**scope, ENVELOPE_SCOPE_KEY: envelope, **extra}, _replay(body, receive), send_checked
        )

    async def _admit(
        self, scope: Scope, headers: list[tuple[bytes, bytes]], envelope: Any
    ) -> tuple[Any, QuotaState | None]:
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
        quota = await self.guard.charge(principal, "soap", operation or "unknown")
        return principal, quota


def create_app(api: ServerApi, options: SoapOptions, guard: Guard | None = None) -> SoapApp:
    return SoapApp(api, options, guard)


def _is_xml(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in ("text/xml", "application/xml", "application/soap+xml") or media_type.endswith(
        "+xml"
    )


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
