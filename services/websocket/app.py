"""The WebSocket adapter: JSON frames over one ``/ws`` connection, translated to the core's use cases.

One connection serves many requests at once (each its own task, answered by ``id``) and several
event subscriptions, within limits: frame size, a token bucket and a cap on requests in flight per
connection, a cap on subscriptions, and a bounded send queue for pushed events. ``OPERATIONS`` is
the one table of request types; ``contracts/asyncapi.yaml`` documents it and a test keeps the two
in step.

Handshakes that do not offer the ``rosetta.v1`` subprotocol are refused with HTTP 400 before the
upgrade (close 1008 if the server cannot send an HTTP denial), so a client never talks to a
connection whose framing it did not agree to.

Size: over 500 lines: the connection, its limits and the ``OPERATIONS`` table are one protocol,
and the handlers use the connection's internals.
"""

# pylint: disable=too-many-lines

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import types
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, fields
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from services.core.access import (
    ALL_SCOPES,
    TRUSTED,
    Credentials,
    Guard,
    Principal,
    credentials_from_headers,
    until_expiry,
)
from services.core.api import ServerApi
from services.core.errors import (
    InternalError,
    InvalidProperty,
    MalformedRequest,
    MissingMandatoryProperty,
    RateLimited,
    RosettaError,
    Unauthenticated,
)
from services.core.messages import negotiate
from services.core.model import WIRE_NAMES, Event, ReservationDraft, ReservationQuery, format_timestamp
from services.core.validation import (
    changes_from_patch,
    from_mapping,
    json_document,
    refuse_unpaired_surrogates,
)
from services.websocket import protocol
from services.websocket.protocol import RequestId

log = logging.getLogger("rosetta.websocket")


@dataclass(frozen=True)
class WebSocketOptions:
    max_frame_bytes: int = 64 * 1024
    rate_per_second: float = 200.0  # token bucket refill per connection; 0 or less: no limit
    burst: float | None = None  # bucket capacity; default: one second's worth of requests
    max_in_flight: int = 256  # requests handled at once per connection; more are RATE_LIMITED
    max_subscriptions: int = 16  # per connection
    send_queue_limit: int = 256  # pushed event frames waiting to be written, per connection
    slow_consumer_seconds: float = 2.0  # how long a full send queue may stay full before giving up
    # Browser pages on these origins may connect, besides pages of the server's own origin; clients
    # that send no Origin (not browsers) always may. Browsers apply no CORS to WebSockets.
    allowed_origins: tuple[str, ...] = ()


# -- the request types -----------------------------------------------------------------------

Payload = dict[str, Any]
Handler = Callable[["Connection", Payload], Awaitable[Any]]


class AfterReply(NamedTuple):
    """A handler result whose follow-up must start only once the result frame is written."""

    payload: Any
    then: Callable[[], None]


@dataclass(frozen=True, slots=True)
class Operation:
    handler: Handler
    properties: frozenset[str]  # the payload properties accepted (others: INVALID_PROPERTY)
    required: tuple[str, ...] = ()  # absent or null: MISSING_MANDATORY_PROPERTY
    access: str | None = None  # the operation of the core's scope table (None: no check, no charge)


def _wire_fields(cls: type) -> frozenset[str]:
    return frozenset(WIRE_NAMES[f.name] for f in fields(cls))


def _identifier(payload: Payload, name: str) -> str:
    value = payload[name]
    if not isinstance(value, str):
        raise InvalidProperty(field=name, params={"reason": "type"})
    return value


def _object(payload: Payload, name: str) -> Payload:
    value = payload[name]
    if not isinstance(value, dict):
        raise InvalidProperty(field=name, params={"reason": "type"})
    return value


def _optional(payload: Payload, name: str, default: Any) -> Any:
    """An optional property: absent and ``null`` both mean the default."""
    value = payload.get(name)
    return default if value is None else value


async def _list_rooms(conn: Connection, p: Payload) -> Any:
    return {"items": [room.to_dict() for room in await conn.api.list_rooms()]}


async def _get_room(conn: Connection, p: Payload) -> Any:
    return (await conn.api.get_room(_identifier(p, "roomId"))).to_dict()


async def _create_reservation(conn: Connection, p: Payload) -> Any:
    body = dict(p)
    key = body.pop("idempotencyKey", None)
    draft = from_mapping(ReservationDraft, body)
    return (await conn.api.create_reservation(draft, idempotency_key=key)).to_dict()


async def _get_reservation(conn: Connection, p: Payload) -> Any:
    return (await conn.api.get_reservation(_identifier(p, "reservationId"))).to_dict()


async def _list_reservations(conn: Connection, p: Payload) -> Any:
    query = ReservationQuery(
        status=p.get("status"),
        room_id=p.get("roomId"),
        date_from=p.get("dateFrom"),
        date_to=p.get("dateTo"),
        guest_name=p.get("guestName"),
        sort=p.get("sort"),
        page=_optional(p, "page", 1),
        page_size=_optional(p, "pageSize", 20),
    )
    return (await conn.api.list_reservations(query)).to_dict()


async def _modify_reservation(conn: Connection, p: Payload) -> Any:
    changes = changes_from_patch(_object(p, "changes"))
    reservation = await conn.api.modify_reservation(
        _identifier(p, "reservationId"), changes, expected_version=p.get("expectedVersion")
    )
    return reservation.to_dict()


async def _cancel_reservation(conn: Connection, p: Payload) -> Any:
    reservation = await conn.api.cancel_reservation(
        _identifier(p, "reservationId"), reason=p.get("reason"), idempotency_key=p.get("idempotencyKey")
    )
    return reservation.to_dict()


async def _check_in_reservation(conn: Connection, p: Payload) -> Any:
    return (await conn.api.check_in_reservation(_identifier(p, "reservationId"))).to_dict()


async def _watch_events(conn: Connection, p: Payload) -> Any:
    events = await conn.api.watch_events(
        _optional(p, "after", 0), types=p.get("types"), limit=_optional(p, "limit", 100)
    )
    return {"items": [event.to_dict() for event in events]}


async def _subscribe(conn: Connection, p: Payload) -> Any:
    if len(conn.subscriptions) >= conn.options.max_subscriptions:
        raise RateLimited()
    after = _optional(p, "after", 0)
    # The core checks the arguments when the stream is made, so bad input is refused in this answer.
    events = conn.api.stream_events(after, types=p.get("types"))
    after = int(after)  # accepted by the core: an int, or a decimal string it coerces the same way
    slot = contextlib.AsyncExitStack()
    if conn.guard is not None:  # one of the client's open streams, for as long as it lasts
        await slot.enter_async_context(conn.guard.stream(conn.principal, "websocket"))
        events = until_expiry(conn.principal, events)  # ends with UNAUTHENTICATED when the token does
    subscription_id = conn.reserve_subscription()
    start = lambda: conn.start_subscription(subscription_id, after, events, slot)  # noqa: E731
    return AfterReply({"subscriptionId": subscription_id}, start)


def _text_or_none(payload: Payload, name: str) -> str | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidProperty(field=name, params={"reason": "type"})
    return value


async def _authenticate(conn: Connection, p: Payload) -> Any:
    """For browsers, which cannot set headers on the handshake; again later to renew a token."""
    credentials = Credentials(
        bearer=_text_or_none(p, "token"),
        api_key=_text_or_none(p, "apiKey"),
        client_id=_text_or_none(p, "clientId"),
        client_secret=_text_or_none(p, "clientSecret"),
        address=conn.address,
    )
    if credentials.empty:
        raise MissingMandatoryProperty(field="token")
    if conn.guard is None:  # authentication is off: every call is allowed anyway
        return {"clientId": None, "scopes": sorted(ALL_SCOPES), "expiresAt": None}
    principal = await conn.guard.authenticate(credentials)
    conn.act_as(principal)
    expires = principal.expires_at
    return {
        "clientId": principal.client_id,
        "scopes": sorted(principal.scopes),
        "expiresAt": format_timestamp(expires) if expires is not None else None,
    }


async def _unsubscribe(conn: Connection, p: Payload) -> Any:
    subscription_id = _identifier(p, "subscriptionId")
    conn.end_subscription(subscription_id)  # idempotent: an ended subscription may be unsubscribed again
    return {"subscriptionId": subscription_id}


OPERATIONS: dict[str, Operation] = {
    "listRooms": Operation(_list_rooms, frozenset(), access="listRooms"),
    "getRoom": Operation(_get_room, frozenset({"roomId"}), ("roomId",), access="getRoom"),
    "createReservation": Operation(
        _create_reservation, _wire_fields(ReservationDraft) | {"idempotencyKey"}, access="createReservation"
    ),
    "getReservation": Operation(
        _get_reservation, frozenset({"reservationId"}), ("reservationId",), access="getReservation"
    ),
    "listReservations": Operation(
        _list_reservations,
        frozenset({"status", "roomId", "dateFrom", "dateTo", "guestName", "sort", "page", "pageSize"}),
        access="listReservations",
    ),
    "modifyReservation": Operation(
        _modify_reservation,
        frozenset({"reservationId", "changes", "expectedVersion"}),
        ("reservationId", "changes"),
        access="modifyReservation",
    ),
    "cancelReservation": Operation(
        _cancel_reservation,
        frozenset({"reservationId", "reason", "idempotencyKey"}),
        ("reservationId",),
        access="cancelReservation",
    ),
    "checkInReservation": Operation(
        _check_in_reservation, frozenset({"reservationId"}), ("reservationId",), access="checkInReservation"
    ),
    "watchEvents": Operation(_watch_events, frozenset({"after", "types", "limit"}), access="watchEvents"),
    "subscribe": Operation(_subscribe, frozenset({"after", "types"}), access="watchEvents"),
    "unsubscribe": Operation(_unsubscribe, frozenset({"subscriptionId"}), ("subscriptionId",)),
    "authenticate": Operation(_authenticate, frozenset({"token", "apiKey", "clientId", "clientSecret"})),
}


def _check_properties(payload: Payload, operation: Operation) -> None:
    for key in payload:
        if key not in operation.properties:
            raise InvalidProperty(field=str(key), params={"reason": "unknown"})
    for key in operation.required:
        if payload.get(key) is None:
            raise MissingMandatoryProperty(field=key)


# -- one connection ------------------------------------------------------------------------


class TokenBucket:
    """Frames per connection: it guards this process against one socket's flood, before a frame is
    parsed or its sender known. It stays beside the gateway's per-client quota (charged per request
    frame once the caller is known), which is what shares one budget across styles and processes."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self) -> float:
        """Seconds until the next frame would be taken (0 when one would be now)."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


_EMPTY: Payload = {}


class Pushed(NamedTuple):
    """A frame waiting in the send queue; ``last`` marks the notice that ends its subscription."""

    subscription_id: str
    frame: str
    last: bool = False


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run a request handler now, up to its first real wait; only then make it a task.

    A speed trick, not a need: creating a task per frame was a measurable part of a WebSocket
    read's cost in ``rosetta bench``, and most answers (a read from a local store) never wait, so
    they are written without one; a handler that waits goes on concurrently, as a task would.
    Python 3.12's eager task factory does the same, but for every task of a loop, and 3.11 has
    none. ``_resume`` drives the started coroutine by hand (``send``/``throw``), which is the part
    to distrust first if a handler ever misbehaves: ``asyncio.ensure_future(coro)`` is the plain
    equivalent, slower by one task per frame.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, waiting_on))


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Drive a started coroutine from inside a task: hand its futures to the task, relay the rest."""
    while True:
        try:
            sent = yield waiting_on
        except BaseException as error:  # cancellation (e.g. the peer left) reaches the handler
            try:
                waiting_on = coro.throw(error)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coro.send(sent)
            except StopIteration:
                return


class Connection:
    """The state of one accepted connection; everything it started ends with it."""

    def __init__(
        self,
        api: ServerApi,
        options: WebSocketOptions,
        websocket: WebSocket,
        language: str,
        guard: Guard | None = None,
        principal: Principal = TRUSTED,
    ):
        self._base_api = api
        self.api = api
        self.guard = guard
        self.principal = principal
        client = websocket.scope.get("client")
        self.address: str | None = client[0] if client else None
        if guard is not None:
            self.act_as(principal)
        self.options = options
        self.websocket = websocket
        self.language = language
        self.requests: set[asyncio.Task[None]] = set()  # request handlers in flight
        self.subscriptions: dict[str, asyncio.Task[None] | None] = {}  # None: reserved, not yet started
        self.background: set[asyncio.Task[None]] = set()  # event pumps and the event writer
        rate = options.rate_per_second
        self._bucket = TokenBucket(rate, options.burst or max(rate, 1.0)) if rate > 0 else None
        self._max_in_flight = options.max_in_flight
        self._outbox: asyncio.Queue[Pushed] | None = None
        self.subscriptions_started = 0
        self._max_bytes = options.max_frame_bytes
        self._max_chars_unchecked = options.max_frame_bytes // 4  # UTF-8 takes at most 4 bytes a character

    def act_as(self, principal: Principal) -> None:
        """Every later request of this connection runs as ``principal`` (a handshake credential or an
        ``authenticate`` frame); subscriptions already open keep theirs until it expires."""
        self.principal = principal
        self.api = self._base_api.acting_as(principal)

    # -- reading ---------------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            await self._read()
        finally:
            await self._stop_everything()

    async def _read(self) -> None:
        # The reader never waits for handlers: it must see a disconnect at once to cancel them.
        receive = self.websocket.receive
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if (
                text is not None
                and len(text) > self._max_chars_unchecked
                and len(text.encode()) > self._max_bytes
            ):
                # uvicorn (ws_max_size) closes with 1009 before we see such a frame; other servers may not.
                await self.websocket.close(protocol.CLOSE_MESSAGE_TOO_BIG)
                return
            await self._dispatch(text)

    async def _dispatch(self, text: str | None) -> None:
        """Start a task for one request frame, or answer it with an error frame."""
        request_id: RequestId = None
        allowed = self._bucket is None or self._bucket.take()  # every frame counts, even a malformed one
        try:
            if text is None:  # binary frames are not part of rosetta.v1
                raise MalformedRequest(params={"reason": "syntax"})
            lenient = False
            try:
                frame = protocol.decode(text)
            except ValueError:
                # Well-formed JSON orjson refuses holds unpaired surrogates: the core's rule names the member.
                frame = json_document(text, text_rule=False)
                lenient = True
            if not isinstance(frame, dict):
                raise MalformedRequest(params={"reason": "syntax"})
            if lenient:
                given = frame.get("id")
                # Only an id an answer can carry back is echoed.
                ok = isinstance(given, int) and not isinstance(given, bool) or isinstance(given, str)
                request_id = given if ok and str(given).isprintable() else None
                refuse_unpaired_surrogates(frame)
            request_id = frame.get("id")
            if request_id is None:
                raise MalformedRequest(field="id", params={"reason": "syntax"})
            if isinstance(request_id, bool) or not isinstance(request_id, str | int):
                request_id = None
                raise MalformedRequest(field="id", params={"reason": "type"})
            if not allowed and self._bucket is not None:
                raise RateLimited(
                    params={"retryAfter": max(math.ceil(self._bucket.wait() * 1000) / 1000, 0.001)}
                )
            if len(self.requests) >= self._max_in_flight:
                raise RateLimited()  # no wait to promise: it depends on the requests in flight
            if len(frame) > 2:
                for key in frame:
                    if key not in protocol.FRAME_KEYS:
                        raise MalformedRequest(field=str(key), params={"reason": "unknown"})
            kind = frame.get("type")
            if kind is None:
                raise MalformedRequest(field="type", params={"reason": "syntax"})
            operation = OPERATIONS.get(kind) if isinstance(kind, str) else None
            if operation is None:
                raise MalformedRequest(field="type", params={"reason": "unknown_type"})
            payload = frame.get("payload", _EMPTY)
            if not isinstance(payload, dict):
                raise MalformedRequest(field="payload", params={"reason": "type"})
        except RosettaError as error:
            await self.send(protocol.error_frame(request_id, error, self.language))
            return
        task = start_eagerly(self._answer(request_id, operation, payload))
        if task is not None:  # it is waiting for I/O: it goes on as a task, the reader goes on too
            self.requests.add(task)
            task.add_done_callback(self.requests.discard)

    async def _answer(self, request_id: RequestId, operation: Operation, payload: Payload) -> None:
        after: Callable[[], None] | None = None
        try:
            if payload:
                _check_properties(payload, operation)
            elif operation.required:
                raise MissingMandatoryProperty(field=operation.required[0])
            if self.guard is not None and operation.access is not None:
                self.guard.authorize(self.principal, operation.access)
                await self.guard.charge(self.principal, "websocket", operation.access)
            result = await operation.handler(self, payload)
            if type(result) is AfterReply:
                result, after = result
            frame = protocol.result_frame(request_id, result)
        except RosettaError as error:
            frame = protocol.error_frame(request_id, error, self.language)
        except Exception:
            log.exception("request %r (%s) failed", request_id, operation.handler.__name__)
            frame = protocol.error_frame(request_id, InternalError(), self.language)
        if await self.send(frame) and after is not None:
            after()

    # -- writing ---------------------------------------------------------------------------

    async def send(self, text: str) -> bool:
        """Write one frame; False when the peer is gone (the reader then ends the connection)."""
        try:
            await self.websocket.send_text(text)
        except (WebSocketDisconnect, OSError, RuntimeError):
            return False
        return True

    def _queue(self) -> asyncio.Queue[Pushed]:
        """The bounded queue of pushed frames and the task writing them, made on first subscribe."""
        if self._outbox is None:
            self._outbox = asyncio.Queue(self.options.send_queue_limit)
            self._spawn(self._write_pushed(self._outbox))
        return self._outbox

    async def _write_pushed(self, outbox: asyncio.Queue[Pushed]) -> None:
        while True:
            subscription_id, frame, last = await outbox.get()
            # Frames of a subscription unsubscribed meanwhile are dropped: after its answer, nothing follows.
            if subscription_id not in self.subscriptions:
                continue
            if last:
                del self.subscriptions[subscription_id]
            if not await self.send(frame):
                return

    # -- subscriptions ---------------------------------------------------------------------

    def reserve_subscription(self) -> str:
        self.subscriptions_started += 1
        subscription_id = f"sub-{self.subscriptions_started}"
        self.subscriptions[subscription_id] = None
        return subscription_id

    def start_subscription(
        self,
        subscription_id: str,
        after: int,
        events: AsyncGenerator[Event, None],
        slot: contextlib.AsyncExitStack | None = None,
    ) -> None:
        if subscription_id in self.subscriptions:
            self.subscriptions[subscription_id] = self._spawn(
                self._pump(subscription_id, after, events, slot)
            )
        elif slot is not None:
            self._spawn(slot.aclose())

    def end_subscription(self, subscription_id: str) -> None:
        task = self.subscriptions.pop(subscription_id, None)
        if task is not None:
            task.cancel()

    async def _pump(
        self,
        subscription_id: str,
        after: int,
        events: AsyncGenerator[Event, None],
        slot: contextlib.AsyncExitStack | None = None,
    ) -> None:
        """Copy the event log into the send queue; a consumer that stays too slow loses the subscription."""
        outbox = self._queue()
        progress = [after]  # the sequence of the last event queued
        try:
            async with slot or contextlib.AsyncExitStack():
                failure = await self._copy_events(subscription_id, outbox, progress, events)
        except RosettaError as error:
            failure = error
        except Exception:
            log.exception("subscription %s failed", subscription_id)
            failure = InternalError()
        # Queued behind the events already accepted, so ``resumeAfter`` is the last event it will have;
        # the subscription ends when the writer sends this notice.
        notice = protocol.error_frame(
            None, failure, self.language, subscriptionId=subscription_id, resumeAfter=progress[0]
        )
        await outbox.put(Pushed(subscription_id, notice, last=True))

    async def _copy_events(
        self,
        subscription_id: str,
        outbox: asyncio.Queue[Pushed],
        progress: list[int],
        events: AsyncGenerator[Event, None],
    ) -> RosettaError:
        async with contextlib.aclosing(events):
            async for event in events:
                item = Pushed(subscription_id, protocol.event_frame(subscription_id, event.to_dict()))
                if outbox.full():
                    try:
                        await asyncio.wait_for(outbox.put(item), self.options.slow_consumer_seconds)
                    except TimeoutError:
                        log.info("subscription %s ended: slow consumer at %d", subscription_id, progress[0])
                        return RateLimited()
                else:
                    outbox.put_nowait(item)
                progress[0] = event.sequence
        return InternalError()  # the core's stream never ends by itself

    # -- the end ---------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def _stop_everything(self) -> None:
        self.subscriptions.clear()
        tasks = [*self.requests, *self.background]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


# -- the ASGI app ------------------------------------------------------------------------------


class WebSocketApp:
    """ASGI app for ``/ws``; ``connections`` holds the live ones (tests and metrics read it)."""

    def __init__(self, api: ServerApi, options: WebSocketOptions, guard: Guard | None = None) -> None:
        self.api = api
        self.options = options
        self.guard = guard
        self.connections: set[Connection] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            language = self._language(HTTPConnection(scope))
            error = MalformedRequest(
                params={"reason": "websocket_upgrade", "subprotocol": protocol.SUBPROTOCOL}
            )
            body = protocol.error_frame(None, error, language).encode()
            headers = {"Upgrade": "websocket", "Content-Language": language}
            response = Response(body, 426, headers, media_type="application/json")
            await response(scope, receive, send)
            return
        websocket = WebSocket(scope, receive, send)
        language = self._language(websocket)
        origin = websocket.headers.get("origin")
        if not origin_allowed(origin, websocket.headers.get("host"), self.options.allowed_origins):
            log.info("WebSocket handshake from origin %r refused", origin)
            await self._refuse_handshake(
                websocket, 403, MalformedRequest(field="Origin", params={"reason": "origin"}), language
            )
            return
        if protocol.SUBPROTOCOL not in scope.get("subprotocols", ()):
            await self._refuse(websocket, language)
            return
        principal = TRUSTED
        if self.guard is not None:
            # Programs send their credential on the handshake; browsers cannot, and send an
            # ``authenticate`` frame first (until then the connection is anonymous).
            client = scope.get("client")
            credentials = credentials_from_headers(
                websocket.headers.get("authorization"),
                websocket.headers.get("x-api-key"),
                client[0] if client else None,
            )
            try:
                principal = await self.guard.authenticate(credentials)
            except Unauthenticated as error:
                await self._deny(websocket, error, language)
                return
        await websocket.accept(subprotocol=protocol.SUBPROTOCOL)
        connection = Connection(self.api, self.options, websocket, language, self.guard, principal)
        self.connections.add(connection)
        try:
            await connection.serve()
        finally:
            self.connections.discard(connection)

    @staticmethod
    def _language(connection: HTTPConnection) -> str:
        return negotiate(connection.query_params.get("lang") or connection.headers.get("accept-language"))

    @staticmethod
    async def _deny(websocket: WebSocket, error: RosettaError, language: str) -> None:
        """A bad handshake credential: HTTP 401 with the error frame and a challenge, before the upgrade."""
        if "websocket.http.response" not in websocket.scope.get("extensions", {}):
            await websocket.close(protocol.CLOSE_POLICY)
            return
        body = protocol.error_frame(None, error, language).encode()
        headers = {"Content-Language": language, "WWW-Authenticate": 'Bearer realm="rosetta"'}
        await websocket.send_denial_response(Response(body, 401, headers, media_type="application/json"))

    @classmethod
    async def _refuse(cls, websocket: WebSocket, language: str) -> None:
        error = MalformedRequest(
            field="Sec-WebSocket-Protocol",
            params={"reason": "subprotocol", "subprotocol": protocol.SUBPROTOCOL},
        )
        await cls._refuse_handshake(websocket, 400, error, language)

    @staticmethod
    async def _refuse_handshake(
        websocket: WebSocket, status: int, error: MalformedRequest, language: str
    ) -> None:
        """An HTTP refusal of the handshake (a policy close where the server cannot send one)."""
        if "websocket.http.response" not in websocket.scope.get("extensions", {}):
            await websocket.close(protocol.CLOSE_POLICY)
            return
        body = protocol.error_frame(None, error, language).encode()
        await websocket.send_denial_response(
            Response(body, status, {"Content-Language": language}, media_type="application/json")
        )


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """A handshake without Origin (not a browser), from the server's own origin, or from a listed one."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in (o.lower() for o in allowed):
        return True
    parsed = urlsplit(origin)
    return host is not None and parsed.scheme in ("http", "https") and parsed.netloc == host.strip().lower()


def create_app(api: ServerApi, options: WebSocketOptions, guard: Guard | None = None) -> WebSocketApp:
    return WebSocketApp(api, options, guard)


__all__ = ["OPERATIONS", "WebSocketApp", "WebSocketOptions", "create_app"]
