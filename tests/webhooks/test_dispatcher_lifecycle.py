"""The dispatcher stopping and handing over, on the memory store with scripted endpoints: an attempt in
flight when it stops is abandoned (not finished behind the caller's back) and made again once its lease
ends; a delivery that another dispatcher sharing the store claimed first is left to it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
import pytest

from services.core.events import InProcessNotifier
from services.core.service import ReservationService, utc_now
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
        self.claimed_until: list[datetime] = []

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
        self.claimed_until += [until] * len(mine)
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
        started = utc_now()
        await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
        (delivery, _), *_ = rig.attempts.items
        assert delivery.subscription_id == mine.subscription_id
        assert OTHER not in rig.endpoints.received and len(store.held_elsewhere) == 1
        # This dispatcher's claim lasted the attempt's deadline and margin (the other's, an hour).
        assert store.claimed_until and all(
            started + timedelta(seconds=TIMEOUT + LEASE_MARGIN) <= until <= utc_now() + timedelta(seconds=10)
            for until in store.claimed_until
        )

        # The other dispatcher died mid-attempt: once its lease ends, this one makes the attempt.
        store.claimed_elsewhere.clear()
        await store.lease(store.held_elsewhere, utc_now())
        store.signal.notify()
        await rig.attempts.until(lambda items: len(items) == 2)
        assert len(rig.endpoints.received[OTHER]) == 1
        assert rig.attempts.items[1][0].status is DeliveryStatus.SUCCEEDED
    finally:
        await rig.stop()


async def test_a_dispatcher_started_late_catches_each_subscription_up_from_its_own_cursor() -> None:
    rig = Harness(MemoryStore(), MemoryWebhookStore(), DEFAULTS)
    early, _ = await rig.subscribe(HOST)
    first = await rig.reserve()  # before ``late`` existed: for ``early`` only
    late, _ = await rig.subscribe(OTHER)
    second = await rig.reserve()
    await rig.start()  # no dispatcher ran until now
    try:
        await rig.attempts.until(lambda items: len(items) == 3)
    finally:
        await rig.stop()

    def delivered(host: str) -> list[str]:
        return sorted(json.loads(r.body)["data"]["reservationId"] for r in rig.endpoints.received[host])

    assert delivered(HOST) == sorted([first.reservation_id, second.reservation_id])
    assert delivered(OTHER) == [second.reservation_id]
    for subscription in (early, late):
        stored = await rig.store.get_subscription(subscription.subscription_id)
        assert stored is not None and stored.cursor == await rig.core.last_event_sequence()


async def test_events_written_while_a_subscription_is_disabled_are_not_sent_once_it_is_enabled() -> None:
    rig = Harness(MemoryStore(), MemoryWebhookStore(), DEFAULTS)
    await rig.start()
    try:
        subscription, _ = await rig.subscribe(HOST)
        await rig.webhooks.update_subscription(subscription.subscription_id, {"enabled": False})
        await rig.reserve()
        sequence = await rig.core.last_event_sequence()
        async with asyncio.timeout(5):  # the fan-out passed the event by (nothing to await but the cursor)
            while (await rig.webhooks.get_subscription(subscription.subscription_id)).cursor < sequence:
                await asyncio.sleep(0.001)
        await rig.webhooks.update_subscription(subscription.subscription_id, {"enabled": True})
        later = await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
    finally:
        await rig.stop()
    (received,) = rig.endpoints.received[HOST]
    assert json.loads(received.body)["data"]["reservationId"] == later.reservation_id
    assert len((await rig.webhooks.list_deliveries(subscription.subscription_id)).items) == 1


@pytest.mark.parametrize(
    ("max_concurrency", "per_subscription", "hosts", "events"),
    [(2, 2, 3, 1), (1, 2, 3, 1), (8, 2, 1, 4)],
    ids=["global-2", "global-1", "per-subscription-2"],
)
async def test_no_more_attempts_than_the_limits_allow_are_in_flight_at_once(
    max_concurrency: int, per_subscription: int, hosts: int, events: int
) -> None:
    release = asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(204)

    options = dataclasses.replace(
        DEFAULTS, max_concurrency=max_concurrency, per_subscription_concurrency=per_subscription
    )
    rig = Harness(MemoryStore(), MemoryWebhookStore(), options)
    names = [f"hook{n}.example.com" for n in range(hosts)]
    for n, host in enumerate(names):
        rig.dns.answers[host] = [f"93.184.216.{40 + n}"]
        # The first request answers at once (its slot frees up); every later one is held.
        rig.endpoints.script[host] = [httpx.Response(204), held]
        await rig.subscribe(host)
    for _ in range(events):
        await rig.reserve()
    limit = min(max_concurrency, per_subscription * hosts)
    total = hosts * events
    await rig.start()  # everything is due at once
    try:
        async with asyncio.timeout(5):
            while sum(len(r) for r in rig.endpoints.received.values()) < min(total, limit + 1):
                await asyncio.sleep(0.001)
        release.set()
        await rig.attempts.until(lambda items: len(items) == total)
    finally:
        await rig.stop()
    assert max(rig.endpoints.peak.values()) <= per_subscription
    assert sum(len(r) for r in rig.endpoints.received.values()) == total


async def test_an_endpoint_at_its_limit_does_not_hold_back_another_endpoints_later_deliveries() -> None:
    release = asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(204)

    # Nothing but the dispatcher's own bookkeeping wakes it: no poll within the test.
    options = dataclasses.replace(DEFAULTS, per_subscription_concurrency=1, poll_interval=3600.0)
    rig = Harness(MemoryStore(), MemoryWebhookStore(), options)
    rig.endpoints.script[HOST] = [held]
    await rig.start()
    try:
        await rig.subscribe(HOST)  # first: its waiting delivery comes before the other's
        await rig.subscribe(OTHER)
        for _ in range(2):
            await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 2)  # both to OTHER, while HOST holds
        assert len(rig.endpoints.received[OTHER]) == 2 and len(rig.endpoints.received[HOST]) == 1
        release.set()
        await rig.attempts.until(lambda items: len(items) == 4)
    finally:
        await rig.stop()


async def test_a_dispatcher_notices_events_written_by_another_process_within_the_poll_interval() -> None:
    # Another process: its own service and notifier over the same stores, which wake no one here.
    rig = Harness(MemoryStore(), MemoryWebhookStore(), dataclasses.replace(DEFAULTS, poll_interval=0.01))
    await rig.start()
    try:
        await asyncio.sleep(0.02)  # the dispatcher looks, finds no subscription, and waits
        elsewhere = ReservationService(rig.core_store, notifier=InProcessNotifier())
        await rig.subscribe(HOST)
        rig.core = elsewhere
        written = await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
    finally:
        await rig.stop()
    (received,) = rig.endpoints.received[HOST]
    assert json.loads(received.body)["data"]["reservationId"] == written.reservation_id


class FailingOnce(MemoryWebhookStore):
    """A store whose first lease fails (a locked database, a dropped connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def lease(self, delivery_ids: Sequence[str], until: datetime) -> None:
        if not self.failures:
            self.failures += 1
            raise OSError("database is locked")
        await super().lease(delivery_ids, until)


async def test_a_failing_store_step_is_retried_after_the_poll_interval_not_the_end_of_delivery() -> None:
    store = FailingOnce()
    # One at a time per subscription: a delivery whose lease failed must give its slot back.
    options = dataclasses.replace(DEFAULTS, poll_interval=0.01, per_subscription_concurrency=1)
    rig = Harness(MemoryStore(), store, options)
    await rig.subscribe(HOST)
    await rig.start()
    try:
        await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
    finally:
        await rig.stop()
    assert store.failures == 1 and len(rig.endpoints.received[HOST]) == 1


class DisablingOnLease(MemoryWebhookStore):
    """A store where one subscription is disabled (by an operator, elsewhere) just as its delivery is
    leased, after it was read as due."""

    def __init__(self) -> None:
        super().__init__()
        self.disable = ""

    async def lease(self, delivery_ids: Sequence[str], until: datetime) -> None:
        await super().lease(delivery_ids, until)
        subscription = await self.get_subscription(self.disable)
        if subscription is not None and subscription.enabled:
            await self.update_subscription(dataclasses.replace(subscription, enabled=False))


async def test_a_subscription_disabled_as_its_delivery_starts_receives_nothing() -> None:
    store = DisablingOnLease()
    rig = Harness(MemoryStore(), store, DEFAULTS)
    await rig.start()
    try:
        disabled, _ = await rig.subscribe(HOST)
        await rig.subscribe(OTHER)
        store.disable = disabled.subscription_id
        await rig.reserve()  # one delivery to each, started together
        await rig.attempts.until(lambda items: len(items) == 1)
    finally:
        await rig.stop()
    assert len(rig.endpoints.received[OTHER]) == 1 and HOST not in rig.endpoints.received
    assert [delivery.subscription_id for delivery, _ in rig.attempts.items] != [disabled.subscription_id]
