"""Webhook delivery wiring: the options from the settings, the event notifier, and ``rosetta dispatch``.

The server (``gateway/app.py``) runs the dispatcher as background tasks of its own loop when
webhooks are enabled; ``run_dispatcher`` runs it alone, as its own process, for deployments that
deliver apart from serving (``rosetta serve --no-dispatcher`` beside ``rosetta dispatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from gateway.settings import Settings
from services.core.events import InProcessNotifier
from services.core.ports import EventNotifier, ManagedNotifier, NotifyingStore, Store
from services.core.service import ReservationService
from services.store import open_store, open_webhook_store
from services.webhooks.options import WebhookOptions

log = logging.getLogger("rosetta.webhooks")


def webhook_options(settings: Settings) -> WebhookOptions:
    return WebhookOptions(
        base_url=settings.base_url,
        allowlist=tuple(part.strip() for part in settings.webhook_allowlist.split(",") if part.strip()),
        retry_scale=settings.webhook_retry_scale,
        request_timeout=settings.webhook_timeout,
        max_concurrency=settings.webhook_concurrency,
        per_subscription_concurrency=settings.webhook_per_subscription,
        disable_after_seconds=settings.webhook_disable_after,
        rotation_overlap_seconds=settings.webhook_rotation_overlap,
    )


def open_notifier(store: Store) -> EventNotifier:
    """The store's own cross-process notifier when it has one (PostgreSQL: LISTEN/NOTIFY wakes the
    subscribers of every process); otherwise one for this process only."""
    return store.notifier() if isinstance(store, NotifyingStore) else InProcessNotifier()


async def start_notifier(notifier: EventNotifier) -> Callable[[], Awaitable[None]] | None:
    """Start a notifier that holds a connection of its own (call it after the store is open: it
    reads the migrated event head); returns how to stop it, or None when there is nothing to stop."""
    if not isinstance(notifier, ManagedNotifier):
        return None
    await notifier.start()
    return notifier.stop


async def run_dispatcher(
    settings: Settings, *, options: WebhookOptions | None = None, notifier: EventNotifier | None = None
) -> None:
    """The dispatcher alone, for ``rosetta dispatch``: until SIGINT/SIGTERM or cancellation.

    Events committed by other processes wake it through ``notifier``: by default the store's own
    (``open_notifier``), so on PostgreSQL a commit anywhere wakes it at once; on SQLite other
    writers are noticed within ``options.poll_interval``. A notifier with a connection of its own
    (a given one too) is started once the store is open and stopped on the way out.
    """
    from services.webhooks.dispatcher import Dispatcher  # httpx and the SSRF guard: only when delivering

    store = open_store(settings.db)
    webhooks = open_webhook_store(settings.db)
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as running:
        await store.open()
        running.push_async_callback(store.close)
        await webhooks.open()
        running.push_async_callback(webhooks.close)
        notifier = notifier if notifier is not None else open_notifier(store)
        stop_notifier = await start_notifier(notifier)
        if stop_notifier is not None:
            running.push_async_callback(stop_notifier)
        service = ReservationService(store, notifier=notifier)
        dispatcher = Dispatcher(service, webhooks, notifier, options or webhook_options(settings))
        await dispatcher.start()
        running.push_async_callback(dispatcher.stop)
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stopping.set)
                running.callback(loop.remove_signal_handler, signum)
        log.info("webhook dispatcher running", extra={"fields": {"db": settings.db}})
        await stopping.wait()
