"""The PostgreSQL webhook store: what several dispatchers sharing one database rely on.

Claims (``FOR UPDATE SKIP LOCKED`` leases), wake-ups across processes (LISTEN/NOTIFY), two
dispatchers sharing a burst, and a dispatcher process killed mid-burst. Every test works in a
fresh schema of the local database (``ROSETTA_TEST_PG_DSN``), dropped afterwards; the port's
common behaviour runs here too through the parametrized fixtures of test_store and test_dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from gateway.dispatch import run_dispatcher
from gateway.settings import Settings
from services.core.service import ReservationService, utc_now
from services.store import open_webhook_store
from services.store.reservations.pg_migrations import LATEST_VERSION as CORE_VERSION
from services.store.reservations.pg_notifier import PgNotifier
from services.store.webhooks.pg_migrations import LATEST_VERSION
from services.store.webhooks.postgres import PostgresWebhookStore
from services.webhooks.model import DeliveryStatus, message_id, new_delivery
from services.webhooks.options import WebhookOptions
from services.webhooks.service import WebhookService
from services.webhooks.ssrf import Guard
from tests.webhooks.conftest import DEFAULTS, PG_DSN, Harness, postgres_stores, serve_in_thread
from tests.webhooks.test_store import subscription

ROOT = Path(__file__).resolve().parents[2]
NOW = utc_now()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Await a condition the database reports."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


async def all_succeeded(store: PostgresWebhookStore, subscription_id: str, count: int) -> bool:
    _, total = await store.list_deliveries(subscription_id, DeliveryStatus.SUCCEEDED, 0, 1)
    return total == count


def rows(schema: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(PG_DSN, autocommit=True, options=f"-c search_path={schema}") as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
async def stores(pg_schema: str) -> AsyncIterator[tuple[PostgresWebhookStore, PostgresWebhookStore]]:
    """Two stores over one schema, as two dispatcher processes would hold them."""
    first = PostgresWebhookStore(PG_DSN, schema=pg_schema)
    second = PostgresWebhookStore(PG_DSN, schema=pg_schema)
    await asyncio.gather(first.open(), second.open())  # two migrators at once: the lock serializes them
    yield first, second
    await first.close()
    await second.close()


# -- schema and wiring ------------------------------------------------------------------


async def test_the_webhook_tables_are_versioned_beside_the_core_schema(pg_schema: str) -> None:
    core, webhooks = postgres_stores(pg_schema)
    await core.open()
    await webhooks.open()
    await webhooks.add_subscription(subscription("whs_a"))
    await webhooks.close()
    again = PostgresWebhookStore(PG_DSN, schema=pg_schema)  # reopening migrates nothing twice
    await again.open()
    assert [s.subscription_id for s in (await again.list_subscriptions(0, 10))[0]] == ["whs_a"]
    await again.close()
    await core.close()
    assert rows(pg_schema, "SELECT version FROM webhook_schema_migrations") == [(LATEST_VERSION,)]
    core_versions = rows(pg_schema, "SELECT version FROM schema_migrations ORDER BY version")
    assert core_versions == [(v,) for v in range(1, CORE_VERSION + 1)]  # still the core's own


async def test_store_urls_name_the_same_database_and_schema_as_the_core(pg_schema: str) -> None:
    store = open_webhook_store(f"{PG_DSN}?schema={pg_schema}")
    assert isinstance(store, PostgresWebhookStore)
    assert store.schema == pg_schema and store.dsn == PG_DSN
    # Never opened (a process serving only the management API): the first call migrates.
    await store.add_subscription(subscription("whs_a"))
    assert (await store.get_subscription("whs_a")) == subscription("whs_a")
    await store.close()


async def test_creation_order_survives_concurrent_writers(
    stores: tuple[PostgresWebhookStore, PostgresWebhookStore],
) -> None:
    first, second = stores
    names = [f"whs_{n:02d}" for n in range(20)]
    adding = (stores[n % 2].add_subscription(subscription(name)) for n, name in enumerate(names))
    await asyncio.gather(*adding)
    page, total = await first.list_subscriptions(0, 100)
    assert total == 20 and sorted(s.subscription_id for s in page) == names
    assert (await second.list_subscriptions(0, 100))[0] == page  # one order, whoever reads it
    assert await first.list_subscriptions(40, 10) == ([], 20)


# -- claims -------------------------------------------------------------------------------


async def enqueue_due(store: PostgresWebhookStore, count: int) -> list[str]:
    await store.add_subscription(subscription("whs_a"))
    deliveries = [
        new_delivery("whs_a", f"evt_{n}", "reservation.created", n, "{}", NOW) for n in range(count)
    ]
    await store.enqueue(deliveries, {})
    return [d.delivery_id for d in deliveries]


async def test_of_two_dispatchers_claiming_at_once_each_message_goes_to_exactly_one(
    stores: tuple[PostgresWebhookStore, PostgresWebhookStore],
) -> None:
    first, second = stores
    ids = await enqueue_due(first, 40)
    now, lease = NOW, timedelta(seconds=15)
    for _ in range(5):  # the same ids raced again and again
        mine, theirs = await asyncio.gather(
            first.claim(ids, now, now + lease), second.claim(ids, now, now + lease)
        )
        assert set(mine).isdisjoint(theirs) and sorted(mine + theirs) == sorted(ids)
        assert await first.claim(ids, now + lease / 2, now + lease) == []  # leased: hidden until it ends
        now += lease  # the leases end (their holders died): every message is due again


async def test_a_claim_skips_a_message_being_claimed_elsewhere_instead_of_waiting(
    stores: tuple[PostgresWebhookStore, PostgresWebhookStore], pg_schema: str
) -> None:
    first, second = stores
    held, free = await enqueue_due(first, 2)
    options = f"-c search_path={pg_schema}"
    async with await psycopg.AsyncConnection.connect(PG_DSN, options=options) as other:
        # Another dispatcher mid-claim: its transaction holds the row lock.
        await other.execute("SELECT 1 FROM webhook_deliveries WHERE delivery_id = %s FOR UPDATE", (held,))
        async with asyncio.timeout(2):
            assert await second.claim([held, free], NOW, NOW + timedelta(seconds=15)) == [free]
        await other.rollback()
    assert await second.claim([held, free], NOW, NOW + timedelta(seconds=15)) == [held]


async def test_a_lease_hides_a_message_until_it_ends(
    stores: tuple[PostgresWebhookStore, PostgresWebhookStore],
) -> None:
    first, second = stores
    (delivery_id,) = await enqueue_due(first, 1)
    until = NOW + timedelta(seconds=15)
    assert await first.claim([delivery_id], NOW, until) == [delivery_id]
    assert await second.due_deliveries(NOW + timedelta(seconds=14), 10, 10) == []
    assert await second.next_due_at() == until  # when a dispatcher that died would be covered
    (due,) = await second.due_deliveries(until, 10, 10)
    assert await second.claim([due.delivery_id], until, until + timedelta(seconds=15)) == [delivery_id]


# -- wake-ups across processes ------------------------------------------------------------


async def test_work_queued_elsewhere_wakes_the_store_even_after_its_listener_was_cut(
    stores: tuple[PostgresWebhookStore, PostgresWebhookStore], pg_schema: str
) -> None:
    dispatching, managing = stores
    await managing.add_subscription(subscription("whs_a"))
    seen = dispatching.signal.generation
    ping = new_delivery("whs_a", "evt_ping", "webhook.ping", None, "{}", NOW)
    await managing.enqueue([ping], {})
    assert await dispatching.signal.wait(seen, timeout=5)
    seen = managing.signal.generation
    assert not await managing.signal.wait(seen, timeout=0.2)  # its own NOTIFY: already signalled in-process

    cut = dispatching.listener_pid
    assert rows(pg_schema, f"SELECT pg_terminate_backend({cut})") == [(True,)]
    seen = dispatching.signal.generation
    assert await dispatching.signal.wait(seen, timeout=5)  # reconnected: anything may have been missed
    assert dispatching.listener_pid not in (None, cut)
    seen = dispatching.signal.generation
    await managing.requeue("whs_a", ping.delivery_id, NOW)
    assert await dispatching.signal.wait(seen, timeout=5)


@pytest.mark.parametrize("notifier", ["the store's", "given"])
async def test_the_standalone_dispatcher_is_woken_by_commits_elsewhere_not_by_polling(
    pg_schema: str, notifier: str
) -> None:
    """``rosetta dispatch`` on PostgreSQL: events committed elsewhere wake it through a
    ``PgNotifier`` (its store's by default), pings and replays accepted elsewhere through the
    work channel."""
    writer = Harness(*postgres_stores(pg_schema), DEFAULTS)  # another process's stores: never LISTENing
    await writer.core_store.open()
    subscription_, _ = await writer.subscribe()
    options = dataclasses.replace(writer.options, poll_interval=60.0)  # the tests end long before
    given = PgNotifier(PG_DSN, schema=pg_schema) if notifier == "given" else None
    url = f"{PG_DSN}?schema={pg_schema}"
    task = asyncio.create_task(run_dispatcher(Settings(db=url), options=options, notifier=given))
    try:
        ping = await writer.webhooks.ping(subscription_.subscription_id)
        await writer.attempts.until(lambda items: len(items) == 1, timeout=20)  # it is up and idle
        reservation = await writer.reserve()
        await writer.attempts.until(lambda items: len(items) == 2)
        await writer.webhooks.replay(subscription_.subscription_id, ping.delivery_id)
        await writer.attempts.until(lambda items: len(items) == 3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await writer.store.close()
        await writer.core_store.close()
    assert given is None or given.backend_pid is None  # stopped with the dispatcher
    types = [json.loads(r.body)["type"] for r in writer.endpoints.received["hooks.example.com"]]
    assert types == ["webhook.ping", "reservation.created", "webhook.ping"]
    body = json.loads(writer.endpoints.received["hooks.example.com"][1].body)
    assert body["data"]["reservationId"] == reservation.reservation_id
    assert all(d.status is DeliveryStatus.SUCCEEDED for d, _ in writer.attempts.items)


# -- two dispatchers, one burst ---------------------------------------------------------


class Receiver:
    """One webhook endpoint shared by every dispatcher: records each webhook-id it receives, and
    every moment one is received while an earlier copy of it is still being handled."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.delivered: Counter[str] = Counter()
        self.by: Counter[str] = Counter()  # deliveries per dispatcher (in-process ones)
        self.in_flight: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.hold_at: int | None = None  # this many in flight at once: hold every request ...
        self.holding = asyncio.Event()  # ... and say so ...
        self._gate = threading.Event()  # ... until ``let_go()``
        self._gate.set()
        self._lock = threading.Lock()  # the real receiver runs in uvicorn's thread
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()

    def arrived(self, webhook_id: str, by: str = "") -> None:
        with self._lock:
            if self.in_flight[webhook_id]:
                self.overlaps.append(webhook_id)
            self.in_flight[webhook_id] += 1
            self.delivered[webhook_id] += 1
            self.by[by] += 1
            if self.hold_at is not None and sum(self.in_flight.values()) >= self.hold_at:
                self.hold_at = None
                self._gate.clear()
                self._loop.call_soon_threadsafe(self.holding.set)
        self._loop.call_soon_threadsafe(self._changed.set)

    def left(self, webhook_id: str) -> None:
        with self._lock:
            self.in_flight[webhook_id] -= 1

    def let_go(self) -> None:
        self._gate.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def transport(self, by: str) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            webhook_id = request.headers["webhook-id"]
            self.arrived(webhook_id, by)
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.left(webhook_id)
            return httpx.Response(204)

        return httpx.MockTransport(handle)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The same endpoint as an ASGI app, for dispatchers in other processes."""
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        webhook_id = dict(scope["headers"])[b"webhook-id"].decode()
        self.arrived(webhook_id)
        try:
            await asyncio.sleep(self.delay)
            if not self._gate.is_set():
                await asyncio.get_running_loop().run_in_executor(None, self._gate.wait)
        finally:
            self.left(webhook_id)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def dispatchers(
    schema: str, receiver: Receiver, options: WebhookOptions, names: tuple[str, ...]
) -> AsyncIterator[list[Harness]]:
    """Dispatchers sharing one schema, each with its own pools and LISTEN connections, and one
    attempt log."""
    rigs: list[Harness] = []
    notifiers: list[PgNotifier] = []
    try:
        for name in names:
            core_store, webhook_store = postgres_stores(schema)
            await core_store.open()
            await webhook_store.open()
            notifier = core_store.notifier()
            await notifier.start()
            notifiers.append(notifier)
            rig = Harness(core_store, webhook_store, options, notifier=notifier)
            rigs.append(rig)
            if len(rigs) > 1:
                rig.attempts = rigs[0].attempts
            rig.options = dataclasses.replace(
                rig.options, transport=receiver.transport(name), on_attempt=rig.attempts
            )
            await rig.start()
        yield rigs
    finally:
        for rig, rig_notifier in zip(rigs, notifiers, strict=False):
            await rig.stop()
            await rig_notifier.stop()
            await rig.store.close()
            await rig.core_store.close()


async def expected_ids(core: ReservationService, subscription_id: str) -> set[str]:
    return {message_id(e.event_id, subscription_id) for e in await core.watch_events(0, limit=1000)}


async def test_two_dispatchers_share_a_burst_each_message_once_and_never_concurrently(
    pg_schema: str,
) -> None:
    receiver = Receiver(delay=0.002)
    options = dataclasses.replace(DEFAULTS, max_concurrency=4, per_subscription_concurrency=2)
    async with dispatchers(pg_schema, receiver, options, ("a", "b")) as (a, b):
        subscription_, _ = await a.subscribe()
        for _ in range(100):
            await a.reserve()
        expected = await expected_ids(a.core, subscription_.subscription_id)
        await a.attempts.until(lambda items: len(items) >= 100, timeout=30)  # b's are logged there too
    assert len(expected) == 100 and receiver.delivered.keys() == expected
    assert receiver.overlaps == []
    assert set(receiver.delivered.values()) == {1}  # no crash, no retry: each message exactly once
    assert receiver.by["a"] > 0 and receiver.by["b"] > 0  # both took part
    assert receiver.by["a"] + receiver.by["b"] == 100


DISPATCHER_PROCESS = """
import asyncio, logging, sys
from gateway.dispatch import run_dispatcher
from gateway.settings import Settings
from services.webhooks.options import WebhookOptions

class Ready(logging.Filter):
    def filter(self, record):
        return record.getMessage() == "webhook dispatcher running"

handler = logging.StreamHandler(sys.stdout)
handler.addFilter(Ready())
logging.getLogger("rosetta.webhooks").addHandler(handler)
logging.getLogger("rosetta.webhooks").setLevel(logging.INFO)
options = WebhookOptions(
    allowlist=("127.0.0.1",), retry_scale=0.0001,
    max_concurrency=4, per_subscription_concurrency=4, poll_interval=60.0, request_timeout=2.0,
)
asyncio.run(run_dispatcher(Settings(db=sys.argv[1]), options=options))
"""


@contextlib.contextmanager
def dispatcher_process(db_url: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", DISPATCHER_PROCESS, db_url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


async def ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    async with asyncio.timeout(30):
        line = await asyncio.to_thread(process.stdout.readline)
    assert line.strip() == "webhook dispatcher running", line


async def test_a_dispatcher_process_killed_mid_burst_loses_nothing(pg_schema: str) -> None:
    """Two ``rosetta dispatch`` processes and a real receiver; one is SIGKILLed while it has
    messages in flight. The survivor sends those again once their leases end (at-least-once,
    same webhook-id), never while a copy is still in flight, and every message arrives."""
    url = f"{PG_DSN}?schema={pg_schema}"
    # Each request takes long enough (0.1 s) that the first dispatcher to lease is still busy with
    # its four when the second leases: with a quicker receiver one busy process could deliver the
    # whole burst alone on a loaded machine, and more than four would never be in flight at once.
    receiver = Receiver(delay=0.1)
    receiver.hold_at = 5
    core_store, webhook_store = postgres_stores(pg_schema)
    await core_store.open()
    writer = Harness(core_store, webhook_store, DEFAULTS)
    management = WebhookService(
        webhook_store, Guard(("127.0.0.1",)), writer.core.last_event_sequence, rotation_overlap_seconds=0
    )
    try:
        with serve_in_thread(receiver) as base_url, dispatcher_process(url) as doomed:
            subscription_, _ = await management.create_subscription(url=f"{base_url}/hooks")
            with dispatcher_process(url) as survivor:
                await asyncio.gather(ready(doomed), ready(survivor))
                for _ in range(100):
                    await writer.reserve()
                expected = await expected_ids(writer.core, subscription_.subscription_id)
                # Held at more in flight than one dispatcher may have (4): the doomed one has some.
                async with asyncio.timeout(60):  # fail saying so, rather than at the suite's timeout
                    await receiver.holding.wait()
                doomed.send_signal(signal.SIGKILL)
                await asyncio.to_thread(doomed.wait, 10)
                receiver.let_go()
                # Done when every message is recorded as delivered (the receiver cannot tell: it
                # saw the killed process's copies, whose answers went nowhere).
                await until(
                    lambda: all_succeeded(webhook_store, subscription_.subscription_id, 100), timeout=30
                )
                survivor.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(survivor.wait, 10) == 0  # a graceful stop
        assert doomed.returncode == -signal.SIGKILL
    finally:
        await webhook_store.close()
        await core_store.close()
    assert receiver.delivered.keys() == expected and len(expected) == 100
    assert receiver.overlaps == []
    resent = [webhook_id for webhook_id, count in receiver.delivered.items() if count > 1]
    assert resent  # what the killed process had in flight was sent again by the survivor
