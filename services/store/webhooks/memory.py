"""In-memory implementation of the webhook store port (tests, ``memory://``): nothing survives a restart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from services.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionHealth,
)
from services.webhooks.ports import WorkSignal


class MemoryWebhookStore:
    def __init__(self) -> None:
        self.signal = WorkSignal()
        self._subscriptions: dict[str, Subscription] = {}  # insertion order = creation order
        self._deliveries: dict[str, Delivery] = {}
        self._attempts: dict[str, list[Attempt]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    # -- subscriptions --------------------------------------------------------------------

    async def add_subscription(self, subscription: Subscription) -> None:
        self._subscriptions[subscription.subscription_id] = subscription

    async def get_subscription(self, subscription_id: str) -> Subscription | None:
        return self._subscriptions.get(subscription_id)

    async def list_subscriptions(self, offset: int, limit: int) -> tuple[list[Subscription], int]:
        items = list(self._subscriptions.values())
        return items[offset : offset + limit], len(items)

    async def update_subscription(self, subscription: Subscription) -> None:
        current = self._subscriptions.get(subscription.subscription_id)
        if current is not None:
            self._subscriptions[subscription.subscription_id] = replace(subscription, cursor=current.cursor)

    async def delete_subscription(self, subscription_id: str) -> bool:
        if self._subscriptions.pop(subscription_id, None) is None:
            return False
        for delivery_id in [
            d.delivery_id for d in self._deliveries.values() if d.subscription_id == subscription_id
        ]:
            del self._deliveries[delivery_id]
            self._attempts.pop(delivery_id, None)
        return True

    async def cursors(self) -> list[Subscription]:
        return list(self._subscriptions.values())

    # -- deliveries -----------------------------------------------------------------------

    async def enqueue(self, deliveries: Sequence[Delivery], cursors: Mapping[str, int]) -> None:
        for delivery in deliveries:
            if delivery.subscription_id in self._subscriptions:
                self._deliveries.setdefault(delivery.delivery_id, delivery)
        for subscription_id, sequence in cursors.items():
            current = self._subscriptions.get(subscription_id)
            if current is not None and current.cursor < sequence:
                self._subscriptions[subscription_id] = replace(current, cursor=sequence)

    def _enabled(self, delivery: Delivery) -> bool:
        subscription = self._subscriptions.get(delivery.subscription_id)
        return subscription is not None and subscription.enabled

    async def due_deliveries(self, now: datetime, limit: int, per_subscription: int) -> list[Delivery]:
        due = [
            d
            for d in self._deliveries.values()
            if d.status is DeliveryStatus.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
            and self._enabled(d)
        ]
        due.sort(key=lambda d: d.next_attempt_at or now)  # stable: insertion order breaks ties
        taken: Counter[str] = Counter()
        result: list[Delivery] = []
        for delivery in due:
            if taken[delivery.subscription_id] < per_subscription:
                taken[delivery.subscription_id] += 1
                result.append(delivery)
        return result[:limit]

    async def lease(self, delivery_ids: Sequence[str], until: datetime) -> None:
        for delivery_id in delivery_ids:
            delivery = self._deliveries.get(delivery_id)
            if delivery is not None and delivery.status is DeliveryStatus.PENDING:
                self._deliveries[delivery_id] = replace(delivery, next_attempt_at=until)

    async def next_due_at(self) -> datetime | None:
        times = [
            d.next_attempt_at
            for d in self._deliveries.values()
            if d.status is DeliveryStatus.PENDING and d.next_attempt_at is not None and self._enabled(d)
        ]
        return min(times, default=None)

    async def record_attempt(self, delivery: Delivery, attempt: Attempt, health: SubscriptionHealth) -> None:
        current = self._deliveries.get(delivery.delivery_id)
        if current is None:
            return  # deleted with its subscription meanwhile
        if current.updated_at > attempt.attempted_at:  # requeued (replayed) while it was in flight
            delivery = replace(current, total_attempts=max(current.total_attempts, delivery.total_attempts))
        self._deliveries[delivery.delivery_id] = delivery
        self._attempts.setdefault(delivery.delivery_id, []).append(attempt)
        subscription = self._subscriptions.get(delivery.subscription_id)
        if subscription is None:
            return
        changed = replace(subscription, failing_since=health.failing_since)
        if health.disabled_reason is not None:
            changed = replace(changed, enabled=False, disabled_reason=health.disabled_reason)
        self._subscriptions[subscription.subscription_id] = changed

    async def get_delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        delivery = self._deliveries.get(delivery_id)
        return delivery if delivery is not None and delivery.subscription_id == subscription_id else None

    async def list_deliveries(
        self, subscription_id: str, status: DeliveryStatus | None, offset: int, limit: int
    ) -> tuple[list[Delivery], int]:
        items = [
            d
            for d in reversed(self._deliveries.values())
            if d.subscription_id == subscription_id and (status is None or d.status is status)
        ]
        return items[offset : offset + limit], len(items)

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        return {delivery_id: list(self._attempts.get(delivery_id, ())) for delivery_id in delivery_ids}

    def _requeued(self, delivery: Delivery, now: datetime) -> Delivery:
        requeued = replace(
            delivery, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now
        )
        self._deliveries[delivery.delivery_id] = requeued
        return requeued

    async def requeue(self, subscription_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        delivery = await self.get_delivery(subscription_id, delivery_id)
        return None if delivery is None else self._requeued(delivery, now)

    async def requeue_failed_since(self, subscription_id: str, since: datetime, now: datetime) -> int:
        failed = [
            d
            for d in self._deliveries.values()
            if d.subscription_id == subscription_id
            and d.status is DeliveryStatus.FAILED
            and d.created_at >= since
        ]
        for delivery in failed:
            self._requeued(delivery, now)
        return len(failed)
