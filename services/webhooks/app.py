"""Entry points the gateway calls: the webhook options and store, and the dispatcher.

``start_dispatcher`` runs the dispatcher as a background task of the serving process;
``run_dispatcher_forever`` runs it alone (``rosetta dispatch``). The management API at
``/api/v1/webhook-subscriptions`` is ``services.webhooks.api``, served by the REST app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from services.core.ports import EventNotifier
from services.core.service import ReservationService
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.model import Attempt, Delivery
from services.webhooks.ports import WebhookStore
from services.webhooks.ssrf import Resolver

log = logging.getLogger("rosetta.webhooks")

PREFIX = "/api/v1/webhook-subscriptions"
JSON = "application/json"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class WebhookOptions:
    base_url: str = "http://127.0.0.1:8000"
    allowlist: tuple[str, ...] = ()  # hosts or CIDRs that may be targeted despite the SSRF guard
    retry_scale: float = 1.0  # multiplies the retry schedule (tests: 0.001 or less)
    request_timeout: float = 10.0
    max_concurrency: int = 16
    per_subscription_concurrency: int = 2
    disable_after_seconds: float = 5 * 24 * 3600.0
    rotation_overlap_seconds: float = 24 * 3600.0
    transport: httpx.AsyncBaseTransport | None = None  # injected outbound HTTP (tests: MockTransport)
    resolver: Resolver | None = None  # injected DNS (tests); None: the system resolver
    poll_interval: float = 1.0  # longest sleep without a wake-up (covers writers in other processes)
    batch_size: int = 100  # events read per fan-out step
    max_body_bytes: int = 256 * 1024
    response_excerpt_bytes: int = 1024
    on_attempt: Callable[[Delivery, Attempt], None] | None = None  # observer hook (metrics, tests)


def open_webhook_store(url: str) -> WebhookStore:
    """``memory://``, ``sqlite:///path`` or ``postgresql://…[?schema=name]``: the same file, or database
    and schema, as the core's store; not yet opened."""
    from services.store.webhooks.memory import MemoryWebhookStore
    from services.store.webhooks.sqlite import SqliteWebhookStore

    if url.startswith(("postgresql://", "postgres://")):
        from services.store import split_schema
        from services.store.webhooks.postgres import PostgresWebhookStore  # psycopg only when used

        dsn, schema = split_schema(url)
        return PostgresWebhookStore(dsn, schema=schema)
    if url.startswith("memory:"):
        return MemoryWebhookStore()
    if url.startswith("sqlite:///"):
        return SqliteWebhookStore(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return SqliteWebhookStore(url.removeprefix("sqlite:"))
    if "://" not in url:
        return SqliteWebhookStore(url)
    raise ValueError(
        f"unsupported webhook store URL: {url!r} (use memory://, sqlite:///path or postgresql://user@host/db)"
    )


async def start_dispatcher(
    service: ReservationService, store: WebhookStore, notifier: EventNotifier, options: WebhookOptions
) -> Callable[[], Awaitable[None]]:
    """Start the dispatcher as background tasks of the running loop; ``await stop()`` stops it."""
    dispatcher = Dispatcher(service, store, notifier, options)
    await dispatcher.start()
    return dispatcher.stop


async def run_dispatcher_forever(
    db_url: str, options: WebhookOptions, *, notifier: EventNotifier | None = None
) -> None:
    """The dispatcher alone, for ``rosetta dispatch``: until SIGINT/SIGTERM or cancellation.

    Events committed by other processes wake it through ``notifier``. By default that is the
    store's own cross-process notifier when it has one (PostgreSQL: ``PostgresStore.notifier()``,
    LISTEN/NOTIFY), so a commit anywhere wakes it at once; otherwise an in-process notifier, and
    other writers are noticed within ``options.poll_interval``. A notifier with ``start``/``stop``
    (``PgNotifier``; a given one too) is started once the store is open and stopped on the way out.
    """
    from services.core.events import InProcessNotifier
    from services.store import open_store

    store = open_store(db_url)
    webhooks = open_webhook_store(db_url)
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as running:
        await store.open()
        running.push_async_callback(store.close)
        await webhooks.open()
        running.push_async_callback(webhooks.close)
        if notifier is None:
            make_notifier = getattr(store, "notifier", None)
            notifier = make_notifier() if callable(make_notifier) else InProcessNotifier()
        start_notifier = getattr(notifier, "start", None)
        stop_notifier = getattr(notifier, "stop", None)
        if start_notifier is not None and stop_notifier is not None:
            await start_notifier()  # after store.open(): it reads the migrated event head
            running.push_async_callback(stop_notifier)
        service = ReservationService(store, notifier=notifier)
        running.push_async_callback(await start_dispatcher(service, webhooks, notifier, options))
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stopping.set)
                running.callback(loop.remove_signal_handler, signum)
        log.info("webhook dispatcher running", extra={"fields": {"db": db_url}})
        await stopping.wait()
