"""The spyne definitions: wire types, the nine operations, and the protocol/application tweaks.

SOAP 1.1 document/literal wrapped, target namespace ``urn:rosetta:reservations:v1``. Inputs are
optional strings/integers so an absent element reaches the core as ``None`` and the core decides
(MISSING_MANDATORY_PROPERTY, INVALID_PROPERTY ...), exactly as for the other styles.
The protocol and application classes spyne runs them with are in ``application.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from services.core.api import ServerApi
from services.core.errors import (
    MissingMandatoryProperty,
)
from services.core.model import (
    Action,
    Event,
    EventType,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    ReservationStatus,
    Room,
    format_timestamp,
)
from services.soap import spyne_compat  # noqa: F401  (makes spyne importable: before any spyne import)
from services.soap.errors import NAMESPACE

# isort: split
from spyne import ComplexModel, Integer, ServiceBase, Unicode, rpc

log = logging.getLogger("rosetta.soap")

ENVELOPE_SCOPE_KEY = "rosetta.soap.envelope"  # the hardened, already parsed request in the ASGI scope
PRINCIPAL_SCOPE_KEY = "rosetta.soap.principal"  # who the gateway admitted (absent: no guard)
APPLICATION_NAME = "ReservationService"

# -- wire types -------------------------------------------------------------------------------

_Required = Unicode(min_occurs=1, nillable=False)
_RequiredInt = Integer(min_occurs=1, nillable=False)
_Optional = Unicode(min_occurs=0, nillable=True)
_InText = Unicode(min_occurs=0, nillable=True)
_InInt = Integer(min_occurs=0, nillable=True)

# Named enumerations in the target namespace (output only: inputs stay strings so the core validates them).
StatusType = Unicode(
    values=[s.value for s in ReservationStatus], type_name="ReservationStatus", min_occurs=1, nillable=False,
    __namespace__=NAMESPACE,
)  # fmt: skip
ActionType = Unicode(
    values=[a.value for a in Action], type_name="Action", min_occurs=0, max_occurs="unbounded",
    nillable=False,
    __namespace__=NAMESPACE,
)  # fmt: skip
EventTypeType = Unicode(
    values=[t.value for t in EventType], type_name="EventType", min_occurs=1, nillable=False,
    __namespace__=NAMESPACE,
)  # fmt: skip


class RoomType(ComplexModel):
    __namespace__ = NAMESPACE
    __type_name__ = "Room"
    _type_info = [
        ("roomId", _Required),
        ("name", _Required),
        ("capacity", _RequiredInt),
        ("location", _Required),
    ]

    @classmethod
    def from_domain(cls, room: Room) -> RoomType:
        return cls(roomId=room.room_id, name=room.name, capacity=room.capacity, location=room.location)


class ReservationType(ComplexModel):
    __namespace__ = NAMESPACE
    __type_name__ = "Reservation"
    _type_info = [
        ("reservationId", _Required),
        ("roomId", _Required),
        ("guestName", _Required),
        ("date", _Required),
        ("startTime", _Required),
        ("endTime", _Required),
        ("attendees", _RequiredInt),
        ("purpose", _Optional),
        ("status", StatusType),
        ("cancelReason", _Optional),
        ("version", _RequiredInt),
        ("createdAt", _Required),
        ("updatedAt", _Required),
        ("actions", ActionType),
    ]

    @classmethod
    def from_domain(cls, r: Reservation) -> ReservationType:
        return cls(
            reservationId=r.reservation_id,
            roomId=r.room_id,
            guestName=r.guest_name,
            date=r.date,
            startTime=r.start_time,
            endTime=r.end_time,
            attendees=r.attendees,
            purpose=r.purpose,
            status=r.status.value,
            cancelReason=r.cancel_reason,
            version=r.version,
            createdAt=format_timestamp(r.created_at),
            updatedAt=format_timestamp(r.updated_at),
            actions=[a.value for a in r.actions],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReservationType:
        """From the camelCase representation stored in the event log."""
        # (spyne's metaclass has made ``_type_info`` a name -> type mapping by now.)
        return cls(**{name: data.get(name) for name in cls.get_flat_type_info(cls)})


class EventRecordType(ComplexModel):
    __namespace__ = NAMESPACE
    __type_name__ = "Event"
    _type_info = [
        ("eventId", _Required),
        ("sequence", _RequiredInt),
        ("type", EventTypeType),
        ("occurredAt", _Required),
        ("data", ReservationType.customize(min_occurs=1, nillable=False)),
    ]

    @classmethod
    def from_domain(cls, event: Event) -> EventRecordType:
        return cls(
            eventId=event.event_id,
            sequence=event.sequence,
            type=event.type,
            occurredAt=format_timestamp(event.occurred_at),
            data=ReservationType.from_dict(event.data),
        )


_Rooms = RoomType.customize(min_occurs=0, max_occurs="unbounded", nillable=False)
_Room = RoomType.customize(min_occurs=1, nillable=False)
_Reservation = ReservationType.customize(min_occurs=1, nillable=False)
_Items = ReservationType.customize(min_occurs=0, max_occurs="unbounded", nillable=False)
_Events = EventRecordType.customize(min_occurs=0, max_occurs="unbounded", nillable=False)
_InTexts = Unicode(min_occurs=0, max_occurs="unbounded", nillable=False)


# -- calling the async core from spyne's worker thread -----------------------------------------


class CoreBridge:
    """Runs core coroutines on the server's event loop (captured at the first request)."""

    def __init__(self, api: ServerApi) -> None:
        self.api = api
        self.loop: asyncio.AbstractEventLoop | None = None

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        if self.loop is None:
            coroutine.close()
            raise RuntimeError("the SOAP adapter has not seen its event loop yet")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


def _bridge(ctx: Any) -> CoreBridge:
    bridge: CoreBridge = ctx.app.bridge
    return bridge


def _api(ctx: Any) -> ServerApi:
    """The core, acting for the caller the gateway admitted (no guard: the service itself)."""
    api = _bridge(ctx).api
    principal = (ctx.transport.req_env.get("asgi.scope") or {}).get(PRINCIPAL_SCOPE_KEY)
    return api if principal is None else api.acting_as(principal)


def _identifier(name: str, value: str | None) -> str:
    """The id an operation is about: an absent element is MISSING_MANDATORY_PROPERTY, as in GraphQL."""
    if value is None:
        raise MissingMandatoryProperty(field=name)
    return value


def _kwargs(**values: Any) -> dict[str, Any]:
    """Only the elements that were present: absent ones keep the core's defaults."""
    return {name: value for name, value in values.items() if value is not None}


class ReservationSoapService(ServiceBase):
    """The operation set (DESIGN §5); each method only translates wire <-> use case."""

    __service_name__ = "ReservationService"

    @rpc(_returns=_Rooms, _out_variable_name="rooms")
    def ListRooms(ctx: Any) -> list[RoomType]:
        rooms = _bridge(ctx).run(_api(ctx).list_rooms())
        return [RoomType.from_domain(room) for room in rooms]

    @rpc(_InText, _returns=_Room, _out_variable_name="room")
    def GetRoom(ctx: Any, roomId: str | None) -> RoomType:
        roomId = _identifier("roomId", roomId)
        return RoomType.from_domain(_bridge(ctx).run(_api(ctx).get_room(roomId)))

    @rpc(
        _InText, _InText, _InText, _InText, _InText, _InInt, _InText, _InText,
        _returns=_Reservation, _out_variable_name="reservation"
    )  # fmt: skip
    def CreateReservation(
        ctx: Any,
        roomId: str | None,
        guestName: str | None,
        date: str | None,
        startTime: str | None,
        endTime: str | None,
        attendees: int | None,
        purpose: str | None,
        idempotencyKey: str | None,
    ) -> ReservationType:
        draft = ReservationDraft(
            room_id=roomId,
            guest_name=guestName,
            date=date,
            start_time=startTime,
            end_time=endTime,
            attendees=attendees,
            purpose=purpose,
        )
        bridge = _bridge(ctx)
        reservation = bridge.run(_api(ctx).create_reservation(draft, idempotency_key=idempotencyKey))
        return ReservationType.from_domain(reservation)

    @rpc(
        _InText, _returns=_Reservation, _out_variable_name="reservation"
    )  # fmt: skip
    def GetReservation(ctx: Any, reservationId: str | None) -> ReservationType:
        bridge = _bridge(ctx)
        reservationId = _identifier("reservationId", reservationId)
        return ReservationType.from_domain(bridge.run(_api(ctx).get_reservation(reservationId)))

    @rpc(
        _InText, _InText, _InText, _InText, _InText, _InText, _InInt, _InInt,
        _returns=(_Items, _RequiredInt, _RequiredInt, _RequiredInt, _RequiredInt),
        _out_variable_names=("items", "page", "pageSize", "totalItems", "totalPages")
    )  # fmt: skip
    def ListReservations(
        ctx: Any,
        status: str | None,
        roomId: str | None,
        dateFrom: str | None,
        dateTo: str | None,
        guestName: str | None,
        sort: str | None,
        page: int | None,
        pageSize: int | None,
    ) -> tuple[list[ReservationType], int, int, int, int]:
        query = ReservationQuery(
            **_kwargs(
                status=status,
                room_id=roomId,
                date_from=dateFrom,
                date_to=dateTo,
                guest_name=guestName,
                sort=sort,
                page=page,
                page_size=pageSize,
            )
        )
        bridge = _bridge(ctx)
        result: ReservationPage = bridge.run(_api(ctx).list_reservations(query))
        items = [ReservationType.from_domain(item) for item in result.items]
        return items, result.page, result.page_size, result.total_items, result.total_pages

    @rpc(
        _InText, _InInt, _InText, _InText, _InText, _InText, _InText, _InInt, _InText,
        _returns=_Reservation, _out_variable_name="reservation"
    )  # fmt: skip
    def ModifyReservation(
        ctx: Any,
        reservationId: str | None,
        expectedVersion: int | None,
        roomId: str | None,
        guestName: str | None,
        date: str | None,
        startTime: str | None,
        endTime: str | None,
        attendees: int | None,
        purpose: str | None,
    ) -> ReservationType:
        changes = ReservationChanges(
            room_id=roomId,
            guest_name=guestName,
            date=date,
            start_time=startTime,
            end_time=endTime,
            attendees=attendees,
            purpose=purpose,
        )
        bridge = _bridge(ctx)
        reservationId = _identifier("reservationId", reservationId)
        reservation = bridge.run(
            _api(ctx).modify_reservation(reservationId, changes, expected_version=expectedVersion)
        )
        return ReservationType.from_domain(reservation)

    @rpc(
        _InText, _InText, _InText, _returns=_Reservation, _out_variable_name="reservation"
    )  # fmt: skip
    def CancelReservation(
        ctx: Any, reservationId: str | None, reason: str | None, idempotencyKey: str | None
    ) -> ReservationType:
        bridge = _bridge(ctx)
        reservationId = _identifier("reservationId", reservationId)
        reservation = bridge.run(
            _api(ctx).cancel_reservation(reservationId, reason=reason, idempotency_key=idempotencyKey)
        )
        return ReservationType.from_domain(reservation)

    @rpc(
        _InText, _returns=_Reservation, _out_variable_name="reservation"
    )  # fmt: skip
    def CheckInReservation(ctx: Any, reservationId: str | None) -> ReservationType:
        bridge = _bridge(ctx)
        reservationId = _identifier("reservationId", reservationId)
        return ReservationType.from_domain(bridge.run(_api(ctx).check_in_reservation(reservationId)))

    @rpc(
        _InInt, _InTexts, _InInt, _returns=_Events, _out_variable_name="events"
    )  # fmt: skip
    def GetEvents(
        ctx: Any, after: int | None, types: list[str] | None, limit: int | None
    ) -> list[EventRecordType]:
        bridge = _bridge(ctx)
        events = bridge.run(_api(ctx).watch_events(**_kwargs(after=after, types=types or None, limit=limit)))
        return [EventRecordType.from_domain(event) for event in events]


# -- faults -------------------------------------------------------------------------------------
