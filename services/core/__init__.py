"""Rosetta's domain core: model, rules, use cases and ports. Standard library only."""

from services.core.api import OPERATIONS, ReservationApi, ServerApi
from services.core.errors import ERRORS_BY_CODE, RosettaError, error_from_code
from services.core.model import (
    Event,
    EventType,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    ReservationStatus,
    Room,
)
from services.core.service import ReservationService

__all__ = [
    "ERRORS_BY_CODE",
    "OPERATIONS",
    "Event",
    "EventType",
    "Reservation",
    "ReservationApi",
    "ReservationChanges",
    "ReservationDraft",
    "ReservationPage",
    "ReservationQuery",
    "ReservationService",
    "ReservationStatus",
    "RosettaError",
    "Room",
    "ServerApi",
    "error_from_code",
]
