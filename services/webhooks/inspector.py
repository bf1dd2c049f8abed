"""A small webhook receiver for workshops and tests: verifies signatures and shows what arrived.

``POST`` (or PUT/PATCH) to any path receives a message: it is verified with ``standardwebhooks``
against each configured secret, logged in one line, and kept (the last ``keep`` messages).
``GET /received`` lists them as JSON, oldest first (``?path=/x``: only those sent to one path;
``?count=N&timeout=S``: wait until at least N have arrived). ``DELETE /received`` forgets them.
``GET /healthz`` answers 200 (the container health check).
A verified message is answered 204; one that does not verify is answered 401, so the sender
records the failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("rosetta.inspector")

RECEIVE_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Inspector:
    """The ASGI app; ``received`` holds what arrived (``secrets`` may be appended to while running)."""

    def __init__(self, secrets: list[str], keep: int = 1000) -> None:
        self.secrets = secrets
        self.received: deque[dict[str, Any]] = deque(maxlen=keep)
        self._seen_ids: set[str] = set()
        self._arrived: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._arrived is None:
            self._arrived = asyncio.Condition()
        return self._arrived

    def verify(self, body: bytes, headers: dict[str, str]) -> tuple[bool | None, str | None]:
        """(True, None) if one secret verifies; (None, reason) without secrets; else (False, reason)."""
        if not self.secrets:
            return None, "no secret configured"
        reason = "no secret verifies the signature"
        for secret in list(self.secrets):
            try:
                Webhook(secret).verify(body, headers, json_parse=False)
            except WebhookVerificationError as error:
                reason = str(error)
            else:
                return True, None
        return False, reason

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if request.method in RECEIVE_METHODS:
            response = await self._receive(request)
        elif request.url.path == "/healthz" and request.method in ("GET", "HEAD"):
            response = Response(b'{"status":"ok"}', media_type="application/json")
        elif request.url.path.rstrip("/") == "/received" and request.method == "GET":
            response = await self._list(request)
        elif request.url.path.rstrip("/") == "/received" and request.method == "DELETE":
            self.received.clear()
            self._seen_ids.clear()
            response = Response(status_code=204)
        else:
            response = Response(
                b'{"title":"Not Found","status":404}', status_code=404, media_type="application/problem+json"
            )
        await response(scope, receive, send)

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        verified, error = self.verify(body, headers)
        message_id = headers.get("webhook-id")
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode("utf-8", errors="replace")
        entry = {
            "receivedAt": time.time(),
            "method": request.method,
            "path": request.url.path,
            "webhookId": message_id,
            "webhookTimestamp": headers.get("webhook-timestamp"),
            "webhookSignature": headers.get("webhook-signature"),
            "verified": verified,
            "error": error,
            "duplicate": message_id in self._seen_ids,
            "type": payload.get("type") if isinstance(payload, dict) else None,
            "payload": payload,
            "body": body.decode("utf-8", errors="replace"),
        }
        if message_id:
            self._seen_ids.add(message_id)
        self.received.append(entry)
        log.info(
            "webhook %s %s id=%s verified=%s%s",
            entry["type"] or "-",
            request.url.path,
            message_id or "-",
            verified,
            " (duplicate)" if entry["duplicate"] else "",
        )
        condition = self._condition()
        async with condition:
            condition.notify_all()
        return Response(status_code=401 if verified is False else 204)

    async def _list(self, request: Request) -> Response:
        path = request.query_params.get("path")
        try:
            count = int(request.query_params.get("count", "0"))
            timeout = min(float(request.query_params.get("timeout", "0")), 60.0)
        except ValueError:
            return Response(
                b'{"title":"Bad Request","status":400}', 400, media_type="application/problem+json"
            )

        def matching() -> list[dict[str, Any]]:
            return [entry for entry in self.received if path is None or entry["path"] == path]

        if timeout > 0 and len(matching()) < count:
            condition = self._condition()
            async with condition:
                try:
                    await asyncio.wait_for(condition.wait_for(lambda: len(matching()) >= count), timeout)
                except TimeoutError:
                    pass
        return Response(json.dumps(matching()).encode(), media_type="application/json")


def create_inspector_app(secrets: Sequence[str]) -> Inspector:
    """The inspector as an ASGI app; pass a list to add secrets while it runs."""
    return Inspector(secrets if isinstance(secrets, list) else list(secrets))
