"""``WebSocketClient``: the ``ReservationApi`` over one ``rosetta.v1`` WebSocket connection.

One connection per client, opened on first use; a reader task hands each answer to the call
waiting for its ``id``, so many calls can be in flight at once. Error frames come back as the
core's typed errors, with the server's localized message and field.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncGenerator, Coroutine, Sequence
from dataclasses import fields
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from services.core.errors import RateLimited, RosettaError, error_from_code
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
from services.websocket import protocol

log = logging.getLogger("rosetta.websocket.client")

_DRAFT_FIELDS = tuple((f.name, WIRE_NAMES[f.name]) for f in fields(ReservationDraft))
_CHANGE_FIELDS = tuple((f.name, WIRE_NAMES[f.name]) for f in fields(ReservationChanges))


_RESUBSCRIBE = object()  # queued for a stream whose subscription the client dropped


class ConnectionLost(ConnectionError):
    """The WebSocket connection closed while a call or a subscription was waiting on it."""


def _present(obj: object, names: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {wire: value for name, wire in names if (value := getattr(obj, name)) is not None}


def ws_url(base_url: str, language: str) -> str:
    """``http://host:port`` (or ``ws://…``, with or without ``/ws``) -> ``ws://host:port/ws?lang=…``."""
    url = base_url.rstrip("/")
    for plain, secure in (("http://", "ws://"), ("https://", "wss://")):
        if url.startswith(plain):
            url = secure + url[len(plain) :]
    if not url.endswith(protocol.PATH):
        url += protocol.PATH
    return f"{url}?lang={language}"


def _refusal(refused: InvalidStatus) -> RosettaError:
    """The handshake's refusal (e.g. 401 for a bad credential) as the catalog error its body names."""
    try:
        payload = protocol.decode(refused.response.body.decode())["payload"]
        return error_from_code(payload["code"], payload.get("message"), payload.get("field"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return error_from_code("INTERNAL", f"the handshake was refused ({refused.response.status_code})")


class WebSocketClient:
    """``async with WebSocketClient("http://127.0.0.1:8000", language="ko") as api: ...``"""

    def __init__(
        self,
        base_url: str,
        *,
        language: str = "en",
        open_timeout: float = 10.0,
        max_buffered_events: int = 1000,
        api_key: str | None = None,
        token: str | None = None,
    ) -> None:
        self.url = ws_url(base_url, language)
        # Sent on the handshake (programs can; browsers send an ``authenticate`` frame instead).
        self._headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        if api_key is not None and token is None:
            self._headers = {"x-api-key": api_key}
        self.language = language
        self._open_timeout = open_timeout
        self._max_buffered = max_buffered_events
        self._chores: set[asyncio.Task[Any]] = set()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._opening: asyncio.Lock | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._subscribing: dict[int, asyncio.Queue[Any]] = {}  # subscribe request id -> its event queue
        self._streams: dict[str, asyncio.Queue[Any]] = {}  # subscription id -> its event queue
        self._closed = False

    # -- the connection ------------------------------------------------------------------

    async def connect(self) -> ClientConnection:
        if self._ws is not None:
            return self._ws
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._ws is None:
                if self._closed:
                    raise ConnectionLost("the client is closed")
                try:
                    ws = await connect(
                        self.url,
                        subprotocols=[protocol.SUBPROTOCOL],
                        open_timeout=self._open_timeout,
                        max_size=None,  # the server bounds what it sends; requests stay small
                        compression=None,  # small JSON frames: deflate costs more CPU than it saves
                        additional_headers=self._headers,
                    )
                except InvalidStatus as refused:  # a refused credential: the error frame is the body
                    raise _refusal(refused) from None
                self._reader = asyncio.create_task(self._read(ws))
                self._ws = ws
        return self._ws

    async def aclose(self) -> None:
        self._closed = True
        for chore in list(self._chores):
            chore.cancel()
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for text in ws:
                try:
                    self._deliver(protocol.decode(text))
                except (ValueError, KeyError, TypeError, AttributeError):
                    log.exception("unreadable frame from the server: %.200r", text)
        except ConnectionClosed:
            pass
        finally:
            if self._ws is ws:
                self._ws = None
            lost = ConnectionLost(f"WebSocket closed ({ws.close_code})")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(lost)
            self._pending.clear()
            for queue in self._streams.values():
                queue.put_nowait(lost)
            self._streams.clear()

    def _deliver(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        payload: dict[str, Any] = frame.get("payload") or {}
        if kind == protocol.EVENT:
            subscription_id = payload["subscriptionId"]
            queue = self._streams.get(subscription_id)
            if queue is None:
                return
            if queue.qsize() < self._max_buffered:
                queue.put_nowait(payload["event"])
                return
            # The consumer fell behind: drop this subscription rather than buffer without bound;
            # its stream subscribes again after the last event it yielded (the log is durable).
            del self._streams[subscription_id]
            queue.put_nowait(_RESUBSCRIBE)
            self._chore(self._unsubscribe(subscription_id))
            return
        request_id = frame.get("id")
        future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if future is None:
            if kind == protocol.ERROR and "subscriptionId" in payload:
                queue = self._streams.pop(payload["subscriptionId"], None)
                if queue is not None:
                    queue.put_nowait(payload)
            else:
                log.warning("unsolicited frame: %r", frame)
            return
        if kind == protocol.RESULT:
            waiting = self._subscribing.pop(frame["id"], None)
            if waiting is not None:
                # Registered before anyone awaits, as the first event frame may be the very next one.
                self._streams[payload["subscriptionId"]] = waiting
            if not future.done():
                future.set_result(payload)
        elif not future.done():
            future.set_exception(_error(payload))

    async def _call(
        self, kind: str, payload: dict[str, Any], *, events: asyncio.Queue[Any] | None = None
    ) -> Any:
        ws = self._ws or await self.connect()
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        if events is not None:
            self._subscribing[request_id] = events
        try:
            await ws.send(protocol.request_frame(request_id, kind, payload))
            return await future
        except ConnectionClosed as closed:
            raise ConnectionLost(f"WebSocket closed ({closed})") from None
        finally:
            self._pending.pop(request_id, None)
            self._subscribing.pop(request_id, None)

    # -- ReservationApi ------------------------------------------------------------------

    async def list_rooms(self) -> list[Room]:
        result = await self._call("listRooms", {})
        return [Room.from_dict(item) for item in result["items"]]

    async def get_room(self, room_id: str) -> Room:
        return Room.from_dict(await self._call("getRoom", {"roomId": room_id}))

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        payload = _present(draft, _DRAFT_FIELDS)
        if idempotency_key is not None:
            payload["idempotencyKey"] = idempotency_key
        return Reservation.from_dict(await self._call("createReservation", payload))

    async def get_reservation(self, reservation_id: str) -> Reservation:
        return Reservation.from_dict(await self._call("getReservation", {"reservationId": reservation_id}))

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage:
        payload: dict[str, Any] = {
            "status": query.status,
            "roomId": query.room_id,
            "dateFrom": query.date_from,
            "dateTo": query.date_to,
            "guestName": query.guest_name,
            "sort": query.sort,
        }
        payload = {key: value for key, value in payload.items() if value is not None}
        payload["page"] = query.page
        payload["pageSize"] = query.page_size
        result = await self._call("listReservations", payload)
        return ReservationPage.from_dict(result)

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation:
        payload: dict[str, Any] = {
            "reservationId": reservation_id,
            "changes": _present(changes, _CHANGE_FIELDS),
        }
        if expected_version is not None:
            payload["expectedVersion"] = expected_version
        return Reservation.from_dict(await self._call("modifyReservation", payload))

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation:
        payload: dict[str, Any] = {"reservationId": reservation_id}
        if reason is not None:
            payload["reason"] = reason
        if idempotency_key is not None:
            payload["idempotencyKey"] = idempotency_key
        return Reservation.from_dict(await self._call("cancelReservation", payload))

    async def check_in_reservation(self, reservation_id: str) -> Reservation:
        return Reservation.from_dict(
            await self._call("checkInReservation", {"reservationId": reservation_id})
        )

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        payload: dict[str, Any] = {"after": after, "limit": limit}
        if types is not None:
            payload["types"] = list(types)
        result = await self._call("watchEvents", payload)
        return [Event.from_dict(item) for item in result["items"]]

    # -- push ------------------------------------------------------------------------------

    async def stream_events(
        self, after: int = 0, *, types: Sequence[str] | None = None
    ) -> AsyncGenerator[Event, None]:
        """Every event after ``after``, then each new one as the server pushes it, until closed.

        If the server ends the subscription because this consumer fell behind, the stream
        subscribes again from the last event it yielded, so nothing is missed. Close it with
        ``aclose()`` (or ``contextlib.aclosing``) to unsubscribe.
        """
        payload: dict[str, Any] = {} if types is None else {"types": list(types)}
        while True:
            queue: asyncio.Queue[Any] = asyncio.Queue()
            subscribing = asyncio.ensure_future(
                self._call("subscribe", {**payload, "after": after}, events=queue)
            )
            try:
                result = await asyncio.shield(subscribing)
            except asyncio.CancelledError:
                # Cancelled while the answer is on its way: the server may still accept, so end it then.
                subscribing.add_done_callback(self._drop_subscription)
                raise
            subscription_id: str = result["subscriptionId"]
            ended = False
            try:
                while True:
                    item = await queue.get()
                    if isinstance(item, ConnectionLost):
                        ended = True
                        raise item
                    if item is _RESUBSCRIBE:
                        ended = True
                        break
                    if "code" in item:  # the server ended the subscription
                        ended = True
                        if item["code"] == RateLimited.code and item.get("resumeAfter") is not None:
                            after = item["resumeAfter"]
                            break
                        raise _error(item)
                    event = Event.from_dict(item)
                    after = event.sequence
                    yield event
            finally:
                self._streams.pop(subscription_id, None)
                if not ended:
                    await self._unsubscribe(subscription_id)

    def _drop_subscription(self, subscribing: asyncio.Future[Any]) -> None:
        if subscribing.cancelled() or subscribing.exception() is not None:
            return
        subscription_id = subscribing.result()["subscriptionId"]
        self._streams.pop(subscription_id, None)
        self._chore(self._unsubscribe(subscription_id))

    def _chore(self, work: Coroutine[Any, Any, None]) -> None:
        chore = asyncio.create_task(work)
        self._chores.add(chore)
        chore.add_done_callback(self._chores.discard)

    async def _unsubscribe(self, subscription_id: str) -> None:
        if self._ws is not None:
            with contextlib.suppress(RosettaError, ConnectionError):
                await self._call("unsubscribe", {"subscriptionId": subscription_id})


def _error(payload: dict[str, Any]) -> RosettaError:
    wait = payload.get("retryAfter")
    retry_after = float(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) else None
    return error_from_code(
        payload.get("code", "INTERNAL"), payload.get("message"), payload.get("field"), retry_after
    )


__all__ = ["ConnectionLost", "WebSocketClient", "ws_url"]
