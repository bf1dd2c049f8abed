"""What one delivery attempt sends and what it records, against scripted endpoints on the memory store:
the request a receiver sees (Host, TLS server name, headers, body), and the outcome an operator reads
afterwards (status, excerpt, error, when the next attempt is due, whether the subscription is disabled).

Each test waits for the attempts it makes, never for a retry: a retry's time is read from the record."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from services.core.service import utc_now
from services.store import MemoryStore
from services.store.webhooks.memory import MemoryWebhookStore
from services.webhooks.dispatcher import USER_AGENT
from services.webhooks.model import DeliveryStatus, DisabledReason
from tests.webhooks.conftest import DEFAULTS, Harness, Received

HOST = "hooks.example.com"
ADDRESS = "93.184.216.34"
FROZEN = utc_now()
TIMEOUT = 1.0  # request_timeout where a mutant's wrong wait would otherwise last DEFAULTS' 5 s


@asynccontextmanager
async def running(clock: Callable[[], datetime] = utc_now, **changes: Any) -> AsyncIterator[Harness]:
    """A dispatcher over the memory stores, with DEFAULTS changed as given."""
    rig = Harness(MemoryStore(), MemoryWebhookStore(), dataclasses.replace(DEFAULTS, **changes), clock=clock)
    await rig.core_store.open()
    await rig.store.open()
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()
        await rig.store.close()
        await rig.core_store.close()


async def deliver_once(rig: Harness, url: str) -> Received:
    """Subscribe ``url``, write one event, and return the request its first attempt sent."""
    await rig.webhooks.create_subscription(url=url)
    await rig.reserve()
    await rig.attempts.until(lambda items: len(items) >= 1)
    (received, *_) = [r for requests in rig.endpoints.received.values() for r in requests]
    return received


# -- the request ---------------------------------------------------------------------------------


async def test_an_https_delivery_names_the_host_in_host_and_in_the_tls_server_name() -> None:
    async with running() as rig:
        received = await deliver_once(rig, f"https://{HOST}/hooks?topic=rooms")
    request = received.request
    # The connection goes to the checked address; the certificate must still be the host's.
    assert (request.url.scheme, request.url.host, request.url.port) == ("https", ADDRESS, None)
    assert (request.url.path, request.url.query) == ("/hooks", b"topic=rooms")
    assert request.headers["host"] == HOST
    assert request.extensions.get("sni_hostname") == HOST


async def test_a_non_default_port_stays_in_the_host_header_and_the_connection() -> None:
    async with running() as rig:
        received = await deliver_once(rig, f"https://{HOST}:8443/hooks")
    assert received.request.headers["host"] == f"{HOST}:8443"
    assert (received.request.url.host, received.request.url.port) == (ADDRESS, 8443)


async def test_credentials_in_the_url_are_not_sent_in_the_host_header() -> None:
    async with running() as rig:
        received = await deliver_once(rig, f"https://user:secret@{HOST}/hooks")
    assert received.request.headers["host"] == HOST


async def test_a_plain_http_delivery_sets_no_tls_server_name() -> None:
    async with running() as rig:
        received = await deliver_once(rig, f"http://{HOST}/hooks")
    assert received.request.headers["host"] == HOST
    assert (received.request.url.scheme, received.request.url.host) == ("http", ADDRESS)
    assert "sni_hostname" not in received.request.extensions


async def test_a_delivery_is_a_json_post_saying_who_sends_it() -> None:
    async with running() as rig:
        received = await deliver_once(rig, f"https://{HOST}/hooks")
    assert received.request.method == "POST"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == USER_AGENT
    assert received.body.startswith(b'{"type":"reservation.created"')


# -- what an attempt records ---------------------------------------------------------------------


def chunked(body: bytes, size: int) -> httpx.Response:
    """A response whose body arrives in chunks of ``size`` bytes."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return httpx.Response(500, content=chunks())


@pytest.mark.parametrize(
    ("reply", "excerpt"),
    [
        (httpx.Response(500, text="x" * 40), "x" * 16),
        (chunked(b"abcdefghij" * 4, 5), "abcdefghijabcdef"),
        (httpx.Response(500, text="short"), "short"),
        (httpx.Response(500, content=b"bad \xff byte"), "bad \ufffd byte"),
        (httpx.Response(500), None),
    ],
)
async def test_the_response_excerpt_is_the_start_of_the_body_up_to_the_limit(
    reply: httpx.Response, excerpt: str | None
) -> None:
    async with running(response_excerpt_bytes=16) as rig:
        rig.endpoints.script[HOST] = [reply]
        await deliver_once(rig, f"https://{HOST}/hooks")
    (_, attempt), *_ = rig.attempts.items
    assert (attempt.status_code, attempt.response_excerpt) == (500, excerpt)


async def test_an_answer_whose_body_stalls_once_the_excerpt_is_full_is_recorded_without_waiting() -> None:
    async def stalls() -> AsyncIterator[bytes]:
        yield b"accepted, thanks"  # 16 bytes: the whole excerpt
        await asyncio.Event().wait()
        yield b"never"

    async with running(response_excerpt_bytes=16, request_timeout=TIMEOUT) as rig:
        rig.endpoints.script[HOST] = [httpx.Response(200, content=stalls())]
        await deliver_once(rig, f"https://{HOST}/hooks")
    delivery, attempt = rig.attempts.items[0]
    assert (attempt.status_code, attempt.error, attempt.response_excerpt) == (200, None, "accepted, thanks")
    assert delivery.status is DeliveryStatus.SUCCEEDED


async def test_an_endpoint_that_does_not_answer_in_time_is_a_timeout() -> None:
    async def silent(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with running(request_timeout=0.05) as rig:
        rig.endpoints.script[HOST] = [silent]
        await deliver_once(rig, f"https://{HOST}/hooks")
    delivery, attempt = rig.attempts.items[0]
    assert (attempt.status_code, attempt.error) == (None, "timed out after 0.05 s")
    assert delivery.status is DeliveryStatus.PENDING


def failing(error: Exception) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    async def reply(request: httpx.Request) -> httpx.Response:
        raise error

    return reply


async def test_the_latency_recorded_is_how_long_the_endpoint_took_in_milliseconds() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(204)

    async with running() as rig:
        rig.endpoints.script[HOST] = [slow]
        await deliver_once(rig, f"https://{HOST}/hooks")
    (_, attempt), *_ = rig.attempts.items
    # At least the endpoint's 50 ms; less than the attempt's deadline, which it met (a 204, no error).
    assert attempt.status_code == 204 and 50 <= attempt.latency_ms < DEFAULTS.request_timeout * 1000


@pytest.mark.parametrize(
    ("error", "recorded"),
    [
        (httpx.ConnectError("connection refused"), "ConnectError: connection refused"),
        (httpx.RemoteProtocolError(""), "RemoteProtocolError"),
    ],
)
async def test_a_transport_failure_is_recorded_by_its_kind_and_message(
    error: Exception, recorded: str
) -> None:
    async with running() as rig:
        rig.endpoints.script[HOST] = [failing(error)]
        await deliver_once(rig, f"https://{HOST}/hooks")
    delivery, attempt = rig.attempts.items[0]
    assert (attempt.status_code, attempt.error, attempt.response_excerpt) == (None, recorded, None)
    assert delivery.status is DeliveryStatus.PENDING


async def test_a_refused_address_is_recorded_in_english_with_the_address() -> None:
    async with running() as rig:
        subscription, _ = await rig.webhooks.create_subscription(url=f"https://{HOST}/hooks")
        rig.dns.answers[HOST] = ["10.0.0.7"]
        await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
    (_, attempt), *_ = rig.attempts.items
    assert attempt.error == (
        "refused: the host resolves to 10.0.0.7, which is private and which webhooks may not target "
        "unless the server's allowlist names it."
    )


# -- when the next attempt is due ----------------------------------------------------------------


def delay_of(rig: Harness) -> float:
    """Seconds from the recorded attempt to the next one it scheduled."""
    delivery, _ = rig.attempts.items[-1]
    assert delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    return (delivery.next_attempt_at - delivery.updated_at).total_seconds()


@pytest.mark.parametrize(
    ("status", "retry_after", "least", "most"),
    [
        (429, "30", 30.0, 30.0),  # longer than the 5 s backoff step (±20 %): the endpoint's wish
        (503, "30", 30.0, 30.0),
        (500, "30", 4.0, 6.0),  # only 429 and 503 say when to come back
        (429, "1", 4.0, 6.0),  # shorter than the backoff: the backoff stands
        (429, "soon", 4.0, 6.0),
        (503, "date:40", 38.0, 41.0),  # an HTTP-date 40 s ahead (whole seconds)
        (503, None, 4.0, 6.0),
    ],
)
async def test_retry_after_sets_the_next_attempt_only_on_429_and_503_and_never_earlier_than_the_backoff(
    status: int, retry_after: str | None, least: float, most: float
) -> None:
    if retry_after is not None and retry_after.startswith("date:"):
        ahead = timedelta(seconds=int(retry_after.removeprefix("date:")))
        retry_after = email.utils.format_datetime(utc_now() + ahead, usegmt=True)
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    async with running(retry_scale=1.0) as rig:
        rig.endpoints.script[HOST] = [httpx.Response(status, headers=headers)]
        await deliver_once(rig, f"https://{HOST}/hooks")
        assert least <= delay_of(rig) <= most


async def test_the_backoff_grows_with_each_failed_attempt() -> None:
    # retry_scale 0.001: 5 ms, then 300 ms (±20 %); both are read from the record, not waited out twice.
    async with running(retry_scale=0.001) as rig:
        rig.endpoints.script[HOST] = [httpx.Response(500)]
        await deliver_once(rig, f"https://{HOST}/hooks")
        first = delay_of(rig)
        await rig.attempts.until(lambda items: len(items) == 2)
        second = delay_of(rig)
    assert 0.004 <= first <= 0.006 and 0.24 <= second <= 0.36


async def test_a_retry_is_made_when_it_is_due_even_with_nothing_to_wake_the_dispatcher() -> None:
    # No poll would come within the test (an hour): the dispatcher sleeps until the retry is due.
    async with running(retry_scale=0.001, poll_interval=3600.0) as rig:
        rig.endpoints.script[HOST] = [httpx.Response(500), httpx.Response(200)]
        await deliver_once(rig, f"https://{HOST}/hooks")
        await rig.attempts.until(lambda items: len(items) == 2)
    assert rig.attempts.items[-1][0].status is DeliveryStatus.SUCCEEDED


# -- the subscription's health -------------------------------------------------------------------


def frozen() -> datetime:
    """The dispatcher's clock for a failure streak exactly as long as the limit: it never moves."""
    return FROZEN


async def test_410_disables_as_gone_even_when_the_failure_streak_is_also_over_the_limit() -> None:
    async with running(clock=frozen, disable_after_seconds=0.0) as rig:
        rig.endpoints.script[HOST] = [httpx.Response(410)]
        subscription, _ = await rig.webhooks.create_subscription(url=f"https://{HOST}/hooks")
        await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
        current = await rig.webhooks.get_subscription(subscription.subscription_id)
    assert current.disabled_reason is DisabledReason.ENDPOINT_GONE
    assert rig.attempts.items[0][0].status is DeliveryStatus.FAILED


async def test_a_failure_streak_reaching_the_limit_disables_at_that_attempt() -> None:
    async with running(clock=frozen, disable_after_seconds=0.0) as rig:
        rig.endpoints.script[HOST] = [httpx.Response(500)]
        subscription, _ = await rig.webhooks.create_subscription(url=f"https://{HOST}/hooks")
        await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 1)
        current = await rig.webhooks.get_subscription(subscription.subscription_id)
    assert current.enabled is False and current.disabled_reason is DisabledReason.CONTINUOUS_FAILURE
    assert rig.attempts.items[0][0].status is DeliveryStatus.PENDING  # resumes if re-enabled


async def test_the_failure_streak_starts_at_the_first_failure_and_ends_with_a_success() -> None:
    async with running(retry_scale=1e-6) as rig:
        rig.endpoints.script[HOST] = [httpx.Response(500), httpx.Response(500), httpx.Response(200)]
        subscription, _ = await rig.webhooks.create_subscription(url=f"https://{HOST}/hooks")
        await rig.reserve()
        await rig.attempts.until(lambda items: len(items) == 2)
        failing_since = (await rig.webhooks.get_subscription(subscription.subscription_id)).failing_since
        await rig.attempts.until(lambda items: len(items) == 3)
        after = await rig.webhooks.get_subscription(subscription.subscription_id)
    assert failing_since == rig.attempts.items[0][1].attempted_at  # not the second failure's time
    assert after.failing_since is None and after.enabled


async def test_a_delivery_that_succeeds_is_not_retried() -> None:
    async with running(retry_scale=1e-6) as rig:
        await deliver_once(rig, f"https://{HOST}/hooks")
        delivery, attempt = rig.attempts.items[0]
        assert attempt.succeeded and attempt.number == 1 and attempt.error is None
        assert delivery.status is DeliveryStatus.SUCCEEDED and delivery.next_attempt_at is None
        assert delivery.attempts == 1 and delivery.total_attempts == 1
        await rig.reserve()  # a later event's delivery is the second request, not a retry of the first
        await rig.attempts.until(lambda items: len(items) == 2)
    assert len(rig.endpoints.received[HOST]) == 2
