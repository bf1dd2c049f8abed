"""The dispatcher against scripted endpoints (httpx.MockTransport): signing, retries, dead letters,
replays, disabling, the SSRF guard at delivery time, concurrency and restart."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.dispatch import run_dispatcher
from gateway.settings import Settings
from services.core.service import utc_now
from services.webhooks.model import (
    MAX_ATTEMPTS,
    Attempt,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    message_id,
)
from services.webhooks.service import ALL_EVENT_TYPES
from tests.webhooks.conftest import DEFAULTS, Harness, Received, sqlite_stores

HOST = "hooks.example.com"
OTHER = "other.example.com"


def verify(secret: str, received: Received) -> dict[str, object]:
    payload: dict[str, object] = Webhook(secret).verify(received.body, received.headers)
    return payload


async def test_an_event_is_delivered_signed_with_a_stable_id(harness: Harness) -> None:
    subscription, secret = await harness.subscribe()
    reservation = await harness.reserve()

    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    payload = verify(secret, received)
    events = await harness.core.watch_events(0)
    assert payload == {
        "type": "reservation.created",
        "timestamp": events[0].to_dict()["occurredAt"],
        "eventId": events[0].event_id,
        "sequence": events[0].sequence,
        "data": reservation.to_dict(),
    }
    assert received.headers["webhook-id"] == message_id(events[0].event_id, subscription.subscription_id)
    assert received.headers["content-type"] == "application/json"
    # The connection goes to the address that was checked; the name travels in Host (and SNI).
    assert received.request.url.host == "93.184.216.34"
    assert received.request.url.path == "/hooks"
    delivery, attempt = harness.attempts.items[0]
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert attempt.status_code == 204 and attempt.error is None and attempt.latency_ms >= 0


def standard_webhooks_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks v1 signature, computed here with the standard library only (not with the
    library that signs): base64(HMAC-SHA256(base64-decoded secret, "id.timestamp.body"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signatures_of(received: Received) -> list[str]:
    return received.headers["webhook-signature"].split(" ")


async def test_the_delivered_signature_is_the_standard_webhooks_hmac_of_the_subscription_secret(
    harness: Harness,
) -> None:
    _, secret = await harness.subscribe()
    await harness.reserve()
    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    headers = received.headers
    expected = standard_webhooks_signature(
        secret, headers["webhook-id"], headers["webhook-timestamp"], received.body
    )
    assert signatures_of(received) == [expected], (
        "the webhook was not signed with the subscription's secret: the delivered signature is not the "
        "Standard Webhooks HMAC-SHA256 of id.timestamp.body under the secret the subscriber was given"
    )
    sent_at = harness.attempts.items[0][1].attempted_at
    assert headers["webhook-timestamp"] == str(int(sent_at.timestamp()))


async def test_a_tampered_body_does_not_verify(harness: Harness) -> None:
    _, secret = await harness.subscribe()
    await harness.reserve()
    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    headers = received.headers
    tampered = received.body.replace(b"Grace", b"Mallory")
    assert tampered != received.body
    # Our signature verifies the body as sent, and not the tampered one.
    honest = standard_webhooks_signature(
        secret, headers["webhook-id"], headers["webhook-timestamp"], received.body
    )
    forged = standard_webhooks_signature(
        secret, headers["webhook-id"], headers["webhook-timestamp"], tampered
    )
    assert honest in signatures_of(received), (
        "the delivered signature does not verify even the untouched body"
    )
    assert forged not in signatures_of(received), "the delivered signature also verifies a tampered body"
    # And a subscriber using the Standard Webhooks library agrees on both.
    verify(secret, received)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)


async def test_during_a_rotation_both_secrets_sign_and_each_verifies(harness: Harness) -> None:
    subscription, old_secret = await harness.subscribe()
    _, new_secret = await harness.webhooks.rotate_secret(subscription.subscription_id)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    await harness.reserve()

    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    signatures = received.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert verify(old_secret, received)["type"] == "reservation.created"
    assert verify(new_secret, received)["type"] == "reservation.created"
    # Each signature on its own verifies with exactly one of the two secrets.
    for signature, secret, other in (
        (signatures[0], new_secret, old_secret),
        (signatures[1], old_secret, new_secret),
    ):
        headers = {**received.headers, "webhook-signature": signature}
        Webhook(secret).verify(received.body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(other).verify(received.body, headers)


@pytest.mark.parametrize("options", [dataclasses.replace(DEFAULTS, rotation_overlap_seconds=0)])
async def test_without_overlap_only_the_new_secret_signs(harness: Harness) -> None:
    subscription, old_secret = await harness.subscribe()
    _, new_secret = await harness.webhooks.rotate_secret(subscription.subscription_id)
    await harness.reserve()
    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    assert len(received.headers["webhook-signature"].split(" ")) == 1
    verify(new_secret, received)
    with pytest.raises(WebhookVerificationError):
        verify(old_secret, received)


async def test_failures_are_retried_with_growing_delays_then_succeed(harness: Harness) -> None:
    harness.endpoints.script[HOST] = [
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(500),
        httpx.Response(200),
    ]
    await harness.subscribe()
    await harness.reserve()

    await harness.attempts.until(
        lambda items: items[-1][0].status is DeliveryStatus.SUCCEEDED if items else False
    )
    received = harness.endpoints.received[HOST]
    assert len(received) == 4
    assert len({r.headers["webhook-id"] for r in received}) == 1  # a retry carries the same id
    gaps = [b.at - a.at for a, b in zip(received, received[1:], strict=False)]
    # Schedule x 0.0001: 0.5 ms, 30 ms, 180 ms (±20 % jitter). Each gap is at least its step (a loaded
    # machine only adds to it), and the third step's least (144 ms) is beyond the second's most (36 ms):
    # the delays grow. Comparing the measured gaps themselves would measure the machine's stalls.
    assert gaps[1] >= 0.024 and gaps[2] >= 0.144
    assert [a.status_code for _, a in harness.attempts.items] == [500, 502, 500, 200]
    assert [a.number for _, a in harness.attempts.items] == [1, 2, 3, 4]


async def test_retry_after_is_honoured_on_429(harness: Harness) -> None:
    harness.endpoints.script[HOST] = [httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200)]
    await harness.subscribe()
    await harness.reserve()
    await harness.attempts.until(lambda items: len(items) == 2)
    first, second = harness.endpoints.received[HOST]
    assert second.at - first.at >= 0.95  # the 5 ms backoff step would have been much sooner
    assert harness.attempts.items[-1][0].status is DeliveryStatus.SUCCEEDED


async def test_410_gone_disables_the_subscription(harness: Harness) -> None:
    harness.endpoints.script[HOST] = [httpx.Response(410)]
    subscription, _ = await harness.subscribe()
    await harness.reserve()
    await harness.attempts.until(lambda items: len(items) == 1)
    delivery, _ = harness.attempts.items[0]
    assert delivery.status is DeliveryStatus.FAILED
    current = await harness.webhooks.get_subscription(subscription.subscription_id)
    assert current.enabled is False and current.disabled_reason is DisabledReason.ENDPOINT_GONE


@pytest.mark.parametrize("options", [dataclasses.replace(DEFAULTS, retry_scale=1e-6)])
async def test_a_dead_letter_is_visible_and_a_manual_replay_delivers_it(harness: Harness) -> None:
    harness.endpoints.script[HOST] = [httpx.Response(500, text="database down")]
    subscription, secret = await harness.subscribe()
    await harness.reserve()

    await harness.attempts.until(lambda items: bool(items) and items[-1][0].status is DeliveryStatus.FAILED)
    assert len(harness.attempts.items) == MAX_ATTEMPTS == 8
    page = await harness.webhooks.list_deliveries(subscription.subscription_id, status="FAILED")
    (record,) = page.items
    assert len(record.attempts) == 8 and record.attempts[-1].response_excerpt == "database down"

    harness.endpoints.script[HOST] = [httpx.Response(200)]
    await harness.webhooks.replay(subscription.subscription_id, record.delivery.delivery_id)
    await harness.attempts.until(lambda items: items[-1][0].status is DeliveryStatus.SUCCEEDED)
    last = harness.endpoints.received[HOST][-1]
    assert last.headers["webhook-id"] == record.delivery.delivery_id
    assert verify(secret, last)["type"] == "reservation.created"
    assert harness.attempts.items[-1][1].number == 9


@pytest.mark.parametrize("options", [dataclasses.replace(DEFAULTS, retry_scale=1e-6)])
async def test_replay_since_requeues_only_dead_letters_after_the_time(harness: Harness) -> None:
    harness.endpoints.script[HOST] = [httpx.Response(503)]
    subscription, _ = await harness.subscribe()

    def dead(n: int) -> Callable[[list[tuple[Delivery, Attempt]]], bool]:
        return lambda items: sum(d.status is DeliveryStatus.FAILED for d, _ in items) == n

    await harness.reserve()
    await harness.attempts.until(dead(1))
    since = utc_now() + timedelta(milliseconds=1)
    await asyncio.sleep(0.002)  # the next message must be created strictly after ``since``
    await harness.reserve()
    await harness.attempts.until(dead(2))
    old, new = (d.delivery_id for d, _ in harness.attempts.items if d.status is DeliveryStatus.FAILED)

    harness.endpoints.script[HOST] = [httpx.Response(200)]
    count = await harness.webhooks.replay_failed_since(subscription.subscription_id, since.isoformat())
    assert count == 1
    await harness.attempts.until(lambda items: items[-1][0].status is DeliveryStatus.SUCCEEDED)
    assert harness.endpoints.received[HOST][-1].headers["webhook-id"] == new
    assert (await harness.webhooks.get_delivery(subscription.subscription_id, old)).delivery.status is (
        DeliveryStatus.FAILED
    )


@pytest.mark.parametrize("options", [dataclasses.replace(DEFAULTS, disable_after_seconds=0.05)])
async def test_a_subscription_failing_continuously_is_disabled(harness: Harness) -> None:
    harness.endpoints.script[HOST] = [httpx.Response(500)]
    subscription, _ = await harness.subscribe()
    await harness.reserve()
    # Until an attempt ends 50 ms or more after the first one began (the 4th at the latest; on a
    # busy machine an earlier one): that attempt disables the subscription.
    streak = timedelta(seconds=0.05)
    await harness.attempts.until(
        lambda items: bool(items) and items[-1][0].updated_at - items[0][1].attempted_at >= streak
    )
    current = await harness.webhooks.get_subscription(subscription.subscription_id)
    assert current.enabled is False and current.disabled_reason is DisabledReason.CONTINUOUS_FAILURE
    assert current.failing_since is not None
    # Re-enabling forgets the failure streak and resumes the pending delivery.
    harness.endpoints.script[HOST] = [httpx.Response(200)]
    enabled = await harness.webhooks.update_subscription(subscription.subscription_id, {"enabled": True})
    assert enabled.enabled and enabled.disabled_reason is None and enabled.failing_since is None


async def test_only_matching_event_types_are_sent(harness: Harness) -> None:
    await harness.subscribe(event_types=["reservation.canceled"])
    first = await harness.reserve()
    await harness.reserve()
    await harness.core.cancel_reservation(first.reservation_id, reason="ill")
    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    assert json.loads(received.body)["type"] == "reservation.canceled"
    assert json.loads(received.body)["data"]["cancelReason"] == "ill"


async def test_a_name_rebound_to_a_private_address_is_refused_at_delivery(harness: Harness) -> None:
    subscription, _ = await harness.subscribe()
    harness.dns.answers[HOST] = ["10.0.0.7"]
    await harness.reserve()
    await harness.attempts.until(lambda items: len(items) == 1)
    delivery, attempt = harness.attempts.items[0]
    assert attempt.status_code is None and attempt.error is not None and "10.0.0.7" in attempt.error
    assert delivery.status is DeliveryStatus.PENDING  # retried later: DNS may change back
    assert HOST not in harness.endpoints.received


@pytest.mark.parametrize(
    "options", [dataclasses.replace(DEFAULTS, per_subscription_concurrency=1, max_concurrency=4)]
)
async def test_one_slow_endpoint_does_not_delay_another(harness: Harness) -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200)

    harness.endpoints.script[HOST] = [slow]
    await harness.subscribe(HOST)
    await harness.subscribe(OTHER)
    for _ in range(3):
        await harness.reserve()

    await harness.attempts.until(lambda items: len(items) == 3)  # all three reached the fast endpoint
    assert len(harness.endpoints.received[OTHER]) == 3
    assert len(harness.endpoints.received[HOST]) == 1  # per-subscription limit 1: one at a time
    release.set()
    await harness.attempts.until(lambda items: len(items) == 6)
    assert harness.endpoints.peak[HOST] == 1
    assert len(harness.endpoints.received[HOST]) == 3


async def test_a_new_subscription_receives_only_later_events(harness: Harness) -> None:
    await harness.reserve()
    subscription, _ = await harness.subscribe(event_types=list(ALL_EVENT_TYPES))
    later = await harness.reserve()
    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    assert json.loads(received.body)["data"]["reservationId"] == later.reservation_id


async def test_ping_sends_a_webhook_ping(harness: Harness) -> None:
    subscription, secret = await harness.subscribe()
    delivery = await harness.webhooks.ping(subscription.subscription_id)
    await harness.attempts.until(lambda items: len(items) == 1)
    (received,) = harness.endpoints.received[HOST]
    assert verify(secret, received)["type"] == "webhook.ping"
    assert received.headers["webhook-id"] == delivery.delivery_id


async def test_a_restarted_dispatcher_resumes_from_the_stored_cursors(tmp_path: Path) -> None:
    core_store, webhook_store = sqlite_stores(tmp_path / "rosetta.db")
    await core_store.open()
    await webhook_store.open()
    first = Harness(core_store, webhook_store, DEFAULTS)
    await first.start()
    subscription, _ = await first.subscribe()
    await first.reserve()
    await first.attempts.until(lambda items: len(items) == 1)
    await first.stop()
    await webhook_store.close()

    written = [await first.reserve() for _ in range(3)]  # while no dispatcher runs

    # A new process: fresh store objects over the same file.
    restarted_store = sqlite_stores(tmp_path / "rosetta.db")[1]
    await restarted_store.open()
    second = Harness(core_store, restarted_store, DEFAULTS)
    await second.start()
    await second.attempts.until(lambda items: len(items) == 3)
    ids = [json.loads(r.body)["data"]["reservationId"] for r in second.endpoints.received[HOST]]
    assert sorted(ids) == sorted(r.reservation_id for r in written)  # all delivered, none twice
    stored = await restarted_store.get_subscription(subscription.subscription_id)
    assert stored is not None and stored.cursor == await first.core.last_event_sequence()
    await second.stop()
    await restarted_store.close()
    await core_store.close()


async def test_the_standalone_dispatcher_delivers_events_written_by_another_process(tmp_path: Path) -> None:
    """``rosetta dispatch``: its own process, noticing other writers within ``poll_interval``."""
    db = tmp_path / "rosetta.db"
    writer = Harness(*sqlite_stores(db), DEFAULTS)
    await writer.core_store.open()
    await writer.store.open()
    _, secret = await writer.subscribe()
    await writer.store.close()
    options = dataclasses.replace(writer.options, poll_interval=0.05)
    task = asyncio.create_task(run_dispatcher(Settings(db=f"sqlite:///{db}"), options=options))
    try:
        await writer.reserve()
        await writer.attempts.until(lambda items: len(items) == 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await writer.core_store.close()
    (received,) = writer.endpoints.received[HOST]
    assert verify(secret, received)["type"] == "reservation.created"


async def test_a_replay_asked_for_while_an_attempt_is_in_flight_is_not_lost(harness: Harness) -> None:
    sent, release = asyncio.Event(), asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        sent.set()
        await release.wait()
        return httpx.Response(200)

    harness.endpoints.script[HOST] = [held, httpx.Response(200)]
    subscription, _ = await harness.subscribe()
    await harness.reserve()
    async with asyncio.timeout(5):
        await sent.wait()
    (record,) = (await harness.webhooks.list_deliveries(subscription.subscription_id)).items
    await asyncio.sleep(0.002)  # timestamps have millisecond precision: the replay must come later
    await harness.webhooks.replay(subscription.subscription_id, record.delivery.delivery_id)
    release.set()  # the first attempt now succeeds; the replay asked for another delivery

    await harness.attempts.until(lambda items: len(items) == 2)
    received = harness.endpoints.received[HOST]
    assert [r.headers["webhook-id"] for r in received] == [record.delivery.delivery_id] * 2
    final = await harness.webhooks.get_delivery(subscription.subscription_id, record.delivery.delivery_id)
    assert final.delivery.status is DeliveryStatus.SUCCEEDED
    assert [attempt.number for attempt in final.attempts] == [1, 2]
