"""Quotas across processes: the compose topology as local processes (tests/support/topology.py) on the
local PostgreSQL and Redis, one client's burst spread over two containers and two styles (SOAP and gRPC,
each its own process) draining one bucket, while another client's bucket stays full."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2

from services.grpc.errors import rich_status_of
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from tests.soap.envelopes import envelope, fault_of, parse
from tests.support.topology import COMPOSE, Topology, compose_topology

BURST = 6
GET_ROOM = envelope("<r:GetRoom><r:roomId>room-a</r:roomId></r:GetRoom>")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    env = {
        # One token a minute: nothing refills while the test runs, so every count is exact.
        "ROSETTA_RATE_LIMIT": f"1/min burst {BURST}",
        "ROSETTA_REDIS_KEY_PREFIX": f"topology-{uuid.uuid4().hex[:12]}",  # parallel runs keep apart
    }
    if "ROSETTA_REDIS_URL" not in COMPOSE["x-rosetta"]["environment"]:
        env["ROSETTA_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    with compose_topology(tmp_path_factory.mktemp("quota"), extra_env=env) as running:
        yield running


def soap_get_room(topology: Topology, key: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{topology.hosts['soap']}/soap",
        content=GET_ROOM,
        headers={"Content-Type": "text/xml; charset=utf-8", "X-Api-Key": key},
        timeout=10,
    )


async def grpc_get_room(topology: Topology, key: str) -> grpc.aio.AioRpcError | None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{topology.grpc_ports['grpc']}") as channel:
        stub = pb_grpc.ReservationServiceStub(channel)
        try:
            request = pb.GetRoomRequest(room_id="room-a")
            await stub.GetRoom(request, metadata=(("x-api-key", key),), timeout=10)
        except grpc.aio.AioRpcError as failure:
            return failure
    return None


def test_every_style_process_shares_the_redis_buckets(topology: Topology) -> None:
    for name in ("rest", "graphql", "grpc", "soap", "websocket"):
        quota = httpx.get(f"http://127.0.0.1:{topology.hosts[name]}/healthz", timeout=10).json()["quota"]
        expected = ("redis", "up", f"1/min burst {BURST}")
        assert (quota["backend"], quota["status"], quota["rateLimit"]) == expected, name


async def test_one_clients_burst_over_two_processes_and_two_styles_drains_one_bucket(
    topology: Topology,
) -> None:
    # Two clients the topology made in the shared store (tests/support/topology.py CLIENTS).
    ada, bob = topology.clients["reader"]["apiKey"], topology.clients["stranger"]["apiKey"]
    for _ in range(BURST // 2):  # half the burst through the SOAP process, half through the gRPC one
        assert soap_get_room(topology, ada).status_code == 200
        assert await grpc_get_room(topology, ada) is None

    refused = soap_get_room(topology, ada)
    fault = fault_of(refused.content)
    assert (refused.status_code, fault["faultcode"]) == (500, "soap11env:Client.RATE_LIMITED")
    wait = float(parse(refused.content).findtext(".//{urn:rosetta:reservations:v1}retryAfter") or "0")
    assert 50 < wait <= 60  # one token a minute, by Redis's clock

    failure = await grpc_get_room(topology, ada)
    assert failure is not None and failure.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rich_status_of(failure)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status.details if detail.Is(retry.DESCRIPTOR))
    assert 50 < retry.retry_delay.seconds <= 60

    # Another client's bucket is its own, in both processes.
    assert soap_get_room(topology, bob).status_code == 200
    assert await grpc_get_room(topology, bob) is None
