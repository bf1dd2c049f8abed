"""The webhook store port, on each implementation: what the dispatcher relies on."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.core.service import utc_now
from services.store import SqliteStore
from services.store.reservations.sqlite import SCHEMA_VERSION
from services.store.webhooks.memory import MemoryWebhookStore
from services.store.webhooks.postgres import PostgresWebhookStore
from services.store.webhooks.sqlite import SqliteWebhookStore
from services.webhooks.model import (
    Attempt,
    DeliveryStatus,
    SigningSecret,
    Subscription,
    SubscriptionHealth,
    new_delivery,
)
from services.webhooks.ports import WebhookStore
from tests.webhooks.conftest import PG_DSN

NOW = utc_now()


def subscription(subscription_id: str, cursor: int = 0) -> Subscription:
    return Subscription(
        subscription_id=subscription_id,
        url="https://hooks.example.com/x",
        event_types=("reservation.created",),
        description=None,
        enabled=True,
        disabled_reason=None,
        secrets=(SigningSecret("whsec_" + "A" * 44),),
        cursor=cursor,
        failing_since=None,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WebhookStore]:
    implementation: WebhookStore
    if request.param == "memory":
        implementation = MemoryWebhookStore()
    elif request.param == "sqlite":
        implementation = SqliteWebhookStore(tmp_path / "rosetta.db")
    else:
        implementation = PostgresWebhookStore(PG_DSN, schema=request.getfixturevalue("pg_schema"))
    await implementation.open()
    yield implementation
    await implementation.close()


async def test_enqueue_is_idempotent_and_cursors_only_rise(store: WebhookStore) -> None:
    await store.add_subscription(subscription("whs_a", cursor=5))
    first = new_delivery("whs_a", "evt_1", "reservation.created", 6, "{}", NOW)
    orphan = new_delivery("whs_gone", "evt_1", "reservation.created", 6, "{}", NOW)
    await store.enqueue([first, orphan], {"whs_a": 6, "whs_gone": 6})
    await store.enqueue([first], {"whs_a": 3})
    page, total = await store.list_deliveries("whs_a", None, 0, 10)
    assert total == 1 and page == [first]
    assert (await store.list_deliveries("whs_gone", None, 0, 10))[1] == 0
    current = await store.get_subscription("whs_a")
    assert current is not None and current.cursor == 6


async def test_an_update_never_moves_the_cursor(store: WebhookStore) -> None:
    original = subscription("whs_a", cursor=1)
    await store.add_subscription(original)
    await store.enqueue([], {"whs_a": 9})
    await store.update_subscription(dataclasses.replace(original, description="changed", cursor=0))
    current = await store.get_subscription("whs_a")
    assert current is not None and current.description == "changed" and current.cursor == 9


async def test_due_deliveries_are_fair_and_leases_hide_them(store: WebhookStore) -> None:
    for name in ("whs_busy", "whs_quiet"):
        await store.add_subscription(subscription(name))
    busy = [new_delivery("whs_busy", f"evt_{n}", "reservation.created", n, "{}", NOW) for n in range(5)]
    quiet = new_delivery(
        "whs_quiet", "evt_9", "reservation.created", 9, "{}", NOW + timedelta(milliseconds=1)
    )
    await store.enqueue([*busy, quiet], {})
    due = await store.due_deliveries(NOW + timedelta(seconds=1), limit=10, per_subscription=2)
    assert [d.delivery_id for d in due] == [busy[0].delivery_id, busy[1].delivery_id, quiet.delivery_id]
    await store.lease([busy[0].delivery_id], NOW + timedelta(minutes=1))
    due = await store.due_deliveries(NOW + timedelta(seconds=1), limit=10, per_subscription=1)
    assert [d.delivery_id for d in due] == [busy[1].delivery_id, quiet.delivery_id]
    assert await store.next_due_at() == NOW


async def test_attempts_health_requeue_and_cascade(store: WebhookStore) -> None:
    await store.add_subscription(subscription("whs_a"))
    delivery = new_delivery("whs_a", "evt_1", "reservation.created", 1, '{"a":1}', NOW)
    await store.enqueue([delivery], {})
    failed = dataclasses.replace(delivery, status=DeliveryStatus.FAILED, attempts=8, total_attempts=1)
    attempt = Attempt(delivery.delivery_id, 1, NOW, 500, 12.5, None, "boom")
    await store.record_attempt(failed, attempt, SubscriptionHealth(failing_since=NOW))
    assert await store.attempts_of([delivery.delivery_id]) == {delivery.delivery_id: [attempt]}
    stored = await store.get_subscription("whs_a")
    assert stored is not None and stored.failing_since == NOW

    assert await store.requeue_failed_since("whs_a", NOW + timedelta(seconds=1), NOW) == 0
    assert await store.requeue_failed_since("whs_a", NOW, NOW) == 1
    requeued = await store.get_delivery("whs_a", delivery.delivery_id)
    assert requeued is not None and requeued.status is DeliveryStatus.PENDING and requeued.attempts == 0
    assert requeued.total_attempts == 1

    assert await store.delete_subscription("whs_a") is True
    assert await store.get_delivery("whs_a", delivery.delivery_id) is None
    assert await store.attempts_of([delivery.delivery_id]) == {delivery.delivery_id: []}
    assert await store.delete_subscription("whs_a") is False


async def test_the_webhook_tables_share_the_core_file_without_its_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "rosetta.db"
    core = SqliteStore(path)
    await core.open()
    webhooks = SqliteWebhookStore(path)
    await webhooks.open()
    await webhooks.add_subscription(subscription("whs_a"))
    await webhooks.close()
    await core.close()
    again = SqliteWebhookStore(path)  # reopening migrates nothing twice
    await again.open()
    assert [s.subscription_id for s in (await again.list_subscriptions(0, 10))[0]] == ["whs_a"]
    await again.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # still the core's
        assert db.execute("SELECT version FROM webhook_schema").fetchall() == [(1,)]
