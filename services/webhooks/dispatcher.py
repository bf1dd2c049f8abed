"""The dispatcher: fans the core's durable event log out to subscriptions and delivers the messages.

Two loops share the webhook store. The fan-out loop reads events after the lowest subscription
cursor (``watch_events``), writes one delivery per matching enabled subscription and raises the
cursors in the same transaction, then sleeps on the core's ``EventNotifier``. The delivery loop
starts due deliveries within the concurrency limits (global and per subscription), each one an
attempt that is recorded with its outcome; it sleeps until the next delivery is due or the store's
``WorkSignal`` fires. A crash loses nothing: cursors, deliveries and leases are in the store, and
an interrupted attempt is simply made again (at-least-once, same ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from services.core import messages
from services.core.service import ReservationService, utc_now
from services.webhooks.model import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    Attempt,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    Subscription,
    SubscriptionHealth,
    new_delivery,
    retry_delay,
)
from services.webhooks.options import WebhookOptions
from services.webhooks.ports import SharedWebhookStore, WebhookStore
from services.webhooks.service import event_payload
from services.webhooks.signing import webhook_headers
from services.webhooks.ssrf import Guard, Target, TargetRefused, system_resolver

if TYPE_CHECKING:
    from services.core.ports import EventNotifier

log = logging.getLogger("rosetta.webhooks")

USER_AGENT = "Rosetta-Webhooks/1.0"
LEASE_MARGIN = 5.0  # an attempt takes at most request_timeout; then its outcome is written
RETRY_AFTER_MAX = RETRY_DELAYS[-1]  # a Retry-After longer than the longest backoff is capped to it


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or HTTP-date), capped; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max((moment - now).total_seconds(), 0.0), RETRY_AFTER_MAX)


class _Outcome:
    __slots__ = ("error", "excerpt", "retry_after", "status_code")

    def __init__(self) -> None:
        self.status_code: int | None = None
        self.excerpt: str | None = None
        self.error: str | None = None
        # Read only with a 429 or 503 status, and _post sets it whenever it sets a status: the initial
        # value is never read (so any other is equivalent).
        self.retry_after: float | None = None  # pragma: no mutate


class Dispatcher:
    def __init__(
        self,
        service: ReservationService,
        store: WebhookStore,
        notifier: EventNotifier,
        options: WebhookOptions,
        *,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = lambda: random.uniform(0.8, 1.2),
    ) -> None:
        self._service = service
        self._store = store
        self._notifier = notifier
        self._options = options
        self._clock = clock
        self._jitter = jitter
        self._guard = Guard(options.allowlist, options.resolver or system_resolver)
        self._client: httpx.AsyncClient | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._attempts: dict[str, asyncio.Task[None]] = {}  # delivery id -> its running attempt
        self._per_subscription: Counter[str] = Counter()
        # A store shared by several dispatchers claims atomically; one that only this dispatcher
        # uses (memory, SQLite) leases what was just read as due.
        self._shared = store if isinstance(store, SharedWebhookStore) else None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        options = self._options
        # The pool's limits go to the transport: a client given a transport ignores its own ``limits``.
        transport = options.transport or httpx.AsyncHTTPTransport(
            retries=0,
            limits=httpx.Limits(
                max_connections=options.max_concurrency, max_keepalive_connections=options.max_concurrency
            ),
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,  # no proxies from the environment: they would bypass the address check
            timeout=options.request_timeout,
            headers={"user-agent": USER_AGENT},
        )
        self._loops = [
            asyncio.create_task(self._forever(self._fan_out_once), name="webhooks-fan-out"),
            asyncio.create_task(self._forever(self._deliver_once), name="webhooks-deliver"),
        ]

    async def stop(self) -> None:
        """Stop at once: attempts in flight are abandoned and made again by the next dispatcher."""
        tasks = [*self._loops, *self._attempts.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
        if self._client is not None:
            await self._client.aclose()
            # Only drops the closed client; start() makes a new one (so any other value is equivalent).
            self._client = None  # pragma: no mutate

    async def _forever(self, step: Callable[[], Any]) -> None:
        task = asyncio.current_task()
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a locked or unreachable store must not end the dispatcher
                log.exception("webhook dispatcher step failed; retrying")
                await asyncio.sleep(self._options.poll_interval)
            if task is not None and task.cancelling():
                # Python 3.11's asyncio.wait_for (used by psycopg_pool while waiting for a
                # connection) may swallow a cancellation that races a result; stop anyway.
                raise asyncio.CancelledError

    # -- fan-out -------------------------------------------------------------------------------

    async def _fan_out_once(self) -> None:
        subscriptions = await self._store.cursors()
        if not subscriptions:
            # New subscriptions start at the then-latest event, so nothing can be missed here.
            latest = await self._service.last_event_sequence()
            await self._notifier.wait_beyond(latest, self._options.poll_interval)
            return
        low = min(s.cursor for s in subscriptions)
        events = await self._service.watch_events(low, limit=self._options.batch_size)
        if not events:
            await self._notifier.wait_beyond(low, self._options.poll_interval)
            return
        now = self._clock()
        deliveries: list[Delivery] = []
        for e in events:
            wanted = [s for s in subscriptions if s.cursor < e.sequence and s.enabled and s.matches(e.type)]
            if wanted:
                payload = event_payload(e)  # once per event, not once per subscription
                deliveries += (
                    new_delivery(s.subscription_id, e.event_id, e.type, e.sequence, payload, now)
                    for s in wanted
                )
        last = events[-1].sequence
        cursors = {s.subscription_id: last for s in subscriptions if s.cursor < last}
        await self._store.enqueue(deliveries, cursors)
        if deliveries:
            self._store.signal.notify()

    # -- delivery ------------------------------------------------------------------------------

    async def _deliver_once(self) -> None:
        options = self._options
        seen = self._store.signal.generation
        blocked = False
        free = options.max_concurrency - len(self._attempts)
        if free > 0:
            now = self._clock()
            due = await self._store.due_deliveries(
                now, limit=options.max_concurrency * 4, per_subscription=options.per_subscription_concurrency
            )
            starting: list[Delivery] = []
            for delivery in due:
                if delivery.delivery_id in self._attempts:
                    blocked = True  # replayed while in flight: due again once this attempt ends
                    continue
                if (
                    len(self._attempts) + len(starting) >= options.max_concurrency
                    or self._per_subscription[delivery.subscription_id]
                    >= options.per_subscription_concurrency
                ):
                    blocked = True  # due but over a limit: a finishing attempt will wake us
                    continue
                self._per_subscription[delivery.subscription_id] += 1
                starting.append(delivery)
            if starting:
                # Leased before the attempts start, so a quick attempt's reschedule is never overwritten.
                lease = now + timedelta(seconds=options.request_timeout + LEASE_MARGIN)
                try:
                    leased = await self._lease([d.delivery_id for d in starting], now, lease)
                except BaseException:
                    for delivery in starting:
                        self._release(delivery.subscription_id)
                    raise
                for delivery in starting:
                    if delivery.delivery_id in leased:
                        self._attempts[delivery.delivery_id] = asyncio.create_task(self._attempt(delivery))
                    else:  # another dispatcher claimed it first
                        self._release(delivery.subscription_id)
        else:
            blocked = True
        timeout = options.poll_interval
        if not blocked:
            next_due = await self._store.next_due_at()
            if next_due is not None:
                timeout = min(timeout, max((next_due - self._clock()).total_seconds(), 0.0))
        if timeout > 0:
            await self._store.signal.wait(seen, timeout)

    async def _lease(self, delivery_ids: list[str], now: datetime, until: datetime) -> set[str]:
        if self._shared is not None:
            return set(await self._shared.claim(delivery_ids, now, until))
        await self._store.lease(delivery_ids, until)
        return set(delivery_ids)

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            subscription = await self._store.get_subscription(delivery.subscription_id)
            if subscription is None or not subscription.enabled:
                return
            await self._send_and_record(subscription, delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "webhook attempt failed unexpectedly", extra={"fields": {"deliveryId": delivery.delivery_id}}
            )
        finally:
            self._attempts.pop(delivery.delivery_id, None)
            self._release(delivery.subscription_id)
            self._store.signal.notify()

    def _release(self, subscription_id: str) -> None:
        self._per_subscription[subscription_id] -= 1
        if self._per_subscription[subscription_id] <= 0:
            del self._per_subscription[subscription_id]

    async def _send_and_record(self, subscription: Subscription, delivery: Delivery) -> None:
        options = self._options
        sent_at = self._clock()
        started = time.perf_counter()
        outcome = _Outcome()
        try:
            async with asyncio.timeout(options.request_timeout):
                target = await self._guard.check(subscription.url)
                await self._post(target, subscription, delivery, sent_at, outcome)
        except TargetRefused as refused:
            # The attempt log is for operators, in English like the other outcomes recorded here.
            outcome.error = "refused: " + messages.fragment(refused.reason, "en", refused.params)
        except TimeoutError:
            outcome.error = f"timed out after {options.request_timeout:g} s"
        except httpx.HTTPError as error:
            outcome.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        now = self._clock()

        number = delivery.total_attempts + 1
        attempt = Attempt(
            delivery.delivery_id,
            number,
            sent_at,
            outcome.status_code,
            latency_ms,
            outcome.error,
            outcome.excerpt,
        )
        attempts = delivery.attempts + 1
        status, next_at = DeliveryStatus.PENDING, None
        health = SubscriptionHealth(failing_since=None)
        if attempt.succeeded:
            status = DeliveryStatus.SUCCEEDED
        else:
            failing_since = subscription.failing_since or sent_at
            disabled: DisabledReason | None = None
            if outcome.status_code == 410:
                status, disabled = DeliveryStatus.FAILED, DisabledReason.ENDPOINT_GONE
            elif attempts >= MAX_ATTEMPTS:
                status = DeliveryStatus.FAILED
            else:
                delay = retry_delay(attempts, options.retry_scale, self._jitter())
                if outcome.retry_after is not None and outcome.status_code in (429, 503):
                    delay = max(delay, outcome.retry_after)
                next_at = now + timedelta(seconds=delay)
            if disabled is None and (now - failing_since).total_seconds() >= options.disable_after_seconds:
                disabled = DisabledReason.CONTINUOUS_FAILURE
            health = SubscriptionHealth(failing_since=failing_since, disabled_reason=disabled)
        changed = replace(
            delivery,
            status=status,
            attempts=attempts,
            total_attempts=number,
            next_attempt_at=next_at,
            updated_at=now,
        )
        await self._store.record_attempt(changed, attempt, health)
        log.info(
            "webhook attempt",
            extra={
                "fields": {
                    "subscriptionId": subscription.subscription_id,
                    "deliveryId": delivery.delivery_id,
                    "attempt": number,
                    "statusCode": outcome.status_code,
                    "error": outcome.error,
                    "latencyMs": latency_ms,
                    "deliveryStatus": status.value,
                }
            },
        )
        if options.on_attempt is not None:
            options.on_attempt(changed, attempt)

    async def _post(
        self,
        target: Target,
        subscription: Subscription,
        delivery: Delivery,
        sent_at: datetime,
        outcome: _Outcome,
    ) -> None:
        assert self._client is not None
        headers = webhook_headers(
            subscription.signing_secrets(sent_at), delivery.delivery_id, sent_at, delivery.payload
        )
        headers["content-type"] = "application/json"
        url = httpx.URL(target.url)
        extensions: dict[str, Any] = {}
        if url.host != target.address:
            # Connect to the address that was checked, not to whatever DNS answers next.
            headers["host"] = url.netloc.decode("ascii")  # host[:port]: httpx keeps userinfo apart
            if url.scheme == "https":
                extensions["sni_hostname"] = target.host
            url = url.copy_with(host=target.address)
        async with self._client.stream(
            "POST", url, content=delivery.payload.encode(), headers=headers, extensions=extensions
        ) as response:
            outcome.status_code = response.status_code
            outcome.retry_after = parse_retry_after(response.headers.get("retry-after"), sent_at)
            excerpt = bytearray()
            async for chunk in response.aiter_bytes():
                excerpt += chunk
                if len(excerpt) >= self._options.response_excerpt_bytes:
                    break
            if excerpt:
                outcome.excerpt = bytes(excerpt[: self._options.response_excerpt_bytes]).decode(
                    "utf-8", errors="replace"
                )
