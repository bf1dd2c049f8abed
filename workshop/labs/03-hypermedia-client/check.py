"""Lab 03's checker: the learner's client books and cancels through a transport that moves every URL."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx

from workshop.checking import Hint, LabContext, check, unique_date


class MovingTransport(httpx.AsyncBaseTransport):
    """Serves the real API under other paths: only URLs the API itself handed out work."""

    def __init__(self, base_url: str) -> None:
        tag = secrets.token_hex(3)
        self.base = base_url
        self.renames = {
            "api": f"moved-{tag}",
            "v1": "v",
            "reservations": f"bookings-{tag}",
            "rooms": f"spaces-{tag}",
            "cancel": f"withdraw-{tag}",
        }
        self.back = {new: old for old, new in self.renames.items()}
        self.refused: list[str] = []
        self.inner = httpx.AsyncHTTPTransport()

    def _map(self, path: str, table: dict[str, str]) -> str:
        return "/".join(table.get(part, part) for part in path.split("/"))

    def public(self, url: str) -> str:
        if not url.startswith(self.base):
            return url
        rest = url[len(self.base) :]
        path, mark, query = rest.partition("?")
        return self.base + self._map(path, self.renames) + mark + query

    def _rewrite(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.public(value)
        if isinstance(value, list):
            return [self._rewrite(item) for item in value]
        if isinstance(value, dict):
            return {key: self._rewrite(item) for key, item in value.items()}
        return value

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if set(path.split("/")) & set(self.renames):  # an old name: a URL the API never gave out
            self.refused.append(f"{request.method} {path}")
            return httpx.Response(404, json={"detail": "no resource exists at this path"})
        real = request.url.copy_with(path=self._map(path, self.back))
        forwarded = httpx.Request(
            request.method, real, headers=request.headers, content=await request.aread()
        )
        response = await self.inner.handle_async_request(forwarded)
        body = await response.aread()
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        if "location" in response.headers:
            headers = [(k, self.public(v) if k.lower() == "location" else v) for k, v in headers]
        if body and "json" in response.headers.get("content-type", ""):
            body = json.dumps(self._rewrite(json.loads(body))).encode()
        return httpx.Response(response.status_code, headers=headers, content=body)


async def _run(lab: LabContext) -> tuple[dict[str, Any], MovingTransport, str]:
    transport = MovingTransport(lab.base_url)
    guest = f"Lab 03 {secrets.token_hex(3)}"
    draft = {
        "roomId": "room-c",
        "guestName": guest,
        "date": unique_date(),
        "startTime": "13:00",
        "endTime": "14:00",
        "attendees": 2,
    }
    entry = transport.public(f"{lab.base_url}/api/v1")
    async with httpx.AsyncClient(transport=transport, headers=lab.headers(), timeout=10) as http:
        try:
            result = await lab.load("client").book_and_cancel(http, entry, draft, "lab 03 checker")
        except Exception:
            if not transport.refused:
                raise
    if transport.refused:
        raise Hint(
            f"your client requested {transport.refused[0]}, a URL the API never gave it: start from the "
            "entry point and follow `_links` (the collection's `create`, the reservation's `cancel`)"
        )
    return result, transport, guest


@check(
    "Books and cancels with moved URLs, following links only", "book_and_cancel(http, entry, draft, reason)."
)
async def follows_links(lab: LabContext) -> str:
    result, transport, guest = await _run(lab)
    if not isinstance(result, dict) or result.get("status") != "CANCELED":
        raise Hint("return the representation the cancel answered with: its status should be CANCELED")
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        found = (await http.get(f"{lab.base_url}/api/v1/reservations", params={"guestName": guest})).json()
    items = found.get("items", [])
    if len(items) != 1 or items[0]["status"] != "CANCELED" or items[0]["cancelReason"] != "lab 03 checker":
        raise Hint("the server does not hold one canceled reservation with your reason: send the reason too")
    return f"paths renamed to {transport.renames['api']}/…/{transport.renames['reservations']}: still worked"


@check("Reads `actions` before acting", "after the cancel, the reservation's actions list is empty.")
async def reads_actions(lab: LabContext) -> str:
    result, _, _ = await _run(lab)  # a second run, under other names: nothing may be remembered
    if result.get("actions") != []:
        raise Hint("the canceled reservation should offer no actions; return the cancel's answer as is")
    return "a second run under different paths worked too"


CHECKS = [follows_links, reads_actions]
