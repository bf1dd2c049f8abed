"""RATE_LIMITED on the gRPC wire: RESOURCE_EXHAUSTED with google.rpc.RetryInfo and QuotaFailure details,
as a plain grpcio client reads them, and the Rosetta client turning them back into the core's error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest
from google.rpc import error_details_pb2

from services.core.errors import PayloadTooLarge, RateLimited
from services.core.model import Room
from services.core.service import ReservationService
from services.grpc.client import GrpcClient
from services.grpc.errors import rich_status_of
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from services.grpc.server import GrpcOptions, start_server


class SpentQuotaCore:
    """Room lookups are refused as a spent quota would refuse them; ``room-big`` is too large instead."""

    async def get_room(self, room_id: str) -> Room:
        if room_id == "room-big":
            raise PayloadTooLarge(params={"limit": 10})
        raise RateLimited(params={"retryAfter": 1.25, "subject": "client:ada"})


@pytest.fixture
async def target() -> AsyncIterator[str]:
    server, port = await start_server(cast(ReservationService, SpentQuotaCore()), GrpcOptions(port=0))
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)


def unpacked(failure: grpc.aio.AioRpcError) -> dict[str, Any]:
    status = rich_status_of(failure)
    assert status is not None
    found: dict[str, Any] = {}
    for packed in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RetryInfo,
            error_details_pb2.QuotaFailure,
            error_details_pb2.LocalizedMessage,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                found[kind.__name__] = message
    return found


async def test_a_spent_quota_is_resource_exhausted_with_retry_info_and_quota_failure(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ReservationServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetRoom(pb.GetRoomRequest(room_id="room-a"), metadata=(("accept-language", "ko"),))
    failure = caught.value
    assert failure.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert failure.details() == "요청이 너무 많습니다. 잠시 후 다시 시도하세요."
    found = unpacked(failure)
    assert found["ErrorInfo"].reason == "RATE_LIMITED"
    delay = found["RetryInfo"].retry_delay
    assert (delay.seconds, delay.nanos) == (1, 250_000_000)
    [violation] = found["QuotaFailure"].violations
    assert (violation.subject, violation.description) == ("client:ada", failure.details())


async def test_payload_too_large_shares_the_status_but_carries_no_quota_details(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ReservationServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetRoom(pb.GetRoomRequest(room_id="room-big"))
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    found = unpacked(caught.value)
    assert found["ErrorInfo"].reason == "PAYLOAD_TOO_LARGE"
    assert "RetryInfo" not in found and "QuotaFailure" not in found


async def test_the_client_reads_the_wait_back(target: str) -> None:
    async with GrpcClient(target) as api:
        with pytest.raises(RateLimited) as refused:
            await api.get_room("room-a")
    assert refused.value.retry_after == 1.25
