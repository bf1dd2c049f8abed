"""The seam handed to every style: InstrumentedApi measures the operations and forwards the rest."""

from __future__ import annotations

import pytest

from gateway.observability import InstrumentedApi, Metrics
from services.core import ReservationDraft, ReservationQuery, ServerApi
from services.core.errors import RoomNotFound
from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.store import MemoryStore


def sample(metrics: Metrics, name: str, labels: dict[str, str]) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_operations_are_counted_and_classified_and_the_rest_passes_through() -> None:
    service = ReservationService(MemoryStore(), notifier=InProcessNotifier())
    metrics = Metrics()
    api = InstrumentedApi(service, "rest", metrics)
    assert isinstance(api, ServerApi) and isinstance(service, ServerApi)

    await api.get_room("room-a")
    with pytest.raises(RoomNotFound):
        await api.get_room("room-z")
    calls = {"style": "rest", "operation": "getRoom"}
    assert sample(metrics, "rosetta_operations_total", calls) == 2
    assert sample(metrics, "rosetta_operation_errors_total", {**calls, "code": "ROOM_NOT_FOUND"}) == 1
    assert sample(metrics, "rosetta_operation_seconds_count", calls) == 2

    draft = ReservationDraft(
        room_id="room-a",
        guest_name="Ada",
        date="2031-05-02",
        start_time="09:00",
        end_time="10:00",
        attendees=2,
    )
    created = await api.create_reservation(draft, idempotency_key="seam-1")
    assert (await api.create_reservation(draft, idempotency_key="seam-1")) == created
    found, total = await api.search_reservations(ReservationQuery(), offset=0, limit=10)
    assert total == 1 and found == [created]
    assert (await api.get_rooms(["room-a"]))["room-a"].room_id == "room-a"
    assert [r.reservation_id for r in (await api.reservations_of_rooms(["room-a"]))["room-a"]] == [
        created.reservation_id
    ]
    assert await api.last_event_sequence() == 1
    stream = api.stream_events(0)
    assert (await anext(stream)).data["reservationId"] == created.reservation_id
    await stream.aclose()
    # Pass-through reads are not use cases of their own: nothing counted for them.
    assert (
        sample(metrics, "rosetta_operations_total", {"style": "rest", "operation": "listReservations"}) == 0
    )
