"""Test data for the gRPC tests."""

from __future__ import annotations

import itertools

from services.core.model import ReservationDraft

_days = itertools.count()


def draft(**changes: object) -> ReservationDraft:
    """A valid draft on a date no other test uses, so reservations never clash by accident."""
    day = next(_days)
    values: dict[str, object] = {
        "room_id": "room-b",
        "guest_name": "Ada Lovelace",
        "date": f"2031-{1 + day // 28:02d}-{1 + day % 28:02d}",
        "start_time": "10:00",
        "end_time": "11:00",
        "attendees": 3,
        "purpose": "Study group",
    }
    values.update(changes)
    return ReservationDraft(**values)  # type: ignore[arg-type]
