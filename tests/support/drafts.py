"""The reservation draft every test starts from: valid as it is, any field overridden by name."""

from __future__ import annotations

import dataclasses
from typing import Any

from services.core.model import ReservationDraft

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
