"""Domain objects <-> protobuf messages, both directions (the server and the client share them).

Inputs keep raw values: a field absent from a request becomes ``None`` so the core reports it,
and nothing here validates. Timestamps keep the core's exact (millisecond) values.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.timestamp_pb2 import Timestamp

from services.core.model import (
    ACTION_NAMES_BY_STATUS,
    Event,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationQuery,
    ReservationStatus,
    Room,
)
from services.grpc.generated import reservations_pb2 as pb

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

STATUS_TO_MESSAGE: dict[ReservationStatus, pb.ReservationStatus] = {
    ReservationStatus.RESERVED: pb.RESERVATION_STATUS_RESERVED,
    ReservationStatus.CHECKED_IN: pb.RESERVATION_STATUS_CHECKED_IN,
    ReservationStatus.CANCELED: pb.RESERVATION_STATUS_CANCELED,
}
STATUS_FROM_MESSAGE: dict[int, ReservationStatus] = {value: key for key, value in STATUS_TO_MESSAGE.items()}

DRAFT_FIELDS: tuple[str, ...] = (
    "room_id",
    "guest_name",
    "date",
    "start_time",
    "end_time",
    "attendees",
    "purpose",
)
QUERY_FIELDS: tuple[str, ...] = (
    "status",
    "room_id",
    "date_from",
    "date_to",
    "guest_name",
    "sort",
    "page",
    "page_size",
)


# -- timestamps ------------------------------------------------------------------------


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    _set(stamp, moment)
    return stamp


def _set(stamp: Timestamp, moment: datetime) -> None:
    stamp.seconds, stamp.nanos = _since_epoch(moment)


@functools.lru_cache(maxsize=16384)
def _since_epoch(moment: datetime) -> tuple[int, int]:
    """Cached as ``format_timestamp`` is: a page sends the same reservations' timestamps again and again."""
    delta = moment - EPOCH
    return delta.days * 86400 + delta.seconds, delta.microseconds * 1000


def moment(stamp: Timestamp) -> datetime:
    return EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


# -- domain -> message ---------------------------------------------------------------


def room_message(room: Room) -> pb.Room:
    return pb.Room(room_id=room.room_id, name=room.name, capacity=room.capacity, location=room.location)


def reservation_message(reservation: Reservation) -> pb.Reservation:
    return fill_reservation(pb.Reservation(), reservation)


def fill_reservation(message: pb.Reservation, reservation: Reservation) -> pb.Reservation:
    """``reservation`` written into an empty ``message`` in place, such as a response's own field
    (``response.reservation``, ``response.items.add()``) rather than a message built apart and then
    copied into it. Field by field, which upb does faster than keyword arguments: a page of 20 in
    44 against 65 µs, a reservation in 2.0 against 2.6 µs (timeit, in process)."""
    message.reservation_id = reservation.reservation_id
    message.room_id = reservation.room_id
    message.guest_name = reservation.guest_name
    message.date = reservation.date
    message.start_time = reservation.start_time
    message.end_time = reservation.end_time
    message.attendees = reservation.attendees
    if reservation.purpose is not None:
        message.purpose = reservation.purpose
    message.status = STATUS_TO_MESSAGE[reservation.status]
    if reservation.cancel_reason is not None:
        message.cancel_reason = reservation.cancel_reason
    message.version = reservation.version
    message.actions.extend(ACTION_NAMES_BY_STATUS[reservation.status])
    _set(message.created_at, reservation.created_at)
    _set(message.updated_at, reservation.updated_at)
    return message


KEPT_MESSAGES = 8192
"""Reservations whose built message is kept: about 1.7 KB each (RSS over 8,192 kept), 14 MB when full."""


@functools.lru_cache(maxsize=KEPT_MESSAGES)
def _kept_message(reservation: Reservation) -> pb.Reservation:
    return fill_reservation(pb.Reservation(), reservation)


def copy_reservation(message: pb.Reservation, reservation: Reservation) -> None:
    """``reservation`` into ``message`` (a response's own field) from the message built for that very
    value before: keyed by the whole reservation (a frozen value: every field, the version included), so
    a kept message can never be stale, and copied, so it is never shared or changed. Reads return the
    same unchanged reservations again and again, and upb copies a built message in about a third of the
    time it takes to set its fields (a page of 20: 51 against 144 µs, timeit on a slow host). Encoding
    (``SerializeToString``) still runs on every call, as the floor's does."""
    message.CopyFrom(_kept_message(reservation))


def copy_reservations(
    messages: RepeatedCompositeFieldContainer[pb.Reservation], reservations: Iterable[Reservation]
) -> None:
    """A page: each reservation appended to ``messages`` (a response's repeated field) as ``copy_reservation``
    does, in one loop (a page of 20: 11.9 against 15.4 us through ``copy_reservation`` per item, timeit)."""
    add = messages.add
    for reservation in reservations:
        add().CopyFrom(_kept_message(reservation))


def event_message(event: Event) -> pb.Event:
    return pb.Event(
        event_id=event.event_id,
        sequence=event.sequence,
        type=event.type,
        occurred_at=timestamp(event.occurred_at),
        data=reservation_message(Reservation.from_dict(event.data)),
    )


# -- message -> domain ---------------------------------------------------------------


def room_from_message(message: pb.Room) -> Room:
    return Room(
        room_id=message.room_id, name=message.name, capacity=message.capacity, location=message.location
    )


def reservation_from_message(message: pb.Reservation) -> Reservation:
    return Reservation(
        reservation_id=message.reservation_id,
        room_id=message.room_id,
        guest_name=message.guest_name,
        date=message.date,
        start_time=message.start_time,
        end_time=message.end_time,
        attendees=message.attendees,
        purpose=message.purpose if message.HasField("purpose") else None,
        status=STATUS_FROM_MESSAGE[message.status],
        cancel_reason=message.cancel_reason if message.HasField("cancel_reason") else None,
        version=message.version,
        created_at=moment(message.created_at),
        updated_at=moment(message.updated_at),
    )


def event_from_message(message: pb.Event) -> Event:
    return Event(
        event_id=message.event_id,
        sequence=message.sequence,
        type=message.type,
        occurred_at=moment(message.occurred_at),
        data=reservation_from_message(message.data).to_dict(),
    )


# -- requests (server side): present fields only, absent ones stay None --------------


def present(message: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(message, name) for name in names if message.HasField(name)}


def draft_from_request(request: pb.CreateReservationRequest) -> ReservationDraft:
    return ReservationDraft(**present(request, DRAFT_FIELDS))


def changes_from_request(request: pb.ModifyReservationRequest) -> ReservationChanges:
    return ReservationChanges(**present(request, DRAFT_FIELDS))


def query_from_request(request: pb.ListReservationsRequest) -> ReservationQuery:
    return ReservationQuery(**present(request, QUERY_FIELDS))
