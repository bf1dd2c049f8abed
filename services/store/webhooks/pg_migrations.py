"""The webhook tables' PostgreSQL schema, version by version (``webhook_schema_migrations``).

``PostgresWebhookStore.migrate`` applies what a database lacks, under the advisory lock the
core's migrations take too (``reservations/pg_migrations.py`` is the core's list).
"""

# Append new versions; never edit one that has shipped.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE webhook_subscriptions (
        subscription_id text COLLATE "C" PRIMARY KEY,
        position        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        url             text NOT NULL,
        event_types     text[] NOT NULL,
        description     text,
        enabled         boolean NOT NULL,
        disabled_reason text,
        secrets         jsonb NOT NULL,
        cursor          bigint NOT NULL,
        failing_since   timestamptz,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        delivery_id     text COLLATE "C" PRIMARY KEY,
        position        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        subscription_id text COLLATE "C" NOT NULL
            REFERENCES webhook_subscriptions (subscription_id) ON DELETE CASCADE,
        event_id        text NOT NULL,
        event_type      text NOT NULL,
        sequence        bigint,
        payload         text NOT NULL,
        status          text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        attempts        integer NOT NULL,
        total_attempts  integer NOT NULL,
        next_attempt_at timestamptz,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL
    );
    -- The dispatcher's questions: what is due per subscription, and when is the next one due.
    CREATE INDEX webhook_deliveries_pending
        ON webhook_deliveries (subscription_id, next_attempt_at, position) WHERE status = 'PENDING';
    -- The delivery log, newest first.
    CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, position);
    CREATE TABLE webhook_attempts (
        delivery_id      text COLLATE "C" NOT NULL
            REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
        number           integer NOT NULL,
        attempted_at     timestamptz NOT NULL,
        status_code      integer,
        latency_ms       double precision NOT NULL,
        error            text,
        response_excerpt text,
        PRIMARY KEY (delivery_id, number)
    );
    """,
}
LATEST_VERSION = max(MIGRATIONS)
