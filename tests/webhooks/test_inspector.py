"""The inspector as a receiver, and the dispatcher delivering for real over TCP to it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from services.core.events import InProcessNotifier
from services.core.model import ReservationDraft
from services.core.service import ReservationService
from services.store import MemoryStore
from services.store.webhooks.memory import MemoryWebhookStore
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.inspector import create_inspector_app
from services.webhooks.model import DeliveryStatus
from services.webhooks.service import WebhookService
from services.webhooks.signing import new_secret, webhook_headers
from services.webhooks.ssrf import Guard
from tests.webhooks.conftest import DEFAULTS, AttemptLog, serve_in_thread

SECRET = new_secret()


@pytest.fixture(scope="module")
def inspector_url() -> Iterator[str]:
    with serve_in_thread(create_inspector_app([SECRET])) as url:
        yield url


async def test_the_inspector_verifies_and_lists_what_it_received(inspector_url: str) -> None:
    body = json.dumps({"type": "webhook.ping", "data": {}})
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=inspector_url) as client:
        await client.delete("/received")
        good = webhook_headers([SECRET], "msg_1", now, body)
        bad = webhook_headers([new_secret()], "msg_2", now, body)
        assert (await client.post("/anything", content=body, headers=good)).status_code == 204
        assert (await client.post("/", content=body, headers=good)).status_code == 204
        assert (await client.post("/", content=body, headers=bad)).status_code == 401
        received = (await client.get("/received")).json()
    assert [(r["webhookId"], r["verified"], r["duplicate"]) for r in received] == [
        ("msg_1", True, False),
        ("msg_1", True, True),
        ("msg_2", False, False),
    ]
    assert received[0]["path"] == "/anything" and received[0]["type"] == "webhook.ping"


async def test_the_dispatcher_delivers_over_a_real_connection(inspector_url: str) -> None:
    store = MemoryStore()
    await store.open()
    notifier = InProcessNotifier()
    core = ReservationService(store, notifier=notifier)
    webhooks = MemoryWebhookStore()
    attempts = AttemptLog()
    options = dataclasses.replace(DEFAULTS, allowlist=("127.0.0.1",), on_attempt=attempts)
    service = WebhookService(
        webhooks, Guard(options.allowlist), core.last_event_sequence, rotation_overlap_seconds=60
    )
    dispatcher = Dispatcher(core, webhooks, notifier, options)
    await dispatcher.start()
    stop = dispatcher.stop
    try:
        async with httpx.AsyncClient(base_url=inspector_url) as client:
            await client.delete("/received")
            subscription, _ = await service.create_subscription(url=f"{inspector_url}/rosetta", secret=SECRET)
            draft = ReservationDraft(
                room_id="room-a",
                guest_name="Ada",
                date="2031-05-01",
                start_time="10:00",
                end_time="11:00",
                attendees=2,
            )
            reservation = await core.create_reservation(draft)
            received = (await client.get("/received", params={"count": 1, "timeout": 5})).json()
        await attempts.until(lambda items: len(items) == 1)
    finally:
        await stop()
        await store.close()
    (entry,) = received
    assert entry["verified"] is True and entry["path"] == "/rosetta"
    assert entry["payload"]["data"] == reservation.to_dict()
    delivery, attempt = attempts.items[0]
    assert delivery.status is DeliveryStatus.SUCCEEDED and attempt.status_code == 204
    assert delivery.subscription_id == subscription.subscription_id
