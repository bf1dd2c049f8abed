"""The SOAP app in-process with a fake core: the error table, and failures that must not leak."""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
import pytest
from lxml import etree

from services.core.api import ServerApi
from services.core.errors import ERRORS_BY_CODE, InternalError, RateLimited
from services.core.model import Room
from services.soap.app import SoapOptions, create_app
from services.soap.client import SoapClient
from services.soap.errors import FAULTCODES, code_of_faultcode
from tests.soap.envelopes import envelope, fault_of
from tests.support.catalog_wire import CATALOG_WIRE


class FailingCore:
    """A fake core: rooms work, everything about one room fails in ways the adapter must contain."""

    async def list_rooms(self) -> list[Room]:
        return [Room("room-a", "Ada", 4, "Library")]

    async def get_room(self, room_id: str) -> Room:
        if room_id == "limited":
            raise RateLimited(params={"retryAfter": 2.5})
        raise RuntimeError("connection to postgres://admin:hunter2@db failed")


@pytest.fixture
def app() -> Any:
    return create_app(
        cast(ServerApi, FailingCore()), SoapOptions(public_url="http://soap.test/soap")
    )  # a partial fake of the port


def test_one_faultcode_per_catalog_code() -> None:
    """Against the hand-written table (tests/support/catalog_wire.py), not the production formula."""
    assert set(FAULTCODES) == set(ERRORS_BY_CODE)
    for wire in CATALOG_WIRE:
        prefix, _, local = wire.soap_faultcode.partition(":")
        assert prefix == "soap11env"
        assert FAULTCODES[wire.code] == local, (
            f"SOAP maps {wire.code} to {FAULTCODES[wire.code]}, not {local}"
        )
        assert code_of_faultcode(wire.soap_faultcode) == wire.code, f"{wire.soap_faultcode} is not read back"
        assert code_of_faultcode(local) == wire.code  # zeep may hand the faultcode over without its prefix
    assert code_of_faultcode("soap11env:Client.SomethingElse") == "INTERNAL"


async def test_unexpected_exception_is_a_generic_server_fault(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://soap.test") as http:
        with caplog.at_level(logging.ERROR, logger="rosetta.soap"):
            response = await http.post(
                "/soap",
                content=envelope("<r:GetRoom><r:roomId>room-a</r:roomId></r:GetRoom>"),
                headers={"Content-Type": "text/xml", "Accept-Language": "en"},
            )
    assert response.status_code == 500
    fault = fault_of(response.content)
    assert fault["faultcode"] == "soap11env:Server.INTERNAL"
    assert fault["code"] == "INTERNAL"
    assert fault["faultstring"] == ERRORS_BY_CODE["INTERNAL"]().localized("en")
    assert b"hunter2" not in response.content and b"postgres" not in response.content
    assert any("unexpected error" in record.getMessage() for record in caplog.records)  # logged, not sent


async def test_wsdl_and_calls_in_process(app: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://soap.test") as http:
        wsdl = await http.get("/soap?wsdl")
        assert b'location="http://soap.test/soap"' in wsdl.content
        limited = await http.post(
            "/soap",
            content=envelope("<r:GetRoom><r:roomId>limited</r:roomId></r:GetRoom>"),
            headers={"Content-Type": "text/xml"},
        )
    assert fault_of(limited.content)["faultcode"] == "soap11env:Client.RATE_LIMITED"
    wait = etree.fromstring(limited.content).findtext(
        ".//detail/{urn:rosetta:reservations:v1}error/{urn:rosetta:reservations:v1}retryAfter"
    )
    assert wait == "2.5"  # the wait, in seconds, in the fault's detail


async def test_client_maps_faults_back_in_process(app: Any) -> None:
    async with SoapClient("http://soap.test", transport=httpx.ASGITransport(app=app)) as client:
        assert [room.room_id for room in await client.list_rooms()] == ["room-a"]
        with pytest.raises(RateLimited) as limited:
            await client.get_room("limited")
        assert limited.value.retry_after == 2.5
        with pytest.raises(InternalError) as internal:
            await client.get_room("room-a")
    assert "hunter2" not in str(internal.value)
