"""The webhook store port, implemented in services/store (memory, SQLite, PostgreSQL).

Every method is one atomic step; the dispatcher's state (cursors, deliveries, attempts) lives
here, so a restarted dispatcher resumes exactly where the last one stopped. A store that several
dispatchers may share at once (PostgreSQL) also implements ``SharedWebhookStore.claim``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from services.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionHealth,
)


class WorkSignal:
    """Wakes the dispatcher when deliveries become due: notified in-process, and by the PostgreSQL
    store when another process's write (a ping, a replay) NOTIFYs it."""

    def __init__(self) -> None:
        self.generation = 0
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        self.generation += 1
        if self._event is not None:
            self._event.set()

    async def wait(self, seen: int, timeout: float) -> bool:
        """Wait until ``notify`` was called after ``seen`` was read; False on timeout."""
        if self.generation != seen:
            return True
        if self._event is None:
            self._event = asyncio.Event()
        self._event.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


class WebhookStore(Protocol):
    signal: WorkSignal

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # -- subscriptions --------------------------------------------------------------------
    async def add_subscription(self, subscription: Subscription) -> None: ...
    async def get_subscription(self, subscription_id: str) -> Subscription | None: ...
    async def list_subscriptions(self, offset: int, limit: int) -> tuple[list[Subscription], int]:
        """One page (oldest first) and the total."""
        ...

    async def update_subscription(self, subscription: Subscription) -> None:
        """Write the user-editable fields, health and secrets; never the cursor (the dispatcher owns it)."""
        ...

    async def delete_subscription(self, subscription_id: str) -> bool:
        """Delete it with its deliveries and attempts; False if it did not exist."""
        ...

    async def cursors(self) -> list[Subscription]:
        """Every subscription (enabled or not), for the fan-out."""
        ...

    # -- deliveries -----------------------------------------------------------------------
    async def enqueue(self, deliveries: Sequence[Delivery], cursors: Mapping[str, int]) -> None:
        """Atomically add deliveries (ignoring ids already present or of deleted subscriptions) and
        raise each named subscription's cursor to at least the given sequence."""
        ...

    async def due_deliveries(self, now: datetime, limit: int, per_subscription: int) -> list[Delivery]:
        """PENDING deliveries of enabled subscriptions due by ``now``, earliest first, at most
        ``per_subscription`` of each subscription (so one busy endpoint cannot fill the batch)."""
        ...

    async def lease(self, delivery_ids: Sequence[str], until: datetime) -> None:
        """Push the given PENDING deliveries' due time to ``until`` while they are in flight (a crash
        leaves them due again once the lease ends)."""
        ...

    async def next_due_at(self) -> datetime | None:
        """When the earliest PENDING delivery of an enabled subscription is due."""
        ...

    async def record_attempt(self, delivery: Delivery, attempt: Attempt, health: SubscriptionHealth) -> None:
        """Atomically store the attempt, the delivery's new state and its subscription's health."""
        ...

    async def get_delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None: ...
    async def list_deliveries(
        self, subscription_id: str, status: DeliveryStatus | None, offset: int, limit: int
    ) -> tuple[list[Delivery], int]:
        """One page, newest first, and the total."""
        ...

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        """Attempts of each delivery, in order."""
        ...

    async def requeue(self, subscription_id: str, delivery_id: str, now: datetime) -> Delivery | None:
        """Make one delivery PENDING again, due now, with a fresh round of attempts."""
        ...

    async def requeue_failed_since(self, subscription_id: str, since: datetime, now: datetime) -> int:
        """Requeue every FAILED delivery of the subscription created at or after ``since``."""
        ...


@runtime_checkable
class SharedWebhookStore(WebhookStore, Protocol):
    """A webhook store that several dispatchers (processes) may use at the same time."""

    async def claim(self, delivery_ids: Sequence[str], now: datetime, until: datetime) -> list[str]:
        """Lease, until ``until``, those of the given deliveries still PENDING and due by ``now``,
        and return their ids. Atomic across dispatchers: of two claiming one delivery at once,
        exactly one gets it and neither waits for the other; once a lease ends (its holder died
        mid-attempt) the delivery is due, and can be claimed, again."""
        ...
