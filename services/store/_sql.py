"""What the SQL stores share, so that no store imports a sibling's internals.

- The reservations table's column lists and the portable WHERE / ORDER BY clauses, written once
  for SQLite (``?``) and PostgreSQL (``%s``).
- The PostgreSQL connection settings every component on one database uses (the reservations
  store, its notifier, the webhook store and the gateway's identity store): the schema-name
  check, the session options, the advisory lock that serializes migrations and the NOTIFY
  channel of the event log.

Standard library only: importing it loads no database driver.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.core.ports import ReservationFilter, SortKey

# --- the reservations table -------------------------------------------------------------------------

COLUMNS = (
    "reservation_id, room_id, guest_name, date, start_time, end_time, attendees, purpose, "
    "status, cancel_reason, version, created_at, updated_at, owner"
)
# What writes set: the columns read back, and the search key derived from the name.
WRITE_COLUMNS = COLUMNS + ", guest_search"
SORT_COLUMNS = {"date": "date", "start_time": "start_time", "created_at": "created_at"}


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


# --- PostgreSQL connections -------------------------------------------------------------------------

EVENTS_CHANNEL = "rosetta_events"
MIGRATION_LOCK = 0x526F73657474_01  # pg_advisory lock key: one migrator per database at a time
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")


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
