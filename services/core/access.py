"""Who is calling and what they may do: the seam between the gateway and every style.

The gateway turns what a style found on the wire (``Credentials``) into a ``Principal`` and checks
it against ``OPERATION_SCOPES`` (``authorize``); the core enforces ownership itself
(``ReservationService.acting_as``). Each adapter runs, per request::

    guard.authenticate(credentials) -> guard.authorize(principal, operation)
        -> guard.charge(principal, style, operation, cost) -> api.acting_as(principal).<operation>(...)

With authentication off an adapter gets no guard and calls the service directly (as ``TRUSTED``).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, TypeVar
from urllib.parse import unquote_plus

from services.core.errors import Forbidden, Unauthenticated

T = TypeVar("T")


class Scope(StrEnum):
    READ = "reservations:read"
    WRITE = "reservations:write"
    WEBHOOKS = "webhooks:manage"
    ADMIN = "admin"  # every scope, and every client's reservations


ALL_SCOPES: frozenset[str] = frozenset(Scope)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the gateway established it."""

    client_id: str | None  # None: anonymous (or TRUSTED)
    scopes: frozenset[str]
    address: str | None = None  # the caller's network address: the anonymous quota key
    expires_at: datetime | None = None  # a JWT's exp: streams are ended then
    via: str = "anonymous"  # "api-key" | "jwt" | "basic" | "wsse" | "anonymous" | "trusted"

    def may(self, scope: str) -> bool:
        """True when the principal holds ``scope`` (``admin`` implies every scope)."""
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def authenticated(self) -> bool:
        return self.client_id is not None or self.via == "trusted"

    @property
    def quota_key(self) -> str:
        """The bucket a request is charged to: the client, or the address of an anonymous caller."""
        if self.client_id is not None:
            return f"client:{self.client_id}"
        return f"addr:{self.address or 'unknown'}"

    def owns(self, owner: str | None) -> bool:
        """May change a reservation recorded as created by ``owner`` (admin changes any)."""
        if self.may(Scope.ADMIN):
            return True
        return owner is not None and owner == self.client_id

    def at(self, address: str | None) -> Principal:
        """The same principal seen from ``address`` (credentials resolve without one; see Guard)."""
        if address == self.address:
            return self
        return Principal(self.client_id, self.scopes, address, self.expires_at, self.via)


ANONYMOUS = Principal(client_id=None, scopes=frozenset(), via="anonymous")
TRUSTED = Principal(client_id=None, scopes=ALL_SCOPES, via="trusted")
"""Authentication off, or the in-process reference: every scope, owns everything."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a style found on the wire, before any check."""

    api_key: str | None = None
    bearer: str | None = None
    client_id: str | None = None  # HTTP Basic / form / WS-Security UsernameToken
    client_secret: str | None = None
    address: str | None = None

    @property
    def empty(self) -> bool:
        return self.api_key is None and self.bearer is None and self.client_id is None


@dataclass(frozen=True, slots=True)
class QuotaState:
    """A bucket after a successful charge, for the RateLimit / RateLimit-Policy headers."""

    policy: str  # e.g. "default"
    limit: int  # bucket size (burst)
    remaining: int
    reset_seconds: float  # until the bucket is full again
    window_seconds: float


WEBHOOK_OPERATIONS: tuple[str, ...] = (
    "listSubscriptions",
    "createSubscription",
    "getSubscription",
    "updateSubscription",
    "deleteSubscription",
    "rotateSubscriptionSecret",
    "pingSubscription",
    "replayFailedDeliveries",
    "listDeliveries",
    "getDelivery",
    "replayDelivery",
)

OPERATION_SCOPES: dict[str, Scope | None] = {
    "listRooms": None,
    "getRoom": None,
    "getReservation": Scope.READ,
    "listReservations": Scope.READ,
    "watchEvents": Scope.READ,
    "createReservation": Scope.WRITE,
    "modifyReservation": Scope.WRITE,
    "cancelReservation": Scope.WRITE,
    "checkInReservation": Scope.WRITE,
    **dict.fromkeys(WEBHOOK_OPERATIONS, Scope.WEBHOOKS),
}
"""The scope each operation needs (None: anonymous callers may call it)."""


def authorize(principal: Principal, operation: str) -> None:
    """Refuse ``operation`` unless ``principal`` holds its scope.

    Anonymous callers get UNAUTHENTICATED (a credential would help), authenticated ones lacking the
    scope FORBIDDEN naming it. It looks at nothing but the operation's name, so it runs before any
    lookup and an anonymous caller never learns whether a reservation exists.
    """
    try:
        scope = OPERATION_SCOPES[operation]
    except KeyError:
        raise LookupError(f"no scope is declared for operation {operation!r}") from None
    if scope is None or principal.may(scope):
        return
    if not principal.authenticated:
        raise Unauthenticated(params={"reason": "auth_missing"})
    raise Forbidden(field=scope.value, params={"reason": "scope_missing", "scope": scope.value})


class Guard(Protocol):
    """Implemented by the gateway and handed to every style's ``create_app`` (None when auth is off)."""

    async def authenticate(self, credentials: Credentials) -> Principal:
        """No credential at all -> ANONYMOUS; a bad, expired or revoked one -> raise Unauthenticated."""
        ...

    def authorize(self, principal: Principal, operation: str) -> None:
        """Anonymous and the operation needs a scope -> Unauthenticated; scope missing -> Forbidden."""
        ...

    async def charge(
        self, principal: Principal, style: str, operation: str, cost: int = 1
    ) -> QuotaState | None:
        """Take ``cost`` from the principal's bucket: raise RateLimited(params={"retryAfter": s});
        None when limits are off."""
        ...

    def stream(self, principal: Principal, style: str) -> AbstractAsyncContextManager[None]:
        """A slot for one open stream; raises RateLimited at the client's concurrent-stream limit."""
        ...


def credentials_from_headers(
    authorization: str | None, api_key: str | None, address: str | None = None
) -> Credentials:
    """What an HTTP request (or gRPC metadata) carries: ``Authorization: Bearer <token>`` or
    ``Basic <id:secret>`` (RFC 7617; the parts form-encoded as RFC 6749 §2.3.1 asks), ``X-Api-Key``.

    An Authorization header that cannot be read is kept as a bearer value, so it is refused as an
    invalid credential instead of being mistaken for no credential at all.
    """
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return Credentials(bearer=value, api_key=api_key, address=address)
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            client_id, colon, secret = decoded.partition(":")
            if colon and client_id:
                return Credentials(
                    client_id=unquote_plus(client_id), client_secret=unquote_plus(secret), address=address
                )
        return Credentials(bearer=authorization, address=address)
    if api_key is not None:
        return Credentials(api_key=api_key.strip(), address=address)
    return Credentials(address=address)


async def until_expiry(principal: Principal, events: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """``events`` for as long as the principal's credential lasts, then UNAUTHENTICATED (auth_expired).

    Every style's event stream goes through it, so a stream opened with a token ends when the token
    does; the subscriber resumes from the last sequence it saw, with a fresh token. Closing this
    stream closes ``events`` too (the core's stream then stops waiting on the notifier).
    """
    try:
        if principal.expires_at is None:
            async for item in events:
                yield item
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (principal.expires_at - datetime.now(UTC)).total_seconds()
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    item = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise Unauthenticated(params={"reason": "auth_expired"}) from None
            yield item
    finally:
        await events.aclose()
