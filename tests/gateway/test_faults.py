"""The fault injector: refused outside workshop mode; in it, every style fails alike, in its own words."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from websockets.asyncio.client import connect

from gateway.app import build_runtime
from gateway.faults import Fault, FaultInjector, FaultsRefused, parse_faults
from gateway.settings import Settings
from services.core.errors import InternalError, Unavailable
from services.core.model import ReservationDraft, ReservationQuery
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from tests.soap.envelopes import envelope, fault_of, parse
from tests.support.server import LiveServer, live_server

STYLES = ("rest", "graphql", "grpc", "soap", "websocket")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workshop=True) as running:
        yield running


def _client(style: str, server: LiveServer) -> Any:
    if style == "rest":
        from services.rest.client import RestClient

        return RestClient(server.base_url)
    if style == "graphql":
        from services.graphql.client import GraphQLClient

        return GraphQLClient(server.base_url)
    if style == "grpc":
        from services.grpc.client import GrpcClient

        assert server.grpc_target is not None
        return GrpcClient(server.grpc_target)
    if style == "soap":
        from services.soap.client import SoapClient

        return SoapClient(server.base_url)
    from services.websocket.client import WebSocketClient

    return WebSocketClient(server.base_url)


def _draft(guest: str, hour: int) -> ReservationDraft:
    return ReservationDraft(
        room_id="room-c",
        guest_name=guest,
        date="2029-03-0" + str(1 + STYLES.index(guest.split()[0]) % 9),
        start_time=f"{hour:02d}:00",
        end_time=f"{hour:02d}:30",
        attendees=1,
    )


async def _held(server: LiveServer, guest: str) -> int:
    page = await server.runtime.service.list_reservations(ReservationQuery(guest_name=guest))
    return page.total_items


def test_faults_are_refused_outside_workshop_mode() -> None:
    with pytest.raises(FaultsRefused, match="--workshop"):
        build_runtime(Settings(db="memory://", faults="rest.createReservation:drop=1"))
    assert build_runtime(Settings(db="memory://")).faults is None


def test_the_cli_refuses_a_fault_without_workshop() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--db", "memory://", "--fault", "rest.getRoom:fail=1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "needs --workshop" in done.stderr


def test_rules_are_validated() -> None:
    assert parse_faults("rest.createReservation:drop=0.5,times=2;*.getRoom:latencyMs=200") == [
        Fault("rest", "createReservation", drop=0.5, times=2),
        Fault("*", "getRoom", latency_ms=200),
    ]
    for bad in ("rest.bookAll:drop=1", "ftp.getRoom:fail=1", "rest.getRoom:drop=2", "rest.getRoom:drop=x"):
        with pytest.raises(ValueError):
            parse_faults(bad)


def test_times_retires_a_rule() -> None:
    injector = FaultInjector([Fault("rest", "getRoom", fail=1.0, times=2)])
    decisions = [injector.decide("rest", "getRoom")[1] for _ in range(3)]
    assert decisions == ["fail", "fail", None]
    assert injector.decide("grpc", "getRoom") == (0, None)
    assert injector.snapshot()["injected"] == {"rest.getRoom.fail": 2}


async def test_a_caller_s_view_keeps_the_faults() -> None:
    from services.core.access import Principal, Scope

    runtime = build_runtime(Settings(db="memory://", workshop=True, faults="rest.getRoom:fail=1"))
    await runtime.store.open()
    try:
        principal = Principal(client_id="demo", scopes=frozenset({Scope.READ}))
        view = runtime.style_api("rest").acting_as(principal)
        with pytest.raises(InternalError):
            await view.get_room("room-a")
        assert (await runtime.style_api("grpc").acting_as(principal).get_room("room-a")).room_id == "room-a"
    finally:
        await runtime.store.close()


def test_no_control_endpoint_outside_workshop_mode() -> None:
    with live_server() as plain:
        assert httpx.get(f"{plain.base_url}/workshop/faults").status_code == 404


def test_the_control_endpoint_shows_changes_and_clears(server: LiveServer) -> None:
    url = f"{server.base_url}/workshop/faults"
    rule = {"style": "soap", "operation": "getRoom", "latencyMs": 5, "times": 3}
    shown = httpx.put(url, json={"faults": [rule]}).json()
    assert shown["enabled"] is True
    assert shown["faults"] == [{**rule, "fail": 0.0, "unavailable": 0.0, "drop": 0.0, "left": 3}]
    refused = httpx.put(url, json={"faults": [{"style": "soap", "drop": 3}]})
    assert refused.status_code == 400
    assert refused.json()["code"] == "INVALID_PROPERTY" and "drop" in refused.json()["detail"]
    assert httpx.get(url).json()["faults"][0]["style"] == "soap"  # a refused PUT changes nothing
    assert httpx.delete(url).json()["faults"] == []


@pytest.mark.parametrize("style", STYLES)
async def test_a_dropped_answer_commits_and_a_failed_call_does_not(style: str, server: LiveServer) -> None:
    url = f"{server.base_url}/workshop/faults"
    client = _client(style, server)
    try:
        httpx.put(url, json={"faults": [{"style": style, "operation": "createReservation", "drop": 1}]})
        dropped = f"{style} dropped {uuid.uuid4().hex[:6]}"
        with pytest.raises(InternalError):
            await client.create_reservation(_draft(dropped, 9))
        assert await _held(server, dropped) == 1  # committed; only the answer was lost

        httpx.put(url, json={"faults": [{"style": style, "operation": "createReservation", "fail": 1}]})
        failed = f"{style} failed {uuid.uuid4().hex[:6]}"
        with pytest.raises(InternalError):
            await client.create_reservation(_draft(failed, 11))
        assert await _held(server, failed) == 0  # failed before it ran

        other = "grpc" if style != "grpc" else "rest"
        httpx.put(url, json={"faults": [{"style": other, "fail": 1}]})
        assert (await client.get_room("room-c")).room_id == "room-c"  # another style's rule: untouched
        snapshot = httpx.get(url).json()
        assert snapshot["calls"] == {f"{style}.getRoom": 1}
    finally:
        httpx.delete(url)
        await client.aclose()


async def _unavailable_on_the_wire(style: str, server: LiveServer) -> tuple[str, float]:
    """One getRoom in ``style`` by hand: what says "unavailable" on its wire, and the wait it names."""
    if style == "rest":
        answer = httpx.get(f"{server.base_url}/api/v1/rooms/room-a")
        assert answer.json()["code"] == "UNAVAILABLE"
        return f"HTTP {answer.status_code}", float(answer.headers["retry-after"])
    if style == "graphql":
        answer = httpx.post(
            f"{server.base_url}/graphql", json={"query": '{ room(roomId: "room-a") { name } }'}
        )
        [error] = answer.json()["errors"]
        return error["extensions"]["code"], float(error["extensions"]["retryAfter"])
    if style == "soap":
        answer = httpx.post(
            f"{server.base_url}/soap",
            content=envelope("<r:GetRoom><r:roomId>room-a</r:roomId></r:GetRoom>"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        wait = parse(answer.content).findtext(".//{urn:rosetta:reservations:v1}retryAfter")
        return str(fault_of(answer.content)["faultcode"]), float(wait or "nan")
    if style == "grpc":
        assert server.grpc_target is not None
        async with grpc.aio.insecure_channel(server.grpc_target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await pb_grpc.ReservationServiceStub(channel).GetRoom(pb.GetRoomRequest(room_id="room-a"))
        status = rpc_status.from_call(failed.value)  # type: ignore[arg-type]
        assert status is not None
        retry = error_details_pb2.RetryInfo()
        next(detail for detail in status.details if detail.Is(retry.DESCRIPTOR)).Unpack(retry)
        return failed.value.code().name, retry.retry_delay.ToNanoseconds() / 1e9
    async with connect(server.base_url.replace("http", "ws", 1) + "/ws", subprotocols=["rosetta.v1"]) as ws:  # type: ignore[list-item]
        await ws.send('{"id": 1, "type": "getRoom", "payload": {"roomId": "room-a"}}')
        frame = json.loads(await ws.recv())
    return f"{frame['type']} {frame['payload']['code']}", float(frame["payload"]["retryAfter"])


UNAVAILABLE_ON_THE_WIRE = {
    "rest": "HTTP 503",
    "graphql": "UNAVAILABLE",
    "soap": "soap11env:Server.UNAVAILABLE",
    "grpc": "UNAVAILABLE",
    "websocket": "error UNAVAILABLE",
}


@pytest.mark.parametrize("style", STYLES)
async def test_an_unavailable_fault_is_the_style_s_own_unavailable_with_a_wait(
    style: str, server: LiveServer
) -> None:
    url = f"{server.base_url}/workshop/faults"
    client = _client(style, server)
    try:
        httpx.put(url, json={"faults": [{"style": style, "unavailable": 1}]})
        assert await _unavailable_on_the_wire(style, server) == (UNAVAILABLE_ON_THE_WIRE[style], 1.0)
        refused = f"{style} unavailable {uuid.uuid4().hex[:6]}"
        with pytest.raises(Unavailable) as raised:
            await client.create_reservation(_draft(refused, 13))
        assert raised.value.retry_after == 1.0  # every client reads the wait back
        assert str(raised.value) == "The service cannot answer right now; retry in a moment."
        assert await _held(server, refused) == 0  # refused before it ran
        assert httpx.get(url).json()["injected"] == {
            f"{style}.getRoom.unavailable": 1,
            f"{style}.createReservation.unavailable": 1,
        }
    finally:
        httpx.delete(url)
        await client.aclose()
