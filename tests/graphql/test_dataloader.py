"""No N+1: nested room/reservations fields are batched by DataLoaders (counted at the repositories)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self

import pytest

from services.core.model import ReservationDraft
from services.core.ports import (
    EventLog,
    IdempotencyRecords,
    ReservationRepository,
    RoomRepository,
    UnitOfWork,
)
from services.core.service import ReservationService
from services.graphql.app import GraphQLOptions
from services.graphql.context import RosettaContext
from services.graphql.schema import RosettaSchema, build_schema
from services.store.reservations.memory import MemoryStore, MemoryUnitOfWork


class _CountedRepository:
    """Forwards every call to a real repository and records ``"<repository>.<method>"``."""

    def __init__(self, inner: Any, name: str, calls: list[str]) -> None:
        self._inner, self._name, self._calls = inner, name, calls

    def __getattr__(self, method: str) -> Callable[..., Coroutine[Any, Any, Any]]:
        target = getattr(self._inner, method)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(f"{self._name}.{method}")
            return await target(*args, **kwargs)

        return counted


class _CountedUnitOfWork:
    def __init__(self, inner: MemoryUnitOfWork, calls: list[str]) -> None:
        self._inner = inner
        self.rooms: RoomRepository = _CountedRepository(inner.rooms, "rooms", calls)
        self.reservations: ReservationRepository = _CountedRepository(
            inner.reservations, "reservations", calls
        )
        self.events: EventLog = _CountedRepository(inner.events, "events", calls)
        self.idempotency: IdempotencyRecords = inner.idempotency

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._inner.commit()


class CountingStore:
    """A MemoryStore whose repositories count their calls: a fake of the Store port, not a mock."""

    def __init__(self) -> None:
        self._memory = MemoryStore()
        self.calls: list[str] = []

    def unit_of_work(self) -> UnitOfWork:
        return _CountedUnitOfWork(self._memory.unit_of_work(), self.calls)

    async def open(self) -> None:
        await self._memory.open()

    async def close(self) -> None:
        await self._memory.close()

    async def ping(self) -> None:
        await self._memory.ping()


@pytest.fixture
async def seeded() -> tuple[ReservationService, CountingStore]:
    store = CountingStore()
    service = ReservationService(store)
    rooms = ("room-a", "room-b", "room-c", "room-d")
    for n in range(50):
        await service.create_reservation(
            ReservationDraft(
                room_id=rooms[n % 4],
                guest_name=f"Guest {n}",
                date=f"2031-03-{n // 4 + 1:02d}",
                start_time="09:00",
                end_time="10:00",
                attendees=1,
            )
        )
    store.calls.clear()
    return service, store


@pytest.fixture(scope="module")
def schema() -> RosettaSchema:
    return build_schema(GraphQLOptions())


async def test_fifty_reservations_with_their_rooms_cost_two_store_calls(
    seeded: tuple[ReservationService, CountingStore], schema: RosettaSchema
) -> None:
    service, store = seeded

    result = await schema.execute(
        "{ reservations(pageSize: 50) { totalItems items { reservationId room { roomId name } } } }",
        context_value=RosettaContext(service, "en"),
    )

    assert result.errors is None and result.data is not None
    page = result.data["reservations"]
    assert page["totalItems"] == 50
    assert len(page["items"]) == 50
    assert {item["room"]["roomId"] for item in page["items"]} == {"room-a", "room-b", "room-c", "room-d"}
    assert store.calls == ["reservations.search", "rooms.get_many"]


async def test_rooms_with_their_reservations_and_rooms_again_cost_three_store_calls(
    seeded: tuple[ReservationService, CountingStore], schema: RosettaSchema
) -> None:
    service, store = seeded

    result = await schema.execute(
        "{ rooms { roomId reservations { guestName room { capacity } } } }",
        context_value=RosettaContext(service, "en"),
    )

    assert result.errors is None and result.data is not None
    counts = {room["roomId"]: len(room["reservations"]) for room in result.data["rooms"]}
    assert counts == {"room-a": 13, "room-b": 13, "room-c": 12, "room-d": 12}
    assert store.calls == ["rooms.list", "reservations.search", "rooms.get_many"]
