"""Server policies that need a controllable core: deadlines, cancellation, internal errors, size limits.

A fake core (same methods as ReservationService) stands in for the real one, so a call can be
made slow, endless or broken on purpose; the gRPC server in front of it is the real one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.core.errors import InternalError, PayloadTooLarge
from services.core.model import Event, Reservation, ReservationDraft
from services.core.service import ReservationService
from services.grpc.client import GrpcClient
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from services.grpc.server import GrpcOptions, start_server
from tests.support.drafts import NOW, SAMPLE

WAIT = 5.0


class FakeCore:
    """Records what reaches the core; get_reservation hangs, list_rooms breaks, the stream never ends."""

    def __init__(self) -> None:
        self.work_started = asyncio.Event()
        self.work_cancelled = asyncio.Event()
        self.stream_closed = asyncio.Event()
        self.drafts: list[tuple[ReservationDraft, str | None]] = []

    async def get_reservation(self, reservation_id: str) -> Reservation:
        self.work_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.work_cancelled.set()
            raise
        raise AssertionError("unreachable")

    async def list_rooms(self) -> list[Any]:
        raise RuntimeError("secret connection string in this message")

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        self.drafts.append((draft, idempotency_key))
        return SAMPLE

    async def stream_events(
        self, after: int = 0, *, types: Sequence[str] | None = None
    ) -> AsyncIterator[Event]:
        try:
            yield Event("evt_1", after + 1, "reservation.created", NOW, SAMPLE.to_dict())
            await asyncio.Event().wait()
        finally:
            self.stream_closed.set()


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeCore, str]]:
    core = FakeCore()
    options = GrpcOptions(host="127.0.0.1", port=0, max_message_bytes=4096)
    server, port = await start_server(cast(ReservationService, core), options)
    assert port > 0
    try:
        yield core, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_work_stops_when_the_deadline_expires(fake: tuple[FakeCore, str]) -> None:
    core, target = fake
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ReservationServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetReservation(pb.GetReservationRequest(reservation_id="rsv_sample"), timeout=0.3)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert core.work_started.is_set()
    await asyncio.wait_for(core.work_cancelled.wait(), WAIT)


async def test_cancelling_a_watch_stops_the_core_iterator(fake: tuple[FakeCore, str]) -> None:
    core, target = fake
    async with GrpcClient(target) as api:
        stream = api.stream_events(41)
        event = await asyncio.wait_for(anext(stream), WAIT)
        assert (event.sequence, event.data) == (42, SAMPLE.to_dict())
        assert not core.stream_closed.is_set()
        await stream.aclose()
        await asyncio.wait_for(core.stream_closed.wait(), WAIT)


async def test_a_watch_deadline_stops_the_core_iterator(fake: tuple[FakeCore, str]) -> None:
    core, target = fake
    async with grpc.aio.insecure_channel(target) as channel:
        call = pb_grpc.ReservationServiceStub(channel).WatchEvents(pb.WatchEventsRequest(), timeout=0.3)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(core.stream_closed.wait(), WAIT)


async def test_unexpected_errors_are_internal_generic_and_logged(
    fake: tuple[FakeCore, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, target = fake
    with caplog.at_level(logging.ERROR, logger="rosetta.grpc"):
        async with GrpcClient(target, language="ko") as api:
            with pytest.raises(InternalError) as caught:
                await api.list_rooms()
    assert str(caught.value) == "서버에서 예기치 않은 오류가 발생했습니다."
    assert "secret" not in str(caught.value)
    [record] = [r for r in caplog.records if r.name == "rosetta.grpc"]
    assert "ListRooms" in record.getMessage()
    assert record.exc_info is not None


async def test_absent_fields_reach_the_core_as_none_with_the_idempotency_key(
    fake: tuple[FakeCore, str],
) -> None:
    core, target = fake
    async with GrpcClient(target) as api:
        created = await api.create_reservation(
            ReservationDraft(room_id="room-a", attendees=2, purpose=""), idempotency_key="key-7"
        )
    assert created == SAMPLE
    assert core.drafts == [(ReservationDraft(room_id="room-a", attendees=2, purpose=""), "key-7")]


async def test_messages_over_the_size_limit_are_refused(fake: tuple[FakeCore, str]) -> None:
    core, target = fake
    async with GrpcClient(target) as api:
        with pytest.raises(PayloadTooLarge):
            await api.create_reservation(ReservationDraft(purpose="x" * 5000))
    assert core.drafts == []


async def test_stopping_reports_not_serving_to_health_watchers() -> None:
    running, port = await start_server(cast(ReservationService, FakeCore()), GrpcOptions(port=0))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        request = health_pb2.HealthCheckRequest(service="rosetta.reservations.v1.ReservationService")
        watch = health_pb2_grpc.HealthStub(channel).Watch(  # type: ignore[attr-defined]  # types-grpcio-health-checking: no RPCs on HealthStub
            request
        )
        statuses = aiter(watch)
        assert (
            await asyncio.wait_for(anext(statuses), WAIT)
        ).status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(running.stop(grace=1.0))
        update = await asyncio.wait_for(anext(statuses), WAIT)
        assert update.status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
        await stopping
