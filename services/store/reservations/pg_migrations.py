"""Versioned SQL of the PostgreSQL store: migration N upgrades a database at version N-1 in place.

Append new versions; never edit one that has shipped. ``{ext}`` is the schema holding the
btree_gist extension (its operator class is named explicitly, so the tables do not depend on
the search_path that created them).
"""

from __future__ import annotations

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE rooms (
        room_id   text PRIMARY KEY,
        name      text NOT NULL,
        capacity  integer NOT NULL CHECK (capacity >= 1),
        location  text NOT NULL
    );
    CREATE TABLE reservations (
        reservation_id text COLLATE "C" PRIMARY KEY,
        room_id        text NOT NULL REFERENCES rooms (room_id),
        guest_name     text NOT NULL,
        date           date NOT NULL,
        start_time     time(0) NOT NULL,
        end_time       time(0) NOT NULL,
        attendees      integer NOT NULL CHECK (attendees >= 1),
        purpose        text,
        status         text NOT NULL CHECK (status IN ('RESERVED', 'CHECKED_IN', 'CANCELED')),
        cancel_reason  text,
        version        integer NOT NULL CHECK (version >= 1),
        created_at     timestamptz NOT NULL,
        updated_at     timestamptz NOT NULL,
        CHECK (start_time < end_time),
        -- The double-booking guarantee: holds across processes, whatever the application checks.
        CONSTRAINT reservations_no_overlap EXCLUDE USING gist (
            room_id {ext}.gist_text_ops WITH =,
            tsrange(date + start_time, date + end_time) WITH &&
        ) WHERE (status <> 'CANCELED')
    );
    CREATE INDEX reservations_room_date ON reservations (room_id, date);
    CREATE INDEX reservations_date_start ON reservations (date, start_time);
    -- One row: appenders lock it to take the next sequence, so events commit in sequence order.
    CREATE TABLE event_head (
        singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        last_sequence bigint NOT NULL
    );
    INSERT INTO event_head (singleton, last_sequence) VALUES (true, 0);
    CREATE TABLE events (
        sequence    bigint PRIMARY KEY,
        event_id    text NOT NULL UNIQUE,
        type        text NOT NULL,
        occurred_at timestamptz NOT NULL,
        data        json NOT NULL
    );
    CREATE TABLE idempotency_keys (
        scope       text NOT NULL,
        key         text NOT NULL,
        fingerprint text NOT NULL,
        response    json NOT NULL,
        PRIMARY KEY (scope, key)
    );
    """,
    2: """
    -- listReservations?sort=createdAt and its tie-break; the status filter.
    CREATE INDEX reservations_created ON reservations (created_at, reservation_id);
    CREATE INDEX reservations_status ON reservations (status);
    """,
    3: """
    -- The client that created a reservation (ownership): NULL when created with authentication off.
    ALTER TABLE reservations ADD COLUMN owner text;
    """,
    # Search that works in every language: the name's search key (NFC, case-folded) is computed in Python
    # by the core's search_key (PostgreSQL's lower() depends on the locale); existing rows are backfilled
    # by the store right after this migration (see SEARCH_KEY_VERSION).
    4: """
    ALTER TABLE reservations ADD COLUMN guest_search text NOT NULL DEFAULT '';
    """,
}

SEARCH_KEY_VERSION = 4

LATEST_VERSION = max(MIGRATIONS)
