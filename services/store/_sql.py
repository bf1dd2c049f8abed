"""What the SQL stores share, so that no store imports a sibling's internals.

- The reservations table's column lists and the portable WHERE / ORDER BY clauses, written once
  for SQLite (``?``) and PostgreSQL (``%s``).
- The webhook tables' column lists and the readers of their delivery and attempt rows.
- The PostgreSQL connection settings every component on one database uses (the reservations
  store, its notifier, the webhook store and the gateway's identity store): the schema-name
  check, the session options, the advisory lock that serializes migrations and the NOTIFY
  channel of the event log.

Importing it loads no database driver.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.core.model import Reservation, ReservationStatus
from services.core.ports import ReservationFilter, SortKey
from services.core.validation import search_key
from services.webhooks.model import Attempt, Delivery, DeliveryStatus

# --- the reservations table -------------------------------------------------------------------------

COLUMNS = (
    "reservation_id, room_id, guest_name, date, start_time, end_time, attendees, purpose, "
    "status, cancel_reason, version, created_at, updated_at, owner"
)
# What writes set: the columns read back, and the search key derived from the name.
WRITE_COLUMNS = COLUMNS + ", guest_search"
SORT_COLUMNS = {"date": "date", "start_time": "start_time", "created_at": "created_at"}


def reservation_from_row(row: Sequence[Any], moment: Callable[[Any], datetime]) -> Reservation:
    """A row of ``COLUMNS``; ``moment`` reads the store's timestamps (text in SQLite, ``timestamptz``
    in PostgreSQL) as aware UTC datetimes. Times are cut to HH:MM (PostgreSQL's ``time`` has seconds)."""
    return Reservation(
        reservation_id=row[0],
        room_id=row[1],
        guest_name=row[2],
        date=row[3],
        start_time=row[4][:5],
        end_time=row[5][:5],
        attendees=row[6],
        purpose=row[7],
        status=ReservationStatus(row[8]),
        cancel_reason=row[9],
        version=row[10],
        created_at=moment(row[11]),
        updated_at=moment(row[12]),
        owner=row[13],
    )


def reservation_values(r: Reservation, stamp: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """The values of ``WRITE_COLUMNS``; ``stamp`` writes a timestamp as the store keeps it."""
    return (
        r.reservation_id,
        r.room_id,
        r.guest_name,
        r.date,
        r.start_time,
        r.end_time,
        r.attendees,
        r.purpose,
        r.status.value,
        r.cancel_reason,
        r.version,
        stamp(r.created_at),
        stamp(r.updated_at),
        r.owner,
        search_key(r.guest_name),
    )


def filter_clause(filters: ReservationFilter, placeholder: str = "?") -> tuple[str, list[Any]]:
    """WHERE clause for the filters (``?`` for SQLite, ``%s`` for PostgreSQL)."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.status is not None:
        clauses.append(f"status = {placeholder}")
        params.append(filters.status.value)
    if filters.room_ids is not None:
        marks = ", ".join(placeholder for _ in filters.room_ids) or "NULL"
        clauses.append(f"room_id IN ({marks})")
        params.extend(filters.room_ids)
    if filters.date_from is not None:
        clauses.append(f"date >= {placeholder}")
        params.append(filters.date_from)
    if filters.date_to is not None:
        clauses.append(f"date <= {placeholder}")
        params.append(filters.date_to)
    if filters.guest_name is not None:
        # Both sides are search keys (core.validation.search_key), so a plain substring test suffices.
        escaped = filters.guest_name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(f"guest_search LIKE {placeholder} ESCAPE '\\'")
        params.append(f"%{escaped}%")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def order_clause(sort: Sequence[SortKey]) -> str:
    parts = [f"{SORT_COLUMNS[a]} {'DESC' if d else 'ASC'}" for a, d in sort]
    return " ORDER BY " + ", ".join([*parts, "created_at ASC", "reservation_id ASC"])


# --- the webhook tables ------------------------------------------------------------------------------

SUBSCRIPTION_COLUMNS = (
    "subscription_id, url, event_types, description, enabled, disabled_reason, secrets, cursor, "
    "failing_since, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "delivery_id, subscription_id, event_id, event_type, sequence, payload, status, attempts, "
    "total_attempts, next_attempt_at, created_at, updated_at"
)
ATTEMPT_COLUMNS = "delivery_id, number, attempted_at, status_code, latency_ms, error, response_excerpt"


def delivery_from_row(row: Sequence[Any], moment: Callable[[Any], datetime]) -> Delivery:
    """A row of ``DELIVERY_COLUMNS``; ``moment`` reads the store's timestamps (text in SQLite,
    ``timestamptz`` in PostgreSQL) as aware UTC datetimes."""
    return Delivery(
        delivery_id=row[0],
        subscription_id=row[1],
        event_id=row[2],
        event_type=row[3],
        sequence=row[4],
        payload=row[5],
        status=DeliveryStatus(row[6]),
        attempts=row[7],
        total_attempts=row[8],
        next_attempt_at=None if row[9] is None else moment(row[9]),
        created_at=moment(row[10]),
        updated_at=moment(row[11]),
    )


def attempt_from_row(row: Sequence[Any], moment: Callable[[Any], datetime]) -> Attempt:
    """A row of ``ATTEMPT_COLUMNS`` (``moment`` as for ``delivery_from_row``)."""
    return Attempt(
        delivery_id=row[0],
        number=row[1],
        attempted_at=moment(row[2]),
        status_code=row[3],
        latency_ms=row[4],
        error=row[5],
        response_excerpt=row[6],
    )


# --- PostgreSQL connections -------------------------------------------------------------------------

EVENTS_CHANNEL = "rosetta_events"
MIGRATION_LOCK = 0x526F73657474_01  # pg_advisory lock key: one migrator per database at a time
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")


@dataclass(frozen=True)
class StoreUrl:
    """Where a deployment keeps its data: one URL for the reservations, webhook and identity stores."""

    kind: Literal["memory", "sqlite", "postgres"]
    path: str = ""  # sqlite: the file
    dsn: str = ""  # postgres: the libpq URL, without ``schema``
    schema: str | None = None  # postgres: the schema, or None for the search path's


def parse_store_url(url: str) -> StoreUrl:
    """``memory://``, ``sqlite:///path/to/file.db`` (or a bare path), ``postgresql://…[?schema=name]``."""
    if url.startswith("memory:"):
        return StoreUrl("memory")
    if url.startswith("sqlite:///"):
        return StoreUrl("sqlite", path=url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return StoreUrl("sqlite", path=url.removeprefix("sqlite:"))
    if url.startswith(("postgresql://", "postgres://")):
        dsn, schema = split_schema(url)
        return StoreUrl("postgres", dsn=dsn, schema=schema)
    if "://" not in url:
        return StoreUrl("sqlite", path=url)
    raise ValueError(
        f"unsupported store URL: {url!r} (use memory://, sqlite:///path or postgresql://user@host/db)"
    )


def split_schema(url: str) -> tuple[str, str | None]:
    """``postgresql://…?schema=name`` -> (the libpq URL without it, name): one schema per deployment."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), None)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def check_schema(schema: str | None) -> str | None:
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema must be a lowercase identifier of at most 48 characters: {schema!r}")
    return schema


def connect_kwargs(schema: str | None) -> dict[str, Any]:
    """Session settings every connection of a store (and its notifier) uses."""
    options = "-c TimeZone=UTC"
    if schema is not None:
        options += f" -c search_path={schema}"
    return {"options": options, "application_name": "rosetta"}


def events_channel(schema: str | None) -> str:
    """The NOTIFY channel of a store: ``rosetta_events``, or one per schema so isolated stores
    sharing a database (tests) do not wake each other's subscribers."""
    return EVENTS_CHANNEL if schema is None else f"{EVENTS_CHANNEL}_{schema}"
