"""Quotas on every wire, one live gateway with authentication on: one bucket drained by calls in four
styles, each style's refusal with its wait, the RateLimit fields on HTTP answers, and the per-client
limit on open streams."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from websockets.asyncio.client import connect

from services.grpc.errors import rich_status_of
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from tests.soap.envelopes import envelope, fault_of, parse
from tests.support.credentials import Credential, provision
from tests.support.server import LiveServer, live_server
from tests.support.subprotocols import ROSETTA_V1

BURST = 4
names = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # One token a minute: nothing refills while a test runs, so every count and wait is exact.
    with live_server(auth=True, rate_limit=f"1/min burst {BURST}", stream_limit=1) as running:
        yield running


@pytest.fixture
def client(server: LiveServer) -> Credential:
    return provision(server, f"quota-{next(names)}")  # a fresh client: a full bucket


def graphql(server: LiveServer, key: str) -> httpx.Response:
    return httpx.post(
        server.base_url + "/graphql", json={"query": "{ rooms { roomId } }"}, headers={"X-Api-Key": key}
    )


def soap(server: LiveServer, key: str) -> httpx.Response:
    return httpx.post(
        server.base_url + "/soap",
        content=envelope("<r:GetRoom><r:roomId>room-a</r:roomId></r:GetRoom>"),
        headers={"Content-Type": "text/xml; charset=utf-8", "X-Api-Key": key},
    )


async def grpc_call(server: LiveServer, key: str) -> grpc.aio.AioRpcError | None:
    assert server.grpc_target is not None
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        try:
            await pb_grpc.ReservationServiceStub(channel).GetRoom(
                pb.GetRoomRequest(room_id="room-a"), metadata=(("x-api-key", key),)
            )
        except grpc.aio.AioRpcError as failure:
            return failure
    return None


def ws_url(server: LiveServer) -> str:
    return server.base_url.replace("http://", "ws://") + "/ws"


async def websocket(server: LiveServer, key: str) -> dict[str, object]:
    async with connect(
        ws_url(server),
        subprotocols=[ROSETTA_V1],
        additional_headers={"X-Api-Key": key},
    ) as ws:
        await ws.send(json.dumps({"id": 1, "type": "getRoom", "payload": {"roomId": "room-a"}}))
        answer: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return answer


async def test_one_bucket_for_every_style_and_each_style_refuses_with_the_wait(
    server: LiveServer, client: Credential
) -> None:
    key = client.api_key
    first = graphql(server, key)
    assert first.status_code == 200
    assert first.headers["ratelimit-policy"] == f'"default";q={BURST};w={BURST * 60}'
    assert first.headers["ratelimit"] == f'"default";r={BURST - 1};t=60'
    second = soap(server, key)
    assert second.status_code == 200 and second.headers["ratelimit"] == f'"default";r={BURST - 2};t=120'
    assert await grpc_call(server, key) is None
    assert (await websocket(server, key))["type"] == "result"  # the fourth token

    refused = graphql(server, key)
    assert refused.status_code == 429
    assert 50 <= int(refused.headers["retry-after"]) <= 60
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED" and 50 < error["extensions"]["retryAfter"] <= 60

    fault = soap(server, key)
    assert fault_of(fault.content)["faultcode"] == "soap11env:Client.RATE_LIMITED"
    assert 50 <= int(fault.headers["retry-after"]) <= 60
    assert 50 < float(parse(fault.content).findtext(".//{urn:rosetta:reservations:v1}retryAfter") or 0) <= 60

    failure = await grpc_call(server, key)
    assert failure is not None and failure.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rich_status_of(failure)
    assert status is not None
    kinds = {detail.type_url.rsplit(".", 1)[-1] for detail in status.details}
    assert {"ErrorInfo", "RetryInfo", "QuotaFailure"} <= kinds
    retry = error_details_pb2.RetryInfo()
    next(detail for detail in status.details if detail.Is(retry.DESCRIPTOR)).Unpack(retry)
    assert 50 < retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9 <= 60

    frame = await websocket(server, key)
    payload = frame["payload"]
    assert isinstance(payload, dict)
    assert (frame["type"], payload["code"]) == ("error", "RATE_LIMITED")
    assert 50 < payload["retryAfter"] <= 60

    metrics = httpx.get(server.base_url + "/metrics").text
    for style in ("graphql", "soap", "grpc", "websocket"):
        labels = f'client="{client.client_id}",code="RATE_LIMITED",style="{style}"'
        assert f"rosetta_access_refusals_total{{{labels}}} 1.0" in metrics


async def test_a_second_open_stream_of_one_client_is_refused(server: LiveServer, client: Credential) -> None:
    subscribe = {"id": 1, "type": "subscribe", "payload": {"after": 0}}
    headers = {"X-Api-Key": client.api_key}
    async with connect(ws_url(server), subprotocols=[ROSETTA_V1], additional_headers=headers) as first:
        await first.send(json.dumps(subscribe))
        assert json.loads(await asyncio.wait_for(first.recv(), 10))["type"] == "result"
        async with connect(ws_url(server), subprotocols=[ROSETTA_V1], additional_headers=headers) as second:
            await second.send(json.dumps(subscribe))
            refused = json.loads(await asyncio.wait_for(second.recv(), 10))
    assert (refused["type"], refused["payload"]["code"]) == ("error", "RATE_LIMITED")


def test_graphql_is_charged_by_the_cost_of_its_operation() -> None:
    # One token per 100 cost units (services/graphql/cost.py): a small query takes one token like a
    # REST request; one that reaches into every room's reservations takes dozens.
    cheap = '{ room(roomId: "room-a") { roomId name } }'  # cost 3: one token
    page = "{ reservations(pageSize: 100) { items { reservationId guestName } } }"  # 202: three tokens
    costly = "{ rooms { roomId reservations(first: 100) { guestName } } }"  # 1 + 50 x 102 = 5101: 52
    with live_server(auth=True, rate_limit="1/min burst 100") as server:
        key = provision(server, "graphql-cost").api_key
        left = []
        for query in (cheap, page, costly, cheap):
            answer = httpx.post(
                server.base_url + "/graphql", json={"query": query}, headers={"X-Api-Key": key}
            )
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
            left.append(answer.headers["ratelimit"].split(";")[1])
    assert left == ["r=99", "r=96", "r=44", "r=43"]


async def test_graphql_operations_over_the_websocket_are_charged_too(
    server: LiveServer, client: Credential
) -> None:
    answers: list[dict[str, Any]] = []
    async with connect(
        ws_url(server).removesuffix("/ws") + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"X-Api-Key": client.api_key},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for number in range(BURST + 1):  # a query over the socket, one token each
            query = {"query": "{ rooms { roomId } }"}
            await ws.send(json.dumps({"id": str(number), "type": "subscribe", "payload": query}))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
            answers.append(answer)
            if answer["type"] == "next":
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "complete"
    assert [answer["type"] for answer in answers] == ["next"] * BURST + ["error"]
    [refusal] = answers[-1]["payload"]
    assert refusal["extensions"]["code"] == "RATE_LIMITED" and 50 < refusal["extensions"]["retryAfter"] <= 60
