"""The one error tree of Rosetta: every failure a use case can report, each with its catalog code.

Adapters map ``code`` to their wire form with their own table (HTTP status, gRPC status,
SOAP faultcode, WebSocket error frame); clients map it back, so callers of any style see
the same exceptions::

    RosettaError (code INTERNAL)
    ├── RequestError                        the request itself is wrong
    │   ├── MissingMandatoryProperty        MISSING_MANDATORY_PROPERTY
    │   ├── InvalidProperty                 INVALID_PROPERTY
    │   ├── MalformedRequest                MALFORMED_REQUEST
    │   └── PayloadTooLarge                 PAYLOAD_TOO_LARGE
    ├── NotFound
    │   ├── RoomNotFound                    ROOM_NOT_FOUND
    │   ├── ReservationNotFound             RESERVATION_NOT_FOUND
    │   ├── SubscriptionNotFound            SUBSCRIPTION_NOT_FOUND   (webhook management API)
    │   └── DeliveryNotFound                DELIVERY_NOT_FOUND       (webhook management API)
    ├── ConflictError
    │   ├── ReservationConflict             RESERVATION_CONFLICT
    │   ├── InvalidStateTransition          INVALID_STATE_TRANSITION
    │   └── VersionMismatch                 VERSION_MISMATCH
    ├── RuleViolation
    │   ├── CapacityExceeded                CAPACITY_EXCEEDED
    │   └── IdempotencyKeyReused            IDEMPOTENCY_KEY_REUSED
    ├── AccessError
    │   ├── Unauthenticated                 UNAUTHENTICATED  (no, bad, expired or revoked credential)
    │   ├── Forbidden                       FORBIDDEN        (missing scope: field names it; not the owner)
    │   └── RateLimited                     RATE_LIMITED
    ├── Unavailable                         UNAVAILABLE      (the server cannot answer now: retry later)
    └── InternalError                       INTERNAL

A refusal that knows when a retry can succeed (RATE_LIMITED, UNAVAILABLE) says so in
``params["retryAfter"]`` (seconds), read back as ``retry_after``; every style sends it on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from services.core import messages


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One problem with one input field (``field`` uses the camelCase wire name)."""

    field: str
    code: str


class RosettaError(Exception):
    """Base of every error the core reports; ``code`` is the catalog code."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(
        self,
        *,
        field: str | None = None,
        params: Mapping[str, object] | None = None,
        message: str | None = None,
        language: str | None = None,
    ) -> None:
        self.field = field
        self.params: dict[str, object] = dict(params or {})
        if field is not None:
            self.params.setdefault("field", field)
        # A message already rendered elsewhere (e.g. received over the wire by a client).
        self._message = message
        self._language = language
        super().__init__(self.localized("en") if message is None else message)

    @property
    def retry_after(self) -> float | None:
        """Seconds until a retry can succeed, when whoever refused knows (every style sends it on)."""
        wait = self.params.get("retryAfter")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
            return float(wait)
        return None

    @property
    def violations(self) -> tuple[FieldViolation, ...]:
        return (FieldViolation(self.field, self.code),) if self.field else ()

    def localized(self, language: str | None = None) -> str:
        """The detail message in ``language`` (en, ko, fr); a received message is kept as is."""
        if self._message is not None:
            return self._message
        return messages.detail(self.code, language, self.params)

    def title(self, language: str | None = None) -> str:
        return messages.title(self.code, language)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, message={str(self)!r})"


class RequestError(RosettaError):
    """The request is wrong in itself; retrying it unchanged cannot succeed."""


class MissingMandatoryProperty(RequestError):
    code = "MISSING_MANDATORY_PROPERTY"


class InvalidProperty(RequestError):
    code = "INVALID_PROPERTY"


class MalformedRequest(RequestError):
    code = "MALFORMED_REQUEST"


class PayloadTooLarge(RequestError):
    code = "PAYLOAD_TOO_LARGE"


class NotFound(RosettaError):
    """A named resource does not exist."""


class RoomNotFound(NotFound):
    code = "ROOM_NOT_FOUND"


class ReservationNotFound(NotFound):
    code = "RESERVATION_NOT_FOUND"


class SubscriptionNotFound(NotFound):
    code = "SUBSCRIPTION_NOT_FOUND"


class DeliveryNotFound(NotFound):
    code = "DELIVERY_NOT_FOUND"


class ConflictError(RosettaError):
    """The request clashes with the current state of a resource."""


class ReservationConflict(ConflictError):
    code = "RESERVATION_CONFLICT"


class InvalidStateTransition(ConflictError):
    code = "INVALID_STATE_TRANSITION"


class VersionMismatch(ConflictError):
    code = "VERSION_MISMATCH"


class RuleViolation(RosettaError):
    """Well-formed input that a business rule refuses."""


class CapacityExceeded(RuleViolation):
    code = "CAPACITY_EXCEEDED"


class IdempotencyKeyReused(RuleViolation):
    code = "IDEMPOTENCY_KEY_REUSED"


class AccessError(RosettaError):
    """The caller may not proceed right now."""


class Unauthenticated(AccessError):
    """No credential where one is needed, or one that is bad, expired or revoked.

    ``params["reason"]`` names the case: ``auth_missing``, ``auth_invalid`` (the default),
    ``auth_expired`` or ``auth_revoked``.
    """

    code = "UNAUTHENTICATED"

    def __init__(
        self,
        *,
        field: str | None = None,
        params: Mapping[str, object] | None = None,
        message: str | None = None,
        language: str | None = None,
    ) -> None:
        super().__init__(
            field=field,
            params={"reason": "auth_invalid", **(params or {})},
            message=message,
            language=language,
        )


class Forbidden(AccessError):
    """The caller is known but may not do this: a scope is missing (``field`` names it, reason
    ``scope_missing``) or the reservation belongs to another client (reason ``not_owner``)."""

    code = "FORBIDDEN"

    def __init__(
        self,
        *,
        field: str | None = None,
        params: Mapping[str, object] | None = None,
        message: str | None = None,
        language: str | None = None,
    ) -> None:
        defaults: dict[str, object] = {"reason": "scope_missing" if field else "not_owner"}
        if field is not None:
            defaults["scope"] = field
        super().__init__(
            field=field, params={**defaults, **(params or {})}, message=message, language=language
        )


class RateLimited(AccessError):
    """The caller's quota is spent; ``params["retryAfter"]`` says in how many seconds it may retry."""

    code = "RATE_LIMITED"


class Unavailable(RosettaError):
    """The server cannot answer now (overloaded, a dependency down, or the workshop's fault injector);
    nothing was done, and the same request may succeed later, after ``params["retryAfter"]`` seconds."""

    code = "UNAVAILABLE"


class InternalError(RosettaError):
    """Something failed on the server; the message never says what."""

    code = "INTERNAL"


ERRORS_BY_CODE: dict[str, type[RosettaError]] = {
    cls.code: cls
    for cls in (
        MissingMandatoryProperty,
        InvalidProperty,
        MalformedRequest,
        PayloadTooLarge,
        RoomNotFound,
        ReservationNotFound,
        SubscriptionNotFound,
        DeliveryNotFound,
        ReservationConflict,
        InvalidStateTransition,
        VersionMismatch,
        CapacityExceeded,
        IdempotencyKeyReused,
        Unauthenticated,
        Forbidden,
        RateLimited,
        Unavailable,
        InternalError,
    )
}
RETRY_AFTER_CODES = frozenset({RateLimited.code, Unavailable.code})
"""The codes whose answers carry the wait until a retry can succeed."""


def error_from_code(
    code: str, message: str | None = None, field: str | None = None, retry_after: float | None = None
) -> RosettaError:
    """Rebuild the typed error a client received over the wire (unknown codes become INTERNAL).

    ``retry_after`` is the wait a RATE_LIMITED or UNAVAILABLE answer carried (RetryInfo, Retry-After,
    retryAfter).
    """
    cls = ERRORS_BY_CODE.get(code, InternalError)
    waits = retry_after is not None and cls.code in RETRY_AFTER_CODES
    params = {"retryAfter": retry_after} if waits else None
    return cls(field=field, message=message, params=params)
