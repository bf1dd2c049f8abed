"""A reused idempotency key with any fingerprint field changed is IDEMPOTENCY_KEY_REUSED, in every style.

The conformance matrix compares each style with the core, so a fingerprint that forgets a field in the
core itself would pass there (the core would replay in both). Here the expectation is absolute: every
field of createReservation and of cancelReservation takes part in the fingerprint, and so does the
operation, through the core and through each style's own client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from services.core.api import ReservationApi
from services.core.errors import IdempotencyKeyReused, RosettaError
from services.core.events import InProcessNotifier
from services.core.model import ReservationDraft
from services.core.service import ReservationService
from services.store import MemoryStore
from tests.conformance.targets import style_client
from tests.support.server import LiveServer, live_server

STYLES = ("core", "rest", "graphql", "grpc", "soap", "websocket")

# createReservation's fingerprint fields: each changed alone to another value the core would accept.
CREATE_CHANGES: dict[str, Any] = {
    "roomId": {"room_id": "room-c"},
    "guestName": {"guest_name": "Grace Hopper"},
    "date": {"date": "+1"},
    "startTime": {"start_time": "09:30"},
    "endTime": {"end_time": "10:30"},
    "attendees": {"attendees": 2},
    "purpose": {"purpose": "exam prep"},
    "purpose (now absent)": {"purpose": None},
}
CANCEL_CHANGES = ("reason", "reason (now absent)", "reservationId", "operation (create, then cancel)")

_days = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@contextlib.asynccontextmanager
async def _api(style: str, server: LiveServer) -> AsyncIterator[ReservationApi]:
    if style == "core":
        yield ReservationService(MemoryStore(), notifier=InProcessNotifier())
        return
    client = style_client(style, server)
    try:
        yield client
    finally:
        await client.aclose()


def _draft() -> ReservationDraft:
    day = 1 + next(_days)
    return ReservationDraft(
        room_id="room-b",
        guest_name="Ada Lovelace",
        date=f"2036-{1 + day // 28:02d}-{1 + day % 28:02d}",
        start_time="09:00",
        end_time="10:00",
        attendees=3,
        purpose="study group",
    )


async def _refused(call: Any) -> RosettaError | None:
    try:
        await call
    except RosettaError as error:
        return error
    return None


@pytest.mark.parametrize("field", list(CREATE_CHANGES))
@pytest.mark.parametrize("style", STYLES)
async def test_create_with_a_reused_key_and_one_field_changed_is_refused(
    server: LiveServer, style: str, field: str
) -> None:
    first = _draft()
    change = dict(CREATE_CHANGES[field])
    if change.get("date") == "+1":
        assert first.date is not None
        change["date"] = first.date[:-2] + f"{int(first.date[-2:]) % 28 + 1:02d}"
    second = dataclasses.replace(first, **change)
    key = f"fp-{uuid.uuid4().hex}"
    async with _api(style, server) as api:
        await api.create_reservation(first, idempotency_key=key)
        error = await _refused(api.create_reservation(second, idempotency_key=key))
    assert isinstance(error, IdempotencyKeyReused), (
        f"{style}: a reused idempotency key with a different {field} was not refused as "
        f"IDEMPOTENCY_KEY_REUSED (got {error!r}): the create fingerprint ignores {field}"
    )


@pytest.mark.parametrize("change", CANCEL_CHANGES)
@pytest.mark.parametrize("style", STYLES)
async def test_cancel_with_a_reused_key_and_one_field_changed_is_refused(
    server: LiveServer, style: str, change: str
) -> None:
    key = f"fp-{uuid.uuid4().hex}"
    async with _api(style, server) as api:
        one = await api.create_reservation(_draft())
        other = await api.create_reservation(_draft())
        if change == "operation (create, then cancel)":
            await api.create_reservation(_draft(), idempotency_key=key)
            error = await _refused(
                api.cancel_reservation(one.reservation_id, reason="r", idempotency_key=key)
            )
        else:
            await api.cancel_reservation(one.reservation_id, reason="exam moved", idempotency_key=key)
            target, reason = one.reservation_id, "exam moved"
            again: str | None = reason
            if change == "reason":
                again = "room too cold"
            elif change == "reason (now absent)":
                again = None
            else:
                target = other.reservation_id
            error = await _refused(api.cancel_reservation(target, reason=again, idempotency_key=key))
    assert isinstance(error, IdempotencyKeyReused), (
        f"{style}: a reused idempotency key with a different {change} was not refused as "
        f"IDEMPOTENCY_KEY_REUSED (got {error!r}): the cancel fingerprint ignores it"
    )
