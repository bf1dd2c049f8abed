"""Health checking and server reflection: what generic gRPC tooling finds knowing only the address."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pool, json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_requests import ReflectionClient

from services.core.model import parse_timestamp
from services.grpc.client import GrpcClient
from tests.grpc.factories import draft

SERVICE = "rosetta.reservations.v1.ReservationService"


@pytest.mark.parametrize("service", [SERVICE, ""])
async def test_health_reports_serving(target: str, service: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]  # types-grpcio-health-checking: no RPCs on HealthStub
            health_pb2.HealthCheckRequest(service=service)
        )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_of_an_unknown_service_is_not_found(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]  # types-grpcio-health-checking: no RPCs on HealthStub
                health_pb2.HealthCheckRequest(service="nope.Service")
            )
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_reflection_client_lists_and_calls_the_service(target: str) -> None:
    async with GrpcClient(target) as api:
        created = await api.create_reservation(draft())

    # A fresh descriptor pool: the reflection client learns every message from the server.
    client = ReflectionClient(target, descriptor_pool=descriptor_pool.DescriptorPool())
    try:
        assert SERVICE in client.service_names
        assert "grpc.health.v1.Health" in client.service_names
        response = client.request(
            SERVICE, "GetReservation", {"reservationId": created.reservation_id}, raw_output=True
        )
    finally:
        client.channel.close()
    # The proto3 JSON names are the camelCase names of every other style.
    received = json_format.MessageToDict(response)["reservation"]
    assert parse_timestamp(received.pop("createdAt")) == created.created_at
    assert parse_timestamp(received.pop("updatedAt")) == created.updated_at
    expected = {
        k: v for k, v in created.to_dict().items() if k not in ("createdAt", "updatedAt") and v is not None
    }
    assert received == {**expected, "status": "RESERVATION_STATUS_RESERVED"}
