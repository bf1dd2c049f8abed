"""Issue 15 findings 1, 2 and 6 through the wire: what one style refuses, every style refuses alike,
and nothing any style accepts can poison a read in another (raw clients, a real gateway, SQLite)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from services.core.errors import InvalidProperty
from services.core.model import ReservationDraft
from services.grpc.client import GrpcClient
from tests.soap.envelopes import envelope, fault_of
from tests.support.server import LiveServer, live_server
from tests.support.subprotocols import ROSETTA_V1

CREATE_MUTATION = (
    "mutation($input: CreateReservationInput!) { createReservation(input: $input) { reservationId } }"
)


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path_factory.mktemp('db')}/r.db"
    with live_server(db=db) as running:
        yield running


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


def body(guest: str, hour: int = 9) -> str:
    """A create body as JSON text written by hand, so a lone surrogate travels as the escape ``\\ud800``."""
    guest_json = json.dumps(guest)  # ensure_ascii: every non-ASCII character (surrogates too) escaped
    return (
        f'{{"roomId": "room-a", "guestName": {guest_json}, "date": "2027-03-0{hour % 9 + 1}", '
        f'"startTime": "{hour:02d}:00", "endTime": "{hour:02d}:30", "attendees": 1}}'
    )


BAD_NAMES = ["a\ud800", "a\x00", "a\x01", "a\x1b", "a\ufffe"]


async def rest_create(http: httpx.AsyncClient, text: str) -> tuple[int, dict[str, Any]]:
    answer = await http.post(
        "/api/v1/reservations", content=text.encode(), headers={"content-type": "application/json"}
    )
    return answer.status_code, answer.json()


async def graphql_create(http: httpx.AsyncClient, text: str) -> tuple[int, dict[str, Any]]:
    document = f'{{"query": {json.dumps(CREATE_MUTATION)}, "variables": {{"input": {text}}}}}'
    answer = await http.post(
        "/graphql", content=document.encode(), headers={"content-type": "application/json"}
    )
    return answer.status_code, answer.json()


async def ws_create(server: LiveServer, text: str) -> dict[str, Any]:
    async with connect(server.ws_url, subprotocols=[ROSETTA_V1]) as ws:
        await ws.send(f'{{"id": 7, "type": "createReservation", "payload": {text}}}')
        answer: dict[str, Any] = json.loads(await ws.recv())
        return answer


@pytest.mark.parametrize("guest", BAD_NAMES, ids=["surrogate", "NUL", "SOH", "ESC", "U+FFFE"])
async def test_every_json_style_refuses_bad_text_with_invalid_property_guest_name(
    server: LiveServer, http: httpx.AsyncClient, guest: str
) -> None:
    status, problem = await rest_create(http, body(guest))
    assert (status, problem["code"], problem["errors"][0]["field"]) == (400, "INVALID_PROPERTY", "guestName")

    status, result = await graphql_create(http, body(guest))
    error = result["errors"][0]["extensions"]
    assert (error["code"], error["field"]) == ("INVALID_PROPERTY", "guestName"), result
    assert result.get("data") is None

    frame = await ws_create(server, body(guest))
    assert frame["type"] == "error" and frame["id"] == 7
    assert (frame["payload"]["code"], frame["payload"]["field"]) == ("INVALID_PROPERTY", "guestName")

    if "\ud800" not in guest:  # protobuf strings are UTF-8: a lone surrogate cannot even be sent
        assert server.grpc_target is not None
        async with GrpcClient(server.grpc_target) as grpc:
            draft = ReservationDraft("room-a", guest, "2027-03-01", "09:00", "09:30", 1, None)
            with pytest.raises(InvalidProperty) as caught:
                await grpc.create_reservation(draft)
            assert caught.value.field == "guestName"

    # Nothing was kept: every style still reads everything, SOAP included.
    await every_read_works(server, http)


async def every_read_works(server: LiveServer, http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/v1/reservations")).status_code == 200
    assert (await http.get("/api/v1/events")).status_code == 200
    graphql = await http.post("/graphql", json={"query": "{ reservations { items { guestName } } }"})
    assert "errors" not in graphql.json()
    for operation in ("<r:ListReservations/>", "<r:GetEvents><r:after>0</r:after></r:GetEvents>"):
        answer = await http.post(
            "/soap", content=envelope(operation), headers={"content-type": "text/xml; charset=utf-8"}
        )
        assert answer.status_code == 200, answer.text


async def test_a_patch_with_a_lone_surrogate_leaves_the_reservation_readable(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    status, created = await rest_create(http, body("Ada", hour=7))
    assert status == 201, created
    url = f"/api/v1/reservations/{created['reservationId']}"
    answer = await http.patch(
        url, content=b'{"purpose": "x\\ud800"}', headers={"content-type": "application/merge-patch+json"}
    )
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "purpose"
    assert (await http.get(url)).status_code == 200
    await every_read_works(server, http)


async def test_search_finds_non_ascii_names_however_they_are_spelled(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    for hour, name in ((10, "Émile Ångström"), (11, "Zoe\u0308 Kim"), (12, "김민준")):
        status, created = await rest_create(http, body(name, hour=hour))
        assert status == 201, created
    for query, expected in (
        ("Émile", "Émile Ångström"),
        ("ångström", "Émile Ångström"),
        ("Zoë", "Zoë Kim"),
        ("ZOE\u0308", "Zoë Kim"),
        ("민준", "김민준"),
    ):
        items = (await http.get("/api/v1/reservations", params={"guestName": query})).json()["items"]
        assert [item["guestName"] for item in items] == [expected], query
        graphql = await http.post(
            "/graphql",
            json={
                "query": "query($n: String) "
                "{ reservations(filter: {guestName: $n}) { items { guestName } } }",
                "variables": {"n": query},
            },
        )
        assert [i["guestName"] for i in graphql.json()["data"]["reservations"]["items"]] == [expected]


async def test_an_answer_soap_cannot_encode_is_a_logged_server_internal_fault_not_an_empty_envelope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Text written before the rule existed (put straight into the store here) cannot empty SOAP answers."""
    with live_server(styles="soap,rest") as running:
        core = running.runtime.service
        draft = ReservationDraft("room-a", "Ada", "2027-01-01", "09:00", "10:00", 1, None)
        created = await core.create_reservation(draft)
        store: Any = running.runtime.store
        store.state.reservations[created.reservation_id] = dataclasses.replace(created, guest_name="a\x00b")
        async with httpx.AsyncClient(base_url=running.base_url) as http:
            rid = created.reservation_id
            get = f"<r:GetReservation><r:reservationId>{rid}</r:reservationId></r:GetReservation>"
            for operation in (get, "<r:ListReservations/>"):
                answer = await http.post(
                    "/soap", content=envelope(operation), headers={"content-type": "text/xml; charset=utf-8"}
                )
                assert answer.status_code == 500
                fault = fault_of(answer.content)
                assert (fault["faultcode"], fault["code"]) == ("soap11env:Server.INTERNAL", "INTERNAL")
                assert "\x00" not in answer.text
    assert any("could not be serialized" in record.getMessage() for record in caplog.records)
