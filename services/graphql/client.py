"""``GraphQLClient``: the ``ReservationApi`` over GraphQL (plain POST of ``{query, variables}``).

Each operation is one fixed document, so the server's document cache serves every call
after the first. Errors come back as the core's typed exceptions, rebuilt from
``errors[0].extensions.code`` with the server's localized message and field.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import fields
from types import TracebackType
from typing import Any, Self

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from services.core.errors import InternalError, RosettaError, error_from_code
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

_ROOM = "roomId name capacity location"
_RESERVATION = (
    "reservationId roomId guestName date startTime endTime attendees purpose status cancelReason version "
    "createdAt updatedAt"
)

LIST_ROOMS = f"query ListRooms {{ rooms {{ {_ROOM} }} }}"
GET_ROOM = f"query GetRoom($roomId: ID!) {{ room(roomId: $roomId) {{ {_ROOM} }} }}"
GET_RESERVATION = (
    "query GetReservation($reservationId: ID!) "
    f"{{ reservation(reservationId: $reservationId) {{ {_RESERVATION} }} }}"
)
LIST_RESERVATIONS = (
    "query ListReservations($filter: ReservationFilter, $sort: String, $page: Int!, $pageSize: Int!) "
    "{ reservations(filter: $filter, sort: $sort, page: $page, pageSize: $pageSize) "
    f"{{ items {{ {_RESERVATION} }} page pageSize totalItems totalPages }} }}"
)
CREATE_RESERVATION = (
    "mutation CreateReservation($input: CreateReservationInput!, $idempotencyKey: String) "
    f"{{ createReservation(input: $input, idempotencyKey: $idempotencyKey) {{ {_RESERVATION} }} }}"
)
MODIFY_RESERVATION = (
    "mutation ModifyReservation($reservationId: ID!, $input: ModifyReservationInput!, $expectedVersion: Int) "
    "{ modifyReservation(reservationId: $reservationId, input: $input, expectedVersion: $expectedVersion) "
    f"{{ {_RESERVATION} }} }}"
)
CANCEL_RESERVATION = (
    "mutation CancelReservation($reservationId: ID!, $reason: String, $idempotencyKey: String) "
    "{ cancelReservation(reservationId: $reservationId, reason: $reason, idempotencyKey: $idempotencyKey) "
    f"{{ {_RESERVATION} }} }}"
)
CHECK_IN_RESERVATION = (
    "mutation CheckInReservation($reservationId: ID!) "
    f"{{ checkInReservation(reservationId: $reservationId) {{ {_RESERVATION} }} }}"
)
WATCH_EVENTS = (
    "query WatchEvents($after: Int!, $types: [String!], $limit: Int!) "
    "{ events(after: $after, types: $types, limit: $limit) "
    f"{{ eventId sequence type occurredAt data {{ {_RESERVATION} }} }} }}"
)

STREAM_EVENTS = (
    "subscription StreamEvents($after: Int!, $types: [String!]) "
    "{ reservationEvents(after: $after, types: $types) "
    f"{{ eventId sequence type occurredAt data {{ {_RESERVATION} }} }} }}"
)


def _event(item: dict[str, Any]) -> Event:
    """The event's reservation comes as the fields the query selected: rendered as the core renders it."""
    return Event.from_dict({**item, "data": Reservation.from_dict(item["data"]).to_dict()})


def _input(value: ReservationDraft | ReservationChanges) -> dict[str, Any]:
    """The camelCase input object: unset (None) fields are left out, as the core reads them."""
    return {
        WIRE_NAMES[f.name]: getattr(value, f.name)
        for f in fields(value)
        if getattr(value, f.name) is not None
    }


class GraphQLClient:
    """A ``ReservationApi`` that talks to ``base_url + "/graphql"``; errors are the core's typed errors."""

    def __init__(
        self,
        base_url: str,
        *,
        language: str = "en",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        api_key: str | None = None,
        token: str | None = None,
    ) -> None:
        self.endpoint = base_url.rstrip("/") + "/graphql"
        self.language = language
        self._credential = {"authorization": f"Bearer {token}"} if token is not None else {}
        if api_key is not None and token is None:
            self._credential = {"x-api-key": api_key}
        self._http = httpx.AsyncClient(
            headers={"accept-language": language, "accept": "application/json", **self._credential},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, document: str, field: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self._http.post(
            self.endpoint, json={"query": document, "variables": variables or {}}
        )
        try:
            payload = response.json()
        except ValueError:
            raise InternalError(
                message=f"unreadable GraphQL response (HTTP {response.status_code})"
            ) from None
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            raise _error(errors[0])
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict) or data.get(field) is None:
            raise InternalError(message=f"GraphQL response without data (HTTP {response.status_code})")
        return data[field]

    # -- ReservationApi -----------------------------------------------------------------

    async def list_rooms(self) -> list[Room]:
        return [Room.from_dict(item) for item in await self._call(LIST_ROOMS, "rooms")]

    async def get_room(self, room_id: str) -> Room:
        return Room.from_dict(await self._call(GET_ROOM, "room", {"roomId": room_id}))

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        variables = {"input": _input(draft), "idempotencyKey": idempotency_key}
        return Reservation.from_dict(await self._call(CREATE_RESERVATION, "createReservation", variables))

    async def get_reservation(self, reservation_id: str) -> Reservation:
        data = await self._call(GET_RESERVATION, "reservation", {"reservationId": reservation_id})
        return Reservation.from_dict(data)

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage:
        where = {
            "status": query.status,
            "roomId": query.room_id,
            "dateFrom": query.date_from,
            "dateTo": query.date_to,
            "guestName": query.guest_name,
        }
        variables = {
            "filter": {key: value for key, value in where.items() if value is not None},
            "sort": query.sort,
            "page": query.page,
            "pageSize": query.page_size,
        }
        data = await self._call(LIST_RESERVATIONS, "reservations", variables)
        return ReservationPage.from_dict(data)

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation:
        input_ = _input(changes)
        if input_.get("purpose") == "":
            input_["purpose"] = None  # the core's "clear the purpose" is an explicit null on the wire
        variables = {"reservationId": reservation_id, "input": input_, "expectedVersion": expected_version}
        return Reservation.from_dict(await self._call(MODIFY_RESERVATION, "modifyReservation", variables))

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation:
        variables = {"reservationId": reservation_id, "reason": reason, "idempotencyKey": idempotency_key}
        return Reservation.from_dict(await self._call(CANCEL_RESERVATION, "cancelReservation", variables))

    async def check_in_reservation(self, reservation_id: str) -> Reservation:
        data = await self._call(CHECK_IN_RESERVATION, "checkInReservation", {"reservationId": reservation_id})
        return Reservation.from_dict(data)

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        variables = {"after": after, "types": list(types) if types else None, "limit": limit}
        return [_event(item) for item in await self._call(WATCH_EVENTS, "events", variables)]

    async def stream_events(
        self, after: int = 0, *, types: Sequence[str] | None = None
    ) -> AsyncGenerator[Event, None]:
        """The ``reservationEvents`` subscription over ``graphql-transport-ws``, one event at a time."""
        url = "ws" + self.endpoint.removeprefix("http")
        headers = {"accept-language": self.language, **self._credential}
        async with connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=headers
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            if json.loads(await ws.recv()).get("type") != "connection_ack":
                raise InternalError(message="the GraphQL server did not acknowledge the connection")
            variables = {"after": after, "types": list(types) if types else None}
            subscribe = {"query": STREAM_EVENTS, "variables": variables}
            await ws.send(json.dumps({"id": "events", "type": "subscribe", "payload": subscribe}))
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        raise _error(payload["errors"][0])
                    yield _event(payload["data"]["reservationEvents"])
                elif kind == "error":
                    raise _error((message.get("payload") or [None])[0])
                elif kind == "complete":
                    return
                elif kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))


def _error(entry: Any) -> RosettaError:
    if not isinstance(entry, dict):
        return InternalError()
    extensions = entry.get("extensions") or {}
    wait = extensions.get("retryAfter")
    retry_after = float(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) else None
    return error_from_code(
        str(extensions.get("code", "INTERNAL")), entry.get("message"), extensions.get("field"), retry_after
    )
