"""Test data for the gRPC tests."""

from __future__ import annotations

import itertools

from services.core.model import ReservationDraft
from tests.support.drafts import draft as base_draft

_days = itertools.count()


def draft(**changes: object) -> ReservationDraft:
    """A valid draft on a date no other test uses, so reservations never clash by accident."""
    day = next(_days)
    date = f"2031-{1 + day // 28:02d}-{1 + day % 28:02d}"
    return base_draft(
        **{"guest_name": "Ada Lovelace", "date": date, "start_time": "10:00", "end_time": "11:00"}
        | {"purpose": "Study group"}
        | changes
    )
