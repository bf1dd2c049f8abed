"""The dispatcher stopping and handing over, on the memory store with scripted endpoints: an attempt in
flight when it stops is abandoned (not finished behind the caller's back) and made again once its lease
ends; a delivery that another dispatcher sharing the store claimed first is left to it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from services.core.service import utc_now
from services.store import MemoryStore
from services.store.webhooks.memory import MemoryWebhookStore
from services.webhooks.dispatcher import LEASE_MARGIN, Dispatcher
from services.webhooks.model import DeliveryStatus
from services.webhooks.ports import SharedWebhookStore
from tests.webhooks.conftest import DEFAULTS, Harness

HOST = "hooks.example.com"
OTHER = "other.example.com"
TIMEOUT = 2.0  # request_timeout: an attempt's lease lasts this plus LEASE_MARGIN


class ClosingTransport(httpx.AsyncBaseTransport):
    """The scripted endpoints, noting when the dispatcher closes its outbound connections."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed = True


async def test_stopping_abandons_the_attempt_in_flight_and_closes_the_connections() -> None:
    sent, abandoned = asyncio.Event(), asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        sent.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            abandoned.set()
            raise
        raise AssertionError("unreachable")

    rig = Harness(MemoryStore(), MemoryWebhookStore(), dataclasses.replace(DEFAULTS, request_timeout=TIMEOUT))
    transport = ClosingTransport(rig.endpoints.transport())
    rig.options = dataclasses.replace(rig.options, transport=transport)
    rig.endpoints.script[HOST] = [held, httpx.Response(204)]
    await rig.start()
    subscription, _ = await rig.subscribe()
    started = utc_now()
    await rig.reserve()
    async with asyncio.timeout(5):
        await sent.wait()
    (record,) = (await rig.webhooks.list_deliveries(subscription.subscription_id)).items
    # In flight, the delivery is due again when the lease ends: where another dispatcher takes over.
    lease = timedelta(seconds=TIMEOUT + LEASE_MARGIN)
    assert record.delivery.next_attempt_at is not None
    assert started + lease <= record.delivery.next_attempt_at <= utc_now() + lease

    await rig.stop()
    assert abandoned.is_set(), "stop() returned while the attempt in flight was still running"
    assert transport.closed, "stop() left the dispatcher's outbound connections open"
    assert rig.attempts.items == []  # an abandoned attempt records nothing

    # The next dispatcher (its clock past the lease) makes the attempt again, with the same id.
    def later() -> datetime:
        return utc_now() + lease + timedelta(seconds=1)

    rig.options = dataclasses.replace(rig.options, transport=rig.endpoints.transport())
    successor = Dispatcher(rig.core, rig.store, rig.notifier, rig.options, clock=later)
    await successor.start()
    try:
        await rig.attempts.until(lambda items: len(items) == 1)
    finally:
        await successor.stop()
    first, again = rig.endpoints.received[HOST]
    assert first.headers["webhook-id"] == again.headers["webhook-id"] == record.delivery.delivery_id
    delivery, attempt = rig.attempts.items[0]
    assert (delivery.status, attempt.number) == (DeliveryStatus.SUCCEEDED, 1)


class SharedMemoryStore(MemoryWebhookStore):
    """A memory store shared with another (pretend) dispatcher, which claims the due deliveries of the
    subscriptions in ``claimed_elsewhere`` first and holds them (``held_elsewhere``) for an hour."""

    def __init__(self) -> None:
        super().__init__()
        self.claimed_elsewhere: set[str] = set()
        self.held_elsewhere: list[str] = []

    async def claim(self, delivery_ids: Sequence[str], now: datetime, until: datetime) -> list[str]:
        due = [
            delivery
            for delivery in (self._deliveries.get(delivery_id) for delivery_id in delivery_ids)
            if delivery is not None
            and delivery.status is DeliveryStatus.PENDING
            and delivery.next_attempt_at is not None
            and delivery.next_attempt_at <= now
        ]
        theirs = [d.delivery_id for d in due if d.subscription_id in self.claimed_elsewhere]
        mine = [d.delivery_id for d in due if d.subscription_id not in self.claimed_elsewhere]
        await self.lease(theirs, now + timedelta(hours=1))
        self.held_elsewhere += theirs
        await self.lease(mine, until)
        return mine


async def test_a_delivery_another_dispatcher_claimed_is_left_to_it_until_its_lease_ends() -> None:
    store = SharedMemoryStore()
    assert isinstance(store, SharedWebhookStore)
    options = dataclasses.replace(DEFAULTS, request_timeout=TIMEOUT, per_subscription_concurrency=1)
    rig = Harness(MemoryStore(), store, options)
    await rig.start()
    try:
        mine, _ = await rig.subscribe(HOST)
        theirs, _ = await rig.subscribe(OTHER)
        store.claimed_elsewhere.add(theirs.subscription_id)
        await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
        (delivery, _), *_ = rig.attempts.items
        assert delivery.subscription_id == mine.subscription_id
        assert OTHER not in rig.endpoints.received and len(store.held_elsewhere) == 1

        # The other dispatcher died mid-attempt: once its lease ends, this one makes the attempt.
        store.claimed_elsewhere.clear()
        await store.lease(store.held_elsewhere, utc_now())
        store.signal.notify()
        await rig.attempts.until(lambda items: len(items) == 2)
        assert len(rig.endpoints.received[OTHER]) == 1
        assert rig.attempts.items[1][0].status is DeliveryStatus.SUCCEEDED
    finally:
        await rig.stop()
