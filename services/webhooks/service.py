"""The webhook use cases behind the management API: subscriptions, secrets, pings, deliveries, replays.

Like the core's service, it validates raw wire values and raises typed ``RosettaError``s; the
HTTP app only translates. Deliveries themselves are made by services/webhooks/dispatcher.py.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.core import validation as check
from services.core.errors import DeliveryNotFound, MissingMandatoryProperty, SubscriptionNotFound
from services.core.model import Event, EventType, format_timestamp
from services.core.service import random_id, utc_now
from services.webhooks.model import (
    PING_EVENT_TYPE,
    Attempt,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    SigningSecret,
    Subscription,
    new_delivery,
)
from services.webhooks.ports import WebhookStore
from services.webhooks.signing import is_valid_secret, new_secret
from services.webhooks.ssrf import Guard, TargetRefused

URL_MAX = 2048
DESCRIPTION_MAX = 500
ALL_EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
_UNSET: Any = object()


def event_payload(event: Event) -> str:
    """The JSON body of a message: Standard Webhooks' ``type``, ``timestamp`` and ``data``, plus the
    event's id and sequence so a receiver can find it in the event log."""
    body = {
        "type": event.type,
        "timestamp": format_timestamp(event.occurred_at),
        "eventId": event.event_id,
        "sequence": event.sequence,
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[Any, ...]
    page: int
    page_size: int
    total_items: int

    @property
    def total_pages(self) -> int:
        return -(-self.total_items // self.page_size)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    delivery: Delivery
    attempts: tuple[Attempt, ...]


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        guard: Guard,
        last_event_sequence: Callable[[], Awaitable[int]],
        *,
        rotation_overlap_seconds: float,
        clock: Callable[[], datetime] = utc_now,
        ids: Callable[[str], str] = random_id,
    ) -> None:
        self._store = store
        self._guard = guard
        self._last_sequence = last_event_sequence
        self._overlap = timedelta(seconds=rotation_overlap_seconds)
        self._clock = clock
        self._ids = ids

    # -- validation ---------------------------------------------------------------------

    async def _url(self, value: object) -> str:
        if value is None:
            raise MissingMandatoryProperty(field="url")
        if not isinstance(value, str):
            raise check.invalid("url", "type")
        url = value.strip()
        if not 1 <= len(url) <= URL_MAX:
            raise check.invalid("url", "length", min=1, max=URL_MAX)
        try:
            await self._guard.check(url)
        except TargetRefused as refused:
            raise check.invalid("url", refused.reason, **refused.params) from None
        return url

    @staticmethod
    def _event_types(value: object) -> tuple[str, ...]:
        if value is None:
            return ALL_EVENT_TYPES
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise check.invalid("eventTypes", "type")
        if not value:
            raise check.invalid("eventTypes", "empty")
        for item in value:
            if item not in ALL_EVENT_TYPES:
                raise check.invalid("eventTypes", "enum", allowed=", ".join(ALL_EVENT_TYPES))
        return tuple(dict.fromkeys(value))

    @staticmethod
    def _description(value: object) -> str | None:
        text = check.text("description", value, minimum=0, maximum=DESCRIPTION_MAX, required=False)
        return text or None

    @staticmethod
    def _page(page: object, page_size: object) -> tuple[int, int]:
        return (
            check.whole_number("page", page, minimum=1, maximum=10**9, coerce=True),
            check.whole_number("page_size", page_size, minimum=1, maximum=check.PAGE_SIZE_MAX, coerce=True),
        )

    async def _load(self, subscription_id: str) -> Subscription:
        subscription = await self._store.get_subscription(subscription_id)
        if subscription is None:
            raise SubscriptionNotFound(params={"subscriptionId": subscription_id})
        return subscription

    # -- subscriptions -------------------------------------------------------------------

    async def create_subscription(
        self,
        *,
        url: object = None,
        event_types: object = None,
        description: object = None,
        secret: object = None,
    ) -> tuple[Subscription, str]:
        """A new enabled subscription, receiving events committed from now on, and its secret."""
        checked_url = await self._url(url)
        types = self._event_types(event_types)
        text = self._description(description)
        if secret is not None and not is_valid_secret(secret):
            raise check.invalid("secret", "secret")
        signing = secret if isinstance(secret, str) else new_secret()
        now = self._clock()
        subscription = Subscription(
            subscription_id=self._ids("whs"),
            url=checked_url,
            event_types=types,
            description=text,
            enabled=True,
            disabled_reason=None,
            secrets=(SigningSecret(signing),),
            cursor=await self._last_sequence(),
            failing_since=None,
            created_at=now,
            updated_at=now,
        )
        await self._store.add_subscription(subscription)
        return subscription, signing

    async def get_subscription(self, subscription_id: str) -> Subscription:
        return await self._load(subscription_id)

    async def list_subscriptions(self, page: object = 1, page_size: object = 20) -> Page:
        number, size = self._page(page, page_size)
        items, total = await self._store.list_subscriptions((number - 1) * size, size)
        return Page(tuple(items), number, size, total)

    async def update_subscription(self, subscription_id: str, changes: Mapping[str, Any]) -> Subscription:
        """Merge-patch semantics: absent keys are kept, ``description: null`` clears the description,
        ``enabled: true`` re-enables (and forgets why it was disabled)."""
        url = changes.get("url", _UNSET)
        types = changes.get("event_types", _UNSET)
        description = changes.get("description", _UNSET)
        enabled = changes.get("enabled", _UNSET)
        update: dict[str, Any] = {}
        if url is not _UNSET:
            update["url"] = await self._url(url)
        if types is not _UNSET:
            if types is None:
                raise MissingMandatoryProperty(field="eventTypes")
            update["event_types"] = self._event_types(types)
        if description is not _UNSET:
            update["description"] = self._description(description)
        if enabled is not _UNSET and not isinstance(enabled, bool):
            raise check.invalid("enabled", "type")
        current = await self._load(subscription_id)
        if enabled is True and not current.enabled:
            update.update(enabled=True, disabled_reason=None, failing_since=None)
        elif enabled is False and current.enabled:
            update.update(enabled=False, disabled_reason=DisabledReason.MANUAL)
        if not any(getattr(current, name) != value for name, value in update.items()):
            return current
        changed = replace(current, **update, updated_at=self._clock())
        await self._store.update_subscription(changed)
        if changed.enabled and not current.enabled:
            self._store.signal.notify()  # its pending deliveries may go now
        return changed

    async def delete_subscription(self, subscription_id: str) -> None:
        if not await self._store.delete_subscription(subscription_id):
            raise SubscriptionNotFound(params={"subscriptionId": subscription_id})

    async def rotate_secret(self, subscription_id: str) -> tuple[Subscription, str]:
        """A new secret; the previous one keeps signing for the rotation overlap."""
        current = await self._load(subscription_id)
        now = self._clock()
        secret = new_secret()
        rotated = current.rotated(secret, now, now + self._overlap)
        await self._store.update_subscription(rotated)
        return rotated, secret

    # -- messages ------------------------------------------------------------------------

    async def ping(self, subscription_id: str) -> Delivery:
        """Queue a ``webhook.ping`` message to the subscription (sent once it is enabled)."""
        subscription = await self._load(subscription_id)
        now = self._clock()
        event_id = self._ids("evt")
        body = {
            "type": PING_EVENT_TYPE,
            "timestamp": format_timestamp(now),
            "eventId": event_id,
            "data": {"subscriptionId": subscription.subscription_id},
        }
        payload = json.dumps(body, separators=(",", ":"))
        delivery = new_delivery(subscription.subscription_id, event_id, PING_EVENT_TYPE, None, payload, now)
        await self._store.enqueue([delivery], {})
        self._store.signal.notify()
        return delivery

    async def list_deliveries(
        self, subscription_id: str, *, status: object = None, page: object = 1, page_size: object = 20
    ) -> Page:
        """Newest first, each with its attempts."""
        await self._load(subscription_id)
        wanted: DeliveryStatus | None = None
        if status not in (None, ""):
            allowed = [s.value for s in DeliveryStatus]
            if status not in allowed:
                raise check.invalid("status", "enum", allowed=", ".join(allowed))
            wanted = DeliveryStatus(status)
        number, size = self._page(page, page_size)
        items, total = await self._store.list_deliveries(subscription_id, wanted, (number - 1) * size, size)
        attempts = await self._store.attempts_of([d.delivery_id for d in items])
        records = tuple(DeliveryRecord(d, tuple(attempts[d.delivery_id])) for d in items)
        return Page(records, number, size, total)

    async def get_delivery(self, subscription_id: str, delivery_id: str) -> DeliveryRecord:
        await self._load(subscription_id)
        delivery = await self._store.get_delivery(subscription_id, delivery_id)
        if delivery is None:
            raise DeliveryNotFound(params={"deliveryId": delivery_id})
        attempts = await self._store.attempts_of([delivery_id])
        return DeliveryRecord(delivery, tuple(attempts[delivery_id]))

    async def replay(self, subscription_id: str, delivery_id: str) -> DeliveryRecord:
        """Send one message again, same ``webhook-id`` and body, with a fresh round of attempts."""
        await self._load(subscription_id)
        delivery = await self._store.requeue(subscription_id, delivery_id, self._clock())
        if delivery is None:
            raise DeliveryNotFound(params={"deliveryId": delivery_id})
        self._store.signal.notify()
        attempts = await self._store.attempts_of([delivery_id])
        return DeliveryRecord(delivery, tuple(attempts[delivery_id]))

    async def replay_failed_since(self, subscription_id: str, since: object) -> int:
        """Requeue every dead letter of the subscription created at or after ``since``."""
        await self._load(subscription_id)
        if since in (None, ""):
            raise MissingMandatoryProperty(field="since")
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00")) if isinstance(since, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise check.invalid("since", "timestamp")
        count = await self._store.requeue_failed_since(subscription_id, moment, self._clock())
        if count:
            self._store.signal.notify()
        return count
