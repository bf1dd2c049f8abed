"""Every statement the PostgreSQL webhook store runs, in ``SQL`` (the SQLite store keeps its own, with
``?`` placeholders and SQLite's dialect, in ``webhooks/sqlite.py``)."""

from __future__ import annotations

from services.store._sql import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    SUBSCRIPTION_COLUMNS,
)

_D_COLUMNS = ", ".join("d." + column for column in DELIVERY_COLUMNS.split(", "))


class SQL:
    """Every statement of the store (``%s`` placeholders)."""

    schema_table = (
        "CREATE TABLE IF NOT EXISTS webhook_schema_migrations ("
        " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    schema_version = "SELECT coalesce(max(version), 0) FROM webhook_schema_migrations"
    set_schema_version = "INSERT INTO webhook_schema_migrations (version) VALUES (%s)"
    notify = "SELECT pg_notify(%s, %s)"

    insert_subscription = (
        f"INSERT INTO webhook_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ({', '.join(['%s'] * 11)})"
    )
    get_subscription = f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE subscription_id = %s"
    # The total rides along with the page (one snapshot, one round trip).
    list_subscriptions = (
        f"SELECT {SUBSCRIPTION_COLUMNS}, count(*) OVER () FROM webhook_subscriptions "
        "ORDER BY position LIMIT %s OFFSET %s"
    )
    all_subscriptions = f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY position"
    count_subscriptions = "SELECT count(*) FROM webhook_subscriptions"
    update_subscription = (
        "UPDATE webhook_subscriptions SET url = %s, event_types = %s, description = %s, enabled = %s, "
        "disabled_reason = %s, secrets = %s, failing_since = %s, updated_at = %s WHERE subscription_id = %s"
    )
    delete_subscription = "DELETE FROM webhook_subscriptions WHERE subscription_id = %s"
    raise_cursor = "UPDATE webhook_subscriptions SET cursor = %s WHERE subscription_id = %s AND cursor < %s"
    set_health = "UPDATE webhook_subscriptions SET failing_since = %s WHERE subscription_id = %s"
    disable = (
        "UPDATE webhook_subscriptions SET enabled = false, disabled_reason = %s, updated_at = %s "
        "WHERE subscription_id = %s"
    )

    # FOR KEY SHARE: a subscription deleted meanwhile yields no row (rather than a foreign key error).
    insert_delivery = (
        f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) "
        "SELECT %s, s.subscription_id, %s, %s, %s::bigint, %s, %s, %s::integer, %s::integer, "
        "%s::timestamptz, %s::timestamptz, %s::timestamptz "
        "FROM webhook_subscriptions s WHERE s.subscription_id = %s FOR KEY SHARE "
        "ON CONFLICT (delivery_id) DO NOTHING"
    )
    # At most ``per_subscription`` of each enabled subscription (so one busy endpoint cannot fill
    # the batch), each subscription's share read from the partial index.
    due_deliveries = (
        f"SELECT {_D_COLUMNS} FROM webhook_subscriptions s CROSS JOIN LATERAL ("
        f"SELECT {DELIVERY_COLUMNS}, position FROM webhook_deliveries "
        "WHERE subscription_id = s.subscription_id AND status = 'PENDING' AND next_attempt_at <= %(now)s "
        "ORDER BY next_attempt_at, position LIMIT %(per_subscription)s"
        ") d WHERE s.enabled ORDER BY d.next_attempt_at, d.position LIMIT %(limit)s"
    )
    lease = (
        "UPDATE webhook_deliveries SET next_attempt_at = %s "
        "WHERE delivery_id = ANY(%s) AND status = 'PENDING'"
    )
    # Rows another dispatcher is leasing right now are skipped, not waited for; the re-check of the
    # due time (on the latest row version) refuses rows it has already leased and committed.
    claim = (
        "UPDATE webhook_deliveries SET next_attempt_at = %(until)s WHERE delivery_id IN ("
        "SELECT delivery_id FROM webhook_deliveries WHERE delivery_id = ANY(%(ids)s) "
        "AND status = 'PENDING' AND next_attempt_at <= %(now)s FOR UPDATE SKIP LOCKED"
        ") RETURNING delivery_id"
    )
    next_due_at = (
        "SELECT min(d.next_attempt_at) FROM webhook_subscriptions s CROSS JOIN LATERAL ("
        "SELECT next_attempt_at FROM webhook_deliveries WHERE subscription_id = s.subscription_id "
        "AND status = 'PENDING' ORDER BY next_attempt_at LIMIT 1"
        ") d WHERE s.enabled"
    )
    # Written only if nobody requeued the delivery since the attempt was sent (see store.webhooks.sqlite).
    update_delivery = (
        "UPDATE webhook_deliveries SET status = %s, attempts = %s, total_attempts = %s, "
        "next_attempt_at = %s, updated_at = %s WHERE delivery_id = %s AND updated_at <= %s"
    )
    count_attempt = (
        "UPDATE webhook_deliveries SET total_attempts = GREATEST(total_attempts, %s) WHERE delivery_id = %s"
    )
    insert_attempt = f"INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    get_delivery = (
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = %s AND delivery_id = %s"
    )
    list_deliveries = (
        f"SELECT {DELIVERY_COLUMNS}, count(*) OVER () FROM webhook_deliveries "
        "WHERE subscription_id = %(subscription_id)s AND (%(status)s::text IS NULL OR status = %(status)s) "
        "ORDER BY position DESC LIMIT %(limit)s OFFSET %(offset)s"
    )
    count_deliveries = (
        "SELECT count(*) FROM webhook_deliveries "
        "WHERE subscription_id = %(subscription_id)s AND (%(status)s::text IS NULL OR status = %(status)s)"
    )
    attempts_of = (
        f"SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts "
        "WHERE delivery_id = ANY(%s) ORDER BY delivery_id, number"
    )
    requeue = (
        "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = %s, "
        f"updated_at = %s WHERE subscription_id = %s AND delivery_id = %s RETURNING {DELIVERY_COLUMNS}"
    )
    requeue_failed_since = (
        "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = %s, "
        "updated_at = %s WHERE subscription_id = %s AND status = 'FAILED' AND created_at >= %s"
    )
