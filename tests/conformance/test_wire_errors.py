"""Every catalog code, raised by the core, as each style puts it on the wire: read with bare clients.

The clients of the conformance matrix read the catalog code from the answer's details (ErrorInfo, the
problem's ``code``, the Fault's detail), so the matrix cannot see the status a style chose. These tests
read the raw answer of each style — HTTP status and problem type, gRPC status code and its rich
details, SOAP faultcode and HTTP status, GraphQL ``extensions.code``, the WebSocket error frame — and
compare it with the hand-written table in ``tests/support/catalog_wire.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from websockets.asyncio.client import connect

from gateway.app import Runtime
from gateway.faults import FaultInjector
from services.core.errors import ERRORS_BY_CODE, RosettaError
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from tests.soap.envelopes import NS, envelope, fault_of, parse
from tests.support.catalog_wire import CATALOG_WIRE, WIRE_BY_CODE, Wire
from tests.support.server import LiveServer, live_server

RETRY_AFTER = 2.5
WAITS = ("RATE_LIMITED", "UNAVAILABLE")  # the refusals that say when a retry can succeed


class RaiseChosen(FaultInjector):
    """Puts a core in front of every style that fails each call with the catalog error ``code`` names."""

    code = "INTERNAL"

    def error(self) -> RosettaError:
        cls = ERRORS_BY_CODE[self.code]
        if self.code in WAITS:
            return cls(params={"retryAfter": RETRY_AFTER})
        if self.code in ("MISSING_MANDATORY_PROPERTY", "INVALID_PROPERTY"):
            return cls(field="roomId")
        return cls()

    def wrap(self, api: Any, style: str) -> Any:
        return _Raising(self)


class _Raising:
    def __init__(self, chooser: RaiseChosen) -> None:
        self._chooser = chooser

    def acting_as(self, principal: object) -> _Raising:
        return self

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: object, **kwargs: object) -> Any:
            raise self._chooser.error()

        return fail


CHOOSER = RaiseChosen()


def _prepare(runtime: Runtime) -> None:
    runtime.faults = CHOOSER


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(prepare=_prepare) as running:
        yield running


CODES = [pytest.param(wire, id=wire.code) for wire in CATALOG_WIRE]


def test_the_table_names_every_catalog_code() -> None:
    assert set(WIRE_BY_CODE) == set(ERRORS_BY_CODE), "the hand-written wire table misses a catalog code"


@pytest.mark.parametrize("wire", CODES)
async def test_rest_status_and_problem_type(server: LiveServer, wire: Wire) -> None:
    CHOOSER.code = wire.code
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.get("/api/v1/rooms/room-a", headers={"accept-language": "fr"})
    problem = response.json()
    got = (response.status_code, problem.get("type"), problem.get("code"), problem.get("status"))
    expected = (wire.http_status, wire.problem_type, wire.code, wire.http_status)
    assert got == expected, f"REST sent {wire.code} as {got}; the catalog says {expected}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["content-language"] == "fr"
    assert problem["detail"] == CHOOSER.error().localized("fr"), (
        "REST's detail is not the French catalog text"
    )
    if wire.code in ("MISSING_MANDATORY_PROPERTY", "INVALID_PROPERTY"):
        assert problem["errors"] == [{"field": "roomId", "code": wire.code}]
    else:
        assert "errors" not in problem
    # A 429 or 503 says when to come back (whole seconds, rounded up); a 401 how to authenticate.
    assert response.headers.get("retry-after") == ("3" if wire.code in WAITS else None)
    assert ("www-authenticate" in response.headers) == (wire.code == "UNAUTHENTICATED")


@pytest.mark.parametrize("wire", CODES)
async def test_grpc_status_code_and_rich_details(server: LiveServer, wire: Wire) -> None:
    CHOOSER.code = wire.code
    assert server.grpc_target is not None
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.ReservationServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetRoom(pb.GetRoomRequest(room_id="room-a"), metadata=(("accept-language", "ko"),))
    failure = caught.value
    assert failure.code().name == wire.grpc_status, (
        f"gRPC sent {wire.code} as status {failure.code().name}; the catalog says {wire.grpc_status}"
    )
    status = rpc_status.from_call(cast(grpc.Call, failure))  # it reads code, details, trailing metadata
    assert status is not None, f"gRPC sent {wire.code} without rich details (grpc-status-details-bin)"
    kinds: dict[str, Any] = {}
    for packed in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.LocalizedMessage,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
            error_details_pb2.QuotaFailure,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                kinds[kind.__name__] = message
    info = kinds["ErrorInfo"]
    assert (info.reason, info.domain) == (wire.code, "rosetta.reservations.v1"), (
        "ErrorInfo names another code"
    )
    assert kinds["LocalizedMessage"].locale == "ko"
    assert failure.details() == kinds["LocalizedMessage"].message
    if wire.code in ("MISSING_MANDATORY_PROPERTY", "INVALID_PROPERTY"):
        violations = kinds["BadRequest"].field_violations
        assert [(v.field, v.reason) for v in violations] == [("roomId", wire.code)], "BadRequest is wrong"
        assert info.metadata["field"] == "roomId"
    else:
        assert "BadRequest" not in kinds, f"{wire.code} names no field, yet BadRequest was sent"
    if wire.code in WAITS:
        assert kinds["RetryInfo"].retry_delay.ToNanoseconds() == RETRY_AFTER * 1e9, "RetryInfo lost the wait"
    else:
        assert "RetryInfo" not in kinds
    if wire.code == "RATE_LIMITED":
        assert len(kinds["QuotaFailure"].violations) == 1, "QuotaFailure does not name the bucket"
    else:
        assert "QuotaFailure" not in kinds


@pytest.mark.parametrize("wire", CODES)
async def test_soap_faultcode_and_http_status(server: LiveServer, wire: Wire) -> None:
    CHOOSER.code = wire.code
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/soap",
            content=envelope("<r:GetRoom><r:roomId>room-a</r:roomId></r:GetRoom>"),
            headers={"content-type": "text/xml; charset=utf-8", "accept-language": "ko"},
        )
    fault = fault_of(response.content)
    got = (response.status_code, fault["faultcode"], fault["code"])
    expected = (500, wire.soap_faultcode, wire.code)
    assert got == expected, f"SOAP sent {wire.code} as {got}; the catalog says {expected}"
    assert fault["lang"] == "ko"
    assert fault["faultstring"] == CHOOSER.error().localized("ko")
    field = "roomId" if wire.code in ("MISSING_MANDATORY_PROPERTY", "INVALID_PROPERTY") else None
    assert fault["field"] == field, f"SOAP's detail names field {fault['field']!r}"
    retry = parse(response.content).findtext(".//r:error/r:retryAfter", namespaces=NS)
    assert retry == ("2.5" if wire.code in WAITS else None), "SOAP's detail lost the wait"


@pytest.mark.parametrize("wire", CODES)
async def test_graphql_extensions_code(server: LiveServer, wire: Wire) -> None:
    CHOOSER.code = wire.code
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/graphql",
            json={"query": 'query { room(roomId: "room-a") { roomId } }'},
            headers={"accept-language": "fr"},
        )
    assert response.status_code == 200, f"GraphQL answered {wire.code} with HTTP {response.status_code}"
    (error,) = response.json()["errors"]
    got = error["extensions"]["code"]
    assert got == wire.code, f"GraphQL sent {wire.code} as extensions.code {got}"
    if wire.code in ("MISSING_MANDATORY_PROPERTY", "INVALID_PROPERTY"):
        assert error["extensions"]["field"] == "roomId"
    if wire.code in WAITS:
        assert error["extensions"]["retryAfter"] == RETRY_AFTER
    else:
        assert "retryAfter" not in error["extensions"]


@pytest.mark.parametrize("wire", CODES)
async def test_websocket_error_frame(server: LiveServer, wire: Wire) -> None:
    CHOOSER.code = wire.code
    async with connect(
        server.ws_url + "?lang=ko",
        subprotocols=["rosetta.v1"],  # type: ignore[list-item]
        compression=None,
        additional_headers={"accept-language": "ko"},
    ) as ws:
        await ws.send(json.dumps({"id": 7, "type": "getRoom", "payload": {"roomId": "room-a"}}))
        frame = json.loads(await ws.recv())
    field = "roomId" if wire.code in ("MISSING_MANDATORY_PROPERTY", "INVALID_PROPERTY") else None
    expected: dict[str, Any] = {
        "id": 7,
        "type": "error",
        "payload": {"code": wire.code, "message": frame["payload"].get("message"), "field": field},
    }
    if wire.code in WAITS:
        expected["payload"]["retryAfter"] = RETRY_AFTER
    assert frame == expected, f"WebSocket sent {wire.code} as {frame}"
    assert isinstance(frame["payload"]["message"], str) and frame["payload"]["message"]
