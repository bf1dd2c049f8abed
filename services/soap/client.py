"""``SoapClient``: the ``ReservationApi`` over SOAP, with zeep reading the checked-in WSDL from disk.

Faults come back as the core's typed errors (code and field from ``<detail>``, message from
``faultstring``), so a caller cannot tell this client from the core or any other style's client.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
import zeep
from zeep.exceptions import Fault
from zeep.helpers import serialize_object
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport
from zeep.wsse.username import UsernameToken

from services.core.errors import InvalidProperty, RosettaError, error_from_code
from services.core.model import (
    Event,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    Room,
)
from services.soap.errors import NAMESPACE, code_of_faultcode
from services.soap.wsdl import CONTRACT_PATH

BINDING = f"{{{NAMESPACE}}}ReservationService"
_DECIMAL = re.compile(r"^[+-]?\d{1,9}$")


class SoapClient:
    """Async client for ``POST {base_url}/soap``; ``language`` travels as Accept-Language."""

    def __init__(
        self,
        base_url: str,
        *,
        language: str = "en",
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,  # injected in tests, e.g. httpx.ASGITransport
        api_key: str | None = None,
        token: str | None = None,
        client_id: str | None = None,  # with client_secret: a WS-Security UsernameToken in every call
        client_secret: str | None = None,
    ) -> None:
        self.language = language
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._wsdl_http = httpx.Client()  # zeep wants one for remote WSDLs; ours is read from disk
        zeep_transport = AsyncTransport(client=self._http, wsdl_client=self._wsdl_http)
        self._http.headers["Accept-Language"] = language  # after AsyncTransport replaced the headers
        if token is not None:
            self._http.headers["Authorization"] = f"Bearer {token}"
        elif api_key is not None:
            self._http.headers["X-Api-Key"] = api_key
        wsse = (
            UsernameToken(client_id, client_secret)
            if client_id is not None and client_secret is not None
            else None
        )
        settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self._zeep = zeep.AsyncClient(
            str(CONTRACT_PATH), transport=zeep_transport, settings=settings, wsse=wsse
        )
        # What ``create_service(binding, address)`` does, but async: zeep 4.3's AsyncClient.create_service
        # returns a sync ServiceProxy whose calls cannot be awaited.
        binding = self._zeep.wsdl.bindings[BINDING]
        self._service: Any = AsyncServiceProxy(self._zeep, binding, address=base_url.rstrip("/") + "/soap")

    async def __aenter__(self) -> SoapClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        self._wsdl_http.close()

    async def _call(self, operation: str, **elements: Any) -> Any:
        present = {name: value for name, value in elements.items() if value is not None}
        try:
            return await getattr(self._service, operation)(**present)
        except Fault as fault:
            raise _error_of(fault) from None

    # -- ReservationApi -------------------------------------------------------------------------

    async def list_rooms(self) -> list[Room]:
        rooms = await self._call("ListRooms")
        return [_room(room) for room in rooms or ()]

    async def get_room(self, room_id: str) -> Room:
        return _room(await self._call("GetRoom", roomId=self._text("roomId", room_id)))

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        result = await self._call(
            "CreateReservation",
            roomId=self._text("roomId", draft.room_id),
            guestName=self._text("guestName", draft.guest_name),
            date=self._text("date", draft.date),
            startTime=self._text("startTime", draft.start_time),
            endTime=self._text("endTime", draft.end_time),
            attendees=self._int("attendees", draft.attendees),
            purpose=self._text("purpose", draft.purpose),
            idempotencyKey=self._text("idempotencyKey", idempotency_key),
        )
        return _reservation(result)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        result = await self._call("GetReservation", reservationId=self._text("reservationId", reservation_id))
        return _reservation(result)

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage:
        result = await self._call(
            "ListReservations",
            status=self._text("status", query.status),
            roomId=self._text("roomId", query.room_id),
            dateFrom=self._text("dateFrom", query.date_from),
            dateTo=self._text("dateTo", query.date_to),
            guestName=self._text("guestName", query.guest_name),
            sort=self._text("sort", query.sort),
            page=self._int("page", query.page, coerce=True),
            pageSize=self._int("pageSize", query.page_size, coerce=True),
        )
        return ReservationPage.from_dict(_plain(result))

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation:
        result = await self._call(
            "ModifyReservation",
            reservationId=self._text("reservationId", reservation_id),
            expectedVersion=self._int("expectedVersion", expected_version),
            roomId=self._text("roomId", changes.room_id),
            guestName=self._text("guestName", changes.guest_name),
            date=self._text("date", changes.date),
            startTime=self._text("startTime", changes.start_time),
            endTime=self._text("endTime", changes.end_time),
            attendees=self._int("attendees", changes.attendees),
            purpose=self._text("purpose", changes.purpose),
        )
        return _reservation(result)

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation:
        result = await self._call(
            "CancelReservation",
            reservationId=self._text("reservationId", reservation_id),
            reason=self._text("reason", reason),
            idempotencyKey=self._text("idempotencyKey", idempotency_key),
        )
        return _reservation(result)

    async def check_in_reservation(self, reservation_id: str) -> Reservation:
        result = await self._call(
            "CheckInReservation", reservationId=self._text("reservationId", reservation_id)
        )
        return _reservation(result)

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        events = await self._call(
            "GetEvents",
            after=self._int("after", after, coerce=True),
            types=[self._text("types", t) for t in types] if types else None,
            limit=self._int("limit", limit, coerce=True),
        )
        return [_event(event) for event in events or ()]

    # -- values the WSDL types cannot carry --------------------------------------------------
    # An xs:integer element cannot hold "abc" and an xs:string cannot hold 3: the request could not
    # even be encoded, so report what the server would report for the same value in a JSON style.

    def _refuse(self, name: str) -> RosettaError:
        error = InvalidProperty(field=name, params={"reason": "type"})
        return error_from_code(error.code, error.localized(self.language), name)

    def _text(self, name: str, value: object) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise self._refuse(name)

    def _int(self, name: str, value: object, *, coerce: bool = False) -> int | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if coerce and isinstance(value, str) and _DECIMAL.match(value.strip()):
            return int(value)
        raise self._refuse(name)


def _error_of(fault: Fault) -> RosettaError:
    code = code_of_faultcode(fault.code or "")
    field: str | None = None
    retry_after: float | None = None
    detail = fault.detail
    if detail is not None:
        error = detail.find(f"{{{NAMESPACE}}}error")
        if error is not None:
            code = error.findtext(f"{{{NAMESPACE}}}code") or code
            field = error.findtext(f"{{{NAMESPACE}}}field")
            wait = error.findtext(f"{{{NAMESPACE}}}retryAfter")
            if wait is not None:
                try:
                    retry_after = float(wait)
                except ValueError:  # not ours to trust: the fault stands without a wait
                    retry_after = None
    return error_from_code(code, fault.message, field, retry_after)


def _plain(data: Any) -> dict[str, Any]:
    """A zeep object as the dict of its elements (nested ones too), named as on every JSON wire."""
    return dict(serialize_object(data, dict))


def _room(data: Any) -> Room:
    return Room.from_dict(_plain(data))


def _reservation(data: Any) -> Reservation:
    return Reservation.from_dict(_plain(data))


def _event(data: Any) -> Event:
    event = _plain(data)
    return Event.from_dict({**event, "data": Reservation.from_dict(event["data"]).to_dict()})
