"""The use cases: ``ReservationService`` implements ``ReservationApi`` over the store ports.

The checks of each input field are in ``validation.py``; the use cases decide in what order.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, Self, TypeVar

from services.core import validation as check
from services.core.access import TRUSTED, Principal, authorize
from services.core.errors import (
    CapacityExceeded,
    Forbidden,
    IdempotencyKeyReused,
    ReservationConflict,
    ReservationNotFound,
    RoomNotFound,
    Unavailable,
    VersionMismatch,
)
from services.core.model import (
    WIRE_NAMES,
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
    truncate_to_millis,
)
from services.core.ports import (
    Clock,
    EventNotifier,
    IdempotencyRecord,
    IdGenerator,
    ReservationFilter,
    Store,
    StoreUnavailable,
    UnitOfWork,
)


def utc_now() -> datetime:
    return truncate_to_millis(datetime.now(UTC))


def random_id(prefix: str) -> str:
    """``rsv_`` + 16 lowercase base32 characters (80 random bits): opaque and URL-safe."""
    return f"{prefix}_{base64.b32encode(os.urandom(10)).decode().lower()}"


def _fingerprint(operation: str, payload: dict[str, Any]) -> str:
    # The fingerprint is only ever compared with another made here, from a payload built in one fixed order:
    # the key order and separators do not change what it tells apart (hence no mutants on those lines).
    canonical = json.dumps(
        {"op": operation, **payload},
        sort_keys=True,  # pragma: no mutate
        separators=(",", ":"),  # pragma: no mutate
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


EVENT_BATCH_MAX = 1000
IDEMPOTENCY_SCOPE = "reservations"
"""One key space for create and cancel: a key reused for the other operation is refused, not replayed
(the fingerprint names the operation)."""
STALE_RETRIES = 8
"""How often a change without expectedVersion is re-run on fresh state when a concurrent writer
committed first (only a store with optimistic writes, PostgreSQL, reports that)."""


STORE_RETRY_SECONDS = 25.0
"""How long a use case is re-run while its unit of work reports the store unavailable (a PostgreSQL
restart takes a few seconds): the client sees a slower answer, not an error. After that the use case
is refused as UNAVAILABLE (nothing was written, so the same request may be sent again), asking for
``STORE_RETRY_AFTER_SECONDS`` of patience."""
STORE_RETRY_AFTER_SECONDS = 5.0


P = ParamSpec("P")
T = TypeVar("T")


def _retried_while_store_unavailable(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        deadline = time.monotonic() + STORE_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                return await method(*args, **kwargs)
            except StoreUnavailable as lost:
                if time.monotonic() + delay > deadline:
                    raise Unavailable(params={"retryAfter": STORE_RETRY_AFTER_SECONDS}) from lost
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    return run


class ReservationService:
    """The core object handed to every adapter (one per process)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = utc_now,
        ids: IdGenerator = random_id,
        notifier: EventNotifier | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._notifier = notifier
        self._principal = TRUSTED

    def acting_as(self, principal: Principal) -> Self:
        """The same service, acting for ``principal``: a cheap view sharing the store.

        Each operation re-checks the principal's scope (the gateway has already; this keeps an adapter
        that forgot from leaking anything), a create records the principal as the owner, and only the
        owner or an admin may modify, cancel or check in (FORBIDDEN otherwise). Idempotency keys are
        per client, so one client's key can neither replay nor block another's request.
        """
        # A bare copy of the attributes: copy.copy took 10x as long, on every request.
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._principal = principal
        return view

    @property
    def principal(self) -> Principal:
        return self._principal

    def _allow(self, operation: str) -> None:
        if self._principal is not TRUSTED:
            authorize(self._principal, operation)

    def _require_owner(self, reservation: Reservation) -> None:
        if not self._principal.owns(reservation.owner):
            raise Forbidden(params={"reason": "not_owner", "reservationId": reservation.reservation_id})

    @property
    def _idempotency_scope(self) -> str:
        client = self._principal.client_id
        return IDEMPOTENCY_SCOPE if client is None else f"{IDEMPOTENCY_SCOPE}@{client}"

    @property
    def store(self) -> Store:
        return self._store

    # -- rooms ---------------------------------------------------------------------------

    async def list_rooms(self) -> list[Room]:
        self._allow("listRooms")
        async with self._store.unit_of_work() as uow:
            return await uow.rooms.list()

    async def get_room(self, room_id: str) -> Room:
        self._allow("getRoom")
        room_id = check.identifier("room_id", room_id)
        async with self._store.unit_of_work() as uow:
            room = await uow.rooms.get(room_id)
        if room is None:
            raise RoomNotFound(params={"roomId": room_id})
        return room

    async def get_rooms(self, room_ids: Iterable[str]) -> dict[str, Room]:
        """Batch lookup for DataLoaders: one store call for many rooms."""
        self._allow("getRoom")
        async with self._store.unit_of_work() as uow:
            return await uow.rooms.get_many(room_ids)

    # -- reservations: reads -----------------------------------------------------------

    async def get_reservation(self, reservation_id: str) -> Reservation:
        self._allow("getReservation")
        reservation_id = check.identifier("reservationId", reservation_id)
        async with self._store.unit_of_work() as uow:
            reservation = await uow.reservations.get(reservation_id)
        if reservation is None:
            raise ReservationNotFound(params={"reservationId": reservation_id})
        return reservation

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage:
        page = check.whole_number("page", query.page, minimum=1, maximum=10**9, coerce=True)
        size = check.whole_number(
            "page_size", query.page_size, minimum=1, maximum=check.PAGE_SIZE_MAX, coerce=True
        )
        items, total = await self.search_reservations(query, offset=(page - 1) * size, limit=size)
        return ReservationPage(items=tuple(items), page=page, page_size=size, total_items=total)

    async def search_reservations(
        self, query: ReservationQuery, *, offset: int, limit: int
    ) -> tuple[list[Reservation], int]:
        """Filtered, sorted slice by offset (REST's ``Range: items=`` uses it directly)."""
        self._allow("listReservations")
        filters = check.reservation_filter(query)
        sort = check.sort(query.sort)
        async with self._store.unit_of_work() as uow:
            return await uow.reservations.search(filters, sort, offset, limit)

    async def reservations_of_rooms(self, room_ids: Sequence[str]) -> dict[str, list[Reservation]]:
        """Batch lookup for DataLoaders: every room's reservations (date order) in one store call."""
        self._allow("listReservations")
        filters = ReservationFilter(room_ids=tuple(room_ids))
        async with self._store.unit_of_work() as uow:
            items, _ = await uow.reservations.search(filters, check.DEFAULT_SORT, 0, 10**9)
        grouped: dict[str, list[Reservation]] = {room_id: [] for room_id in room_ids}
        for item in items:
            grouped[item.room_id].append(item)
        return grouped

    # -- reservations: changes ---------------------------------------------------------

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        self._allow("createReservation")
        key = check.idempotency_key(idempotency_key)
        new = check.draft_fields(draft)
        # The validated input, so spellings of one request (" Ada", "" for no purpose) are one retry.
        fingerprint = _fingerprint("createReservation", {WIRE_NAMES[name]: new[name] for name in new})
        room_id, date, start, end = new["room_id"], new["date"], new["start_time"], new["end_time"]

        async with self._store.unit_of_work() as uow:
            if key is not None:
                replay = await self._replay(uow, key, fingerprint)
                if replay is not None:
                    return replay
            room = await uow.rooms.get(room_id)
            if room is None:
                raise RoomNotFound(field="roomId", params={"roomId": room_id})
            self._check_capacity(room, new["attendees"])
            await self._check_free(uow, room_id, date, start, end, exclude_id=None)
            now = self._clock()
            reservation = Reservation(
                reservation_id=self._ids("rsv"),
                **new,
                status=ReservationStatus.RESERVED,
                cancel_reason=None,
                version=1,
                created_at=now,
                updated_at=now,
                owner=self._principal.client_id,
            )
            return await self._commit(uow, EventType.CREATED, reservation, now, key, fingerprint)

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation:
        self._allow("modifyReservation")
        update = check.change_fields(changes)
        if expected_version is not None:
            check.whole_number("expected_version", expected_version, minimum=1, maximum=2**31 - 1)
            # The caller named the version it saw: a concurrent change is its VERSION_MISMATCH.
            return await self._modify(reservation_id, update, expected_version)
        return await self._fresh(lambda: self._modify(reservation_id, update, None))

    async def _modify(
        self, reservation_id: str, update: dict[str, Any], expected_version: int | None
    ) -> Reservation:
        async with self._store.unit_of_work() as uow:
            current = await self._load(uow, reservation_id)
            self._require_owner(current)  # before the version: a stranger learns nothing of it
            if expected_version is not None and expected_version != current.version:
                raise VersionMismatch(params={"expected": expected_version, "actual": current.version})
            current.require(Action.MODIFY)  # state is checked before the new values
            merged = {
                name: update.get(name, getattr(current, name))
                for name in ("room_id", "date", "start_time", "end_time", "attendees")
            }
            check.time_order(merged["start_time"], merged["end_time"])
            real_changes = {k: v for k, v in update.items() if getattr(current, k) != v}
            if not real_changes:
                return current
            room = await uow.rooms.get(merged["room_id"])
            if room is None:
                raise RoomNotFound(field="roomId", params={"roomId": merged["room_id"]})
            self._check_capacity(room, merged["attendees"])
            await self._check_free(
                uow,
                merged["room_id"],
                merged["date"],
                merged["start_time"],
                merged["end_time"],
                exclude_id=current.reservation_id,
            )
            now = self._clock()
            return await self._commit(uow, EventType.MODIFIED, current.modified(now, **real_changes), now)

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation:
        self._allow("cancelReservation")
        key = check.idempotency_key(idempotency_key)
        text = check.text("reason", reason, minimum=0, maximum=check.REASON_MAX, required=False) or None
        fingerprint = _fingerprint("cancelReservation", {"reservationId": reservation_id, "reason": text})
        return await self._fresh(lambda: self._cancel(reservation_id, text, key, fingerprint))

    async def _cancel(
        self, reservation_id: str, reason: str | None, key: str | None, fingerprint: str
    ) -> Reservation:
        async with self._store.unit_of_work() as uow:
            if key is not None:
                replay = await self._replay(uow, key, fingerprint)
                if replay is not None:
                    return replay
            current = await self._load(uow, reservation_id)
            self._require_owner(current)
            now = self._clock()
            canceled = current.canceled(now, reason)
            return await self._commit(uow, EventType.CANCELED, canceled, now, key, fingerprint)

    async def check_in_reservation(self, reservation_id: str) -> Reservation:
        self._allow("checkInReservation")
        return await self._fresh(lambda: self._check_in(reservation_id))

    async def _check_in(self, reservation_id: str) -> Reservation:
        async with self._store.unit_of_work() as uow:
            current = await self._load(uow, reservation_id)
            self._require_owner(current)
            now = self._clock()
            return await self._commit(uow, EventType.CHECKED_IN, current.checked_in(now), now)

    # -- events ----------------------------------------------------------------------

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        self._allow("watchEvents")
        after = check.whole_number("after", after, minimum=0, maximum=2**62, coerce=True)
        limit = check.whole_number("limit", limit, minimum=1, maximum=EVENT_BATCH_MAX, coerce=True)
        wanted = check.event_types(types)
        async with self._store.unit_of_work() as uow:
            return await uow.events.read_after(after, wanted, limit)

    async def last_event_sequence(self) -> int:
        self._allow("watchEvents")
        async with self._store.unit_of_work() as uow:
            return await uow.events.last_sequence()

    def stream_events(
        self,
        after: int = 0,
        *,
        types: Sequence[str] | None = None,
        batch_size: int = 100,  # pragma: no mutate  (how many events one read fetches, unseen by a reader)
        wait_timeout: float = 30.0,
    ) -> AsyncGenerator[Event, None]:
        """Every event after ``after``, then each new one as it is committed, forever.

        The arguments are checked now (catalog errors raise before any streaming starts); the
        stream waits on the notifier between batches, so nothing polls the store while nothing
        happens, and it is pulled one event at a time, so a slow reader only lags in the log.
        """
        self._allow("watchEvents")
        wanted = check.event_types(types)
        start = check.whole_number("after", after, minimum=0, maximum=2**62, coerce=True)
        if self._notifier is None:
            raise RuntimeError("stream_events needs an EventNotifier")
        return self._stream(start, wanted, batch_size, wait_timeout, self._notifier)

    async def _stream(
        self,
        after: int,
        wanted: tuple[str, ...] | None,
        batch_size: int,
        wait_timeout: float,
        notifier: EventNotifier,
    ) -> AsyncGenerator[Event, None]:
        while True:
            async with self._store.unit_of_work() as uow:
                batch = await uow.events.read_after(after, wanted, batch_size)
                if not batch:
                    # With a type filter the log may hold newer, unwanted events: skip past them.
                    after = max(after, await uow.events.last_sequence())
            for event in batch:
                yield event
            if batch:
                after = batch[-1].sequence
                continue
            await notifier.wait_beyond(after, wait_timeout)

    # -- helpers ---------------------------------------------------------------------

    async def _load(self, uow: UnitOfWork, reservation_id: str) -> Reservation:
        reservation_id = check.identifier("reservationId", reservation_id)
        reservation = await uow.reservations.get(reservation_id)
        if reservation is None:
            raise ReservationNotFound(params={"reservationId": reservation_id})
        return reservation

    @staticmethod
    async def _fresh(change: Callable[[], Awaitable[Reservation]]) -> Reservation:
        """Run a change that names no version; if a concurrent writer committed between its read
        and its write (the store refuses the stale write), run it again on the fresh state, so the
        caller gets what a serial store gives: success, or e.g. INVALID_STATE_TRANSITION."""
        for _ in range(STALE_RETRIES - 1):
            try:
                return await change()
            except VersionMismatch:
                continue
        return await change()

    async def _replay(self, uow: UnitOfWork, key: str, fingerprint: str) -> Reservation | None:
        record = await uow.idempotency.get(self._idempotency_scope, key)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(field="idempotencyKey", params={"key": key})
        return Reservation.from_dict(record.response)

    @staticmethod
    def _check_capacity(room: Room, attendees: int) -> None:
        if attendees > room.capacity:
            raise CapacityExceeded(
                field="attendees",
                params={"roomId": room.room_id, "capacity": room.capacity, "attendees": attendees},
            )

    @staticmethod
    async def _check_free(
        uow: UnitOfWork, room_id: str, date: str, start: str, end: str, *, exclude_id: str | None
    ) -> None:
        if await uow.reservations.overlapping(room_id, date, start, end, exclude_id):
            raise ReservationConflict(
                params={"roomId": room_id, "date": date, "startTime": start, "endTime": end}
            )

    async def _commit(
        self,
        uow: UnitOfWork,
        type: EventType,
        reservation: Reservation,
        now: datetime,
        key: str | None = None,
        fingerprint: str = "",  # pragma: no mutate  (stored only beside a key, always passed with one)
    ) -> Reservation:
        """Every write ends here, in one order: save the reservation, append its event to the log,
        record the answer under the idempotency key (if any), commit, then wake event subscribers."""
        if type is EventType.CREATED:
            await uow.reservations.add(reservation)
        else:
            await uow.reservations.update(reservation)
        event = await uow.events.append(self._ids("evt"), type.value, now, reservation.to_dict())
        if key is not None:
            record = IdempotencyRecord(self._idempotency_scope, key, fingerprint, reservation.to_dict())
            await uow.idempotency.put(record)
        await uow.commit()
        if self._notifier is not None:  # after the commit, so a woken subscriber finds the event
            self._notifier.published(event.sequence)
        return reservation


# Every use case that runs units of work is re-run while the store is unavailable (nothing of a
# unit of work that lost its connection before committing was written, so re-running is safe).
for _name in (
    "list_rooms",
    "get_room",
    "get_rooms",
    "get_reservation",
    "list_reservations",
    "search_reservations",
    "reservations_of_rooms",
    "create_reservation",
    "modify_reservation",
    "cancel_reservation",
    "check_in_reservation",
    "watch_events",
    "last_event_sequence",
):
    setattr(ReservationService, _name, _retried_while_store_unavailable(getattr(ReservationService, _name)))
