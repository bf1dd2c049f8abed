"""Fixtures for the webhook tests: the core in-process, a scripted endpoint behind MockTransport,
and a real receiver (the inspector) under uvicorn on a free port.

The PostgreSQL variants work in a fresh schema of the local database (``ROSETTA_TEST_PG_DSN``,
default ``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.core.events import InProcessNotifier
from services.core.model import Reservation, ReservationDraft
from services.core.ports import EventNotifier
from services.core.service import ReservationService, utc_now
from services.store import MemoryStore, SqliteStore
from services.store.reservations.postgres import PostgresStore
from services.store.webhooks.memory import MemoryWebhookStore
from services.store.webhooks.postgres import PostgresWebhookStore
from services.store.webhooks.sqlite import SqliteWebhookStore
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.model import Attempt, Delivery, Subscription
from services.webhooks.options import WebhookOptions
from services.webhooks.ports import WebhookStore
from services.webhooks.service import WebhookService
from services.webhooks.ssrf import Guard
from tests.support.postgres import fresh_schema
from tests.support.server import serve_app

PG_DSN = os.environ.get("ROSETTA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PUBLIC = {"hooks.example.com": "93.184.216.34", "other.example.com": "93.184.216.35"}

Reply = httpx.Response | Callable[[httpx.Request], Awaitable[httpx.Response]]


class FakeDns:
    """A resolver whose answers the test controls (e.g. to rebind a name to a private address)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {host: [ip] for host, ip in PUBLIC.items()}

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise OSError(f"unknown host {host}")
        return self.answers[host]


@dataclasses.dataclass
class Received:
    request: httpx.Request
    body: bytes
    at: float  # time.monotonic()

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.request.headers)


class Endpoints:
    """Scripted webhook endpoints behind httpx.MockTransport, told apart by their Host header.

    ``script[host]`` is a list of replies used in turn (the last one repeats); a reply is a
    response or an async callable (e.g. one that blocks until the test releases it).
    """

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.received: dict[str, list[Received]] = {}
        self.active: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]
        body = await request.aread()
        self.received.setdefault(host, []).append(Received(request, body, time.monotonic()))
        replies = self.script.get(host) or [httpx.Response(204)]
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        self.active[host] = self.active.get(host, 0) + 1
        self.peak[host] = max(self.peak.get(host, 0), self.active[host])
        try:
            return reply if isinstance(reply, httpx.Response) else await reply(request)
        finally:
            self.active[host] -= 1

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


class AttemptLog:
    """The dispatcher's ``on_attempt`` hook: lets a test await a condition instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[tuple[Delivery, Attempt]] = []
        self._changed = asyncio.Event()

    def __call__(self, delivery: Delivery, attempt: Attempt) -> None:
        self.items.append((delivery, attempt))
        self._changed.set()

    def of(self, delivery_id: str) -> list[tuple[Delivery, Attempt]]:
        return [item for item in self.items if item[0].delivery_id == delivery_id]

    async def until(
        self, predicate: Callable[[list[tuple[Delivery, Attempt]]], bool], timeout: float = 5.0
    ) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.items):
                self._changed.clear()
                await self._changed.wait()


class Harness:
    """The core, the webhook store and service, and a running dispatcher with injected HTTP and DNS."""

    def __init__(
        self,
        core_store: Any,
        webhook_store: WebhookStore,
        options: WebhookOptions,
        notifier: EventNotifier | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.dns = FakeDns()
        self.clock = clock  # the dispatcher's
        self.endpoints = Endpoints()
        self.attempts = AttemptLog()
        self.notifier = notifier or InProcessNotifier()
        self.core_store = core_store
        self.core = ReservationService(core_store, notifier=self.notifier)
        self.store = webhook_store
        self.options = dataclasses.replace(
            options,
            transport=self.endpoints.transport(),
            resolver=self.dns,
            on_attempt=self.attempts,
        )
        self.webhooks = WebhookService(
            webhook_store,
            Guard(self.options.allowlist, self.dns),
            self.core.last_event_sequence,
            rotation_overlap_seconds=self.options.rotation_overlap_seconds,
        )
        self._stop: Callable[[], Awaitable[None]] | None = None
        self._slot = 0

    async def start(self) -> None:
        dispatcher = Dispatcher(self.core, self.store, self.notifier, self.options, clock=self.clock)
        await dispatcher.start()
        self._stop = dispatcher.stop

    async def stop(self) -> None:
        if self._stop is not None:
            await self._stop()
            self._stop = None

    async def subscribe(self, host: str = "hooks.example.com", **fields: Any) -> tuple[Subscription, str]:
        return await self.webhooks.create_subscription(url=f"https://{host}/hooks", **fields)

    async def reserve(self) -> Reservation:
        """A new reservation (one event), each in its own hour so they never conflict."""
        self._slot += 1
        day, hour = divmod(self._slot, 12)
        draft = ReservationDraft(
            room_id="room-c",
            guest_name="Grace",
            date=f"2031-03-{day + 1:02d}",
            start_time=f"{hour + 8:02d}:00",
            end_time=f"{hour + 8:02d}:30",
            attendees=3,
        )
        return await self.core.create_reservation(draft)


DEFAULTS = WebhookOptions(
    base_url="http://testserver",
    retry_scale=0.0001,
    request_timeout=5.0,
    max_concurrency=8,
    per_subscription_concurrency=2,
    rotation_overlap_seconds=3600.0,
)


@pytest.fixture
def options() -> WebhookOptions:
    """Override in a test module (or parametrize indirectly) to change the dispatcher's options."""
    return DEFAULTS


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def harness(
    request: pytest.FixtureRequest, options: WebhookOptions, tmp_path: Path
) -> AsyncIterator[Harness]:
    """A running dispatcher over each webhook store: what holds for one must hold for the others."""
    if request.param == "memory":
        core_store: Any = MemoryStore()
        webhook_store: WebhookStore = MemoryWebhookStore()
    elif request.param == "sqlite":
        core_store, webhook_store = sqlite_stores(tmp_path / "rosetta.db")
    else:
        core_store, webhook_store = postgres_stores(request.getfixturevalue("pg_schema"))
    await core_store.open()
    await webhook_store.open()
    rig = Harness(core_store, webhook_store, options)
    await rig.start()
    yield rig
    await rig.stop()
    await webhook_store.close()
    await core_store.close()


def sqlite_stores(path: Path) -> tuple[SqliteStore, SqliteWebhookStore]:
    return SqliteStore(path), SqliteWebhookStore(path)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """The name of a fresh schema of the test database (the stores create it), dropped afterwards."""
    with fresh_schema("rosetta_wh", create=False) as name:
        yield name


def postgres_stores(schema: str) -> tuple[PostgresStore, PostgresWebhookStore]:
    """The core's store and the webhook store of one deployment: one database, one schema."""
    return PostgresStore(PG_DSN, schema=schema), PostgresWebhookStore(PG_DSN, schema=schema)


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on a free port in a thread; yields its base URL."""
    with serve_app(app) as port:
        yield f"http://127.0.0.1:{port}"
