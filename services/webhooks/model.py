"""The webhook domain: subscriptions, the messages (deliveries) sent to them, and each attempt."""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

PING_EVENT_TYPE = "webhook.ping"

# Standard Webhooks' schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
RETRY_DELAYS: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # waiting for its next attempt
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # a dead letter: every attempt failed (or the endpoint is gone); replayable


class DisabledReason(enum.StrEnum):
    MANUAL = "MANUAL"  # PATCH {"enabled": false}
    ENDPOINT_GONE = "ENDPOINT_GONE"  # the endpoint answered 410 Gone
    CONTINUOUS_FAILURE = "CONTINUOUS_FAILURE"  # failing for longer than disable_after_seconds


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """A ``whsec_`` secret; ``expires_at`` is set on the previous secret during a rotation."""

    secret: str
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    url: str
    event_types: tuple[str, ...]
    description: str | None
    enabled: bool
    disabled_reason: DisabledReason | None
    secrets: tuple[SigningSecret, ...]  # current first
    cursor: int  # last event sequence fanned out to this subscription
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    def matches(self, event_type: str) -> bool:
        return event_type in self.event_types

    def signing_secrets(self, now: datetime) -> list[str]:
        return [s.secret for s in self.secrets if s.active(now)]

    def rotated(self, new_secret: str, now: datetime, previous_expires_at: datetime) -> Subscription:
        current, *_ = self.secrets
        previous = replace(current, expires_at=previous_expires_at)
        kept = (previous,) if previous.active(now) else ()
        return replace(self, secrets=(SigningSecret(new_secret), *kept), updated_at=now)


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: str
    number: int  # 1, 2, ... over the whole life of the delivery (replays continue the count)
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for one subscription; its id is the ``webhook-id`` header, stable across retries."""

    delivery_id: str
    subscription_id: str
    event_id: str
    event_type: str
    sequence: int | None  # None for pings
    payload: str  # the exact JSON body, fixed at creation so retries and replays sign the same bytes
    status: DeliveryStatus
    attempts: int  # attempts in the current round (a replay starts a new round)
    total_attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionHealth:
    """What one attempt changed on its subscription (written with the attempt)."""

    failing_since: datetime | None
    disabled_reason: DisabledReason | None = None


def message_id(event_id: str, subscription_id: str) -> str:
    """The stable ``webhook-id`` of an event sent to a subscription: ``msg_`` + 26 base32 chars."""
    digest = hashlib.sha256(f"{subscription_id}:{event_id}".encode()).digest()
    return "msg_" + base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def retry_delay(attempts_made: int, scale: float, jitter: float) -> float:
    """Seconds to wait after ``attempts_made`` failed attempts; ``jitter`` is a factor near 1
    (the dispatcher draws it from 0.8–1.2 so that many failing messages do not retry in step)."""
    return RETRY_DELAYS[min(attempts_made, len(RETRY_DELAYS)) - 1] * scale * jitter


def new_delivery(
    subscription_id: str,
    event_id: str,
    event_type: str,
    sequence: int | None,
    payload: str,
    now: datetime,
) -> Delivery:
    return Delivery(
        delivery_id=message_id(event_id, subscription_id),
        subscription_id=subscription_id,
        event_id=event_id,
        event_type=event_type,
        sequence=sequence,
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempts=0,
        total_attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
