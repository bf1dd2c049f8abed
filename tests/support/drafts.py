"""The reservation draft every test starts from: valid as it is, any field overridden by name; and a
reservation as the core returns one, for tests that need a stored value without a store."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from services.core.model import Reservation, ReservationDraft, ReservationStatus

DRAFT = ReservationDraft(
    room_id="room-b",
    guest_name="Grace Hopper",
    date="2026-12-01",
    start_time="09:00",
    end_time="10:00",
    attendees=3,
    purpose="compiler study group",
)


def draft(**overrides: Any) -> ReservationDraft:
    """``DRAFT`` with the given fields replaced (a value of any type: tests of refusals pass wrong ones)."""
    return dataclasses.replace(DRAFT, **overrides)


NOW = datetime(2031, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
SAMPLE = Reservation(
    reservation_id="rsv_sample",
    room_id="room-a",
    guest_name="Ada",
    date="2031-03-05",
    start_time="09:00",
    end_time="10:00",
    attendees=2,
    purpose=None,
    status=ReservationStatus.RESERVED,
    cancel_reason=None,
    version=1,
    created_at=NOW,
    updated_at=NOW,
)
