"""``RestClient``: the ``ReservationApi`` over HTTP, raising the core's typed errors from problem+json."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import fields
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from services.core import validation as check
from services.core.errors import RosettaError, error_from_code
from services.core.model import (
    WIRE_NAMES,
    Event,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    Room,
)

API = "/api/v1"
_QUERY_FIELDS = tuple((f.name, WIRE_NAMES[f.name]) for f in fields(ReservationQuery))


def _wire(value: ReservationDraft | ReservationChanges) -> dict[str, Any]:
    """The camelCase members of a draft or change set that are set (``None`` = absent)."""
    present = ((f.name, getattr(value, f.name)) for f in fields(value))
    return {WIRE_NAMES[name]: item for name, item in present if item is not None}


def etag(reservation_id: str, version: object) -> str:
    """The server's ETag of a reservation version (see ``services.rest.app.etag_of``)."""
    return f'"{reservation_id}.{version}"'


def credential_headers(api_key: str | None, token: str | None) -> dict[str, str]:
    """The HTTP headers of a credential: a bearer access token, or an API key."""
    if token is not None:
        return {"authorization": f"Bearer {token}"}
    return {"x-api-key": api_key} if api_key is not None else {}


class RestClient:
    """One keep-alive ``httpx.AsyncClient`` per instance; errors come back as the core's exceptions."""

    def __init__(
        self,
        base_url: str,
        *,
        language: str = "en",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        api_key: str | None = None,
        token: str | None = None,
    ) -> None:
        self.language = language
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + API,
            transport=transport,
            timeout=timeout,
            headers={
                "accept": "application/json",
                "accept-language": language,
                **credential_headers(api_key, token),
            },
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        if response.is_success:
            return response.json()
        raise self._error(response)

    @staticmethod
    def _error(response: httpx.Response) -> RosettaError:
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict) or not isinstance(problem.get("code"), str):
            return error_from_code("INTERNAL", f"HTTP {response.status_code} without a problem body")
        violations = problem.get("errors") or []
        field = violations[0].get("field") if violations and isinstance(violations[0], dict) else None
        wait = response.headers.get("retry-after", "")  # RFC 9110 delay-seconds on a 429
        retry_after = float(wait) if wait.isdigit() else None
        return error_from_code(problem["code"], problem.get("detail"), field, retry_after)

    @staticmethod
    def _id(value: str) -> str:
        return quote(str(value), safe="")

    # -- ReservationApi --------------------------------------------------------------------------

    async def list_rooms(self) -> list[Room]:
        data = await self._call("GET", "/rooms")
        return [Room.from_dict(item) for item in data["items"]]

    async def get_room(self, room_id: str) -> Room:
        return Room.from_dict(await self._call("GET", f"/rooms/{self._id(room_id)}"))

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        headers = {"idempotency-key": idempotency_key} if idempotency_key is not None else None
        data = await self._call("POST", "/reservations", json=_wire(draft), headers=headers)
        return Reservation.from_dict(data)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        return Reservation.from_dict(await self._call("GET", f"/reservations/{self._id(reservation_id)}"))

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage:
        present = ((wire, getattr(query, name)) for name, wire in _QUERY_FIELDS)
        # "" means "no filter" to the core; the REST contract refuses an empty value, so omit it.
        params = {wire: str(value) for wire, value in present if value is not None and value != ""}
        data = await self._call("GET", "/reservations", params=params)
        return ReservationPage.from_dict({"items": data["items"], **data["pagination"]})

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation:
        body = _wire(changes)
        if body.get("purpose") == "":
            body["purpose"] = None  # merge patch: null removes the purpose
        headers = {"content-type": "application/merge-patch+json"}
        if expected_version is not None:
            # Checked here as the core checks it: on the wire a bad version is only a stale ETag (412).
            check.whole_number("expected_version", expected_version, minimum=1, maximum=2**31 - 1)
            headers["if-match"] = etag(reservation_id, expected_version)
        path = f"/reservations/{self._id(reservation_id)}"
        data = await self._call("PATCH", path, content=json.dumps(body).encode(), headers=headers)
        return Reservation.from_dict(data)

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation:
        headers = {"idempotency-key": idempotency_key} if idempotency_key is not None else None
        body = {"reason": reason} if reason is not None else None
        data = await self._call(
            "POST", f"/reservations/{self._id(reservation_id)}/cancel", json=body, headers=headers
        )
        return Reservation.from_dict(data)

    async def check_in_reservation(self, reservation_id: str) -> Reservation:
        path = f"/reservations/{self._id(reservation_id)}/check-in"
        return Reservation.from_dict(await self._call("POST", path))

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        params: dict[str, Any] = {"after": str(after), "limit": str(limit)}
        if types:
            params["types"] = ",".join(types)
        data = await self._call("GET", "/events", params=params)
        return [Event.from_dict(item) for item in data["items"]]

    async def stream_events(
        self, after: int = 0, *, types: Sequence[str] | None = None
    ) -> AsyncGenerator[Event, None]:
        """``GET /events`` as ``text/event-stream``: each ``data:`` line is one event."""
        params: dict[str, Any] = {"after": str(after)}
        if types:
            params["types"] = ",".join(types)
        headers = {"accept": "text/event-stream"}
        async with self._http.stream(
            "GET", "/events", params=params, headers=headers, timeout=None
        ) as response:
            if not response.is_success:
                await response.aread()
                raise self._error(response)
            kind = "message"
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    if kind == "error":  # the server ends the stream with a problem (an expired token)
                        violations = data.get("errors") or [{}]
                        raise error_from_code(data["code"], data.get("detail"), violations[0].get("field"))
                    yield Event.from_dict(data)
                elif not line:
                    kind = "message"
