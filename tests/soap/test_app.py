"""The SOAP app in-process with a fake core: the error table, and failures that must not leak."""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
import pytest
from lxml import etree

from services.core.api import ServerApi
from services.core.errors import ERRORS_BY_CODE, InternalError, MalformedRequest, RateLimited, RosettaError
from services.core.model import Room
from services.soap.app import SoapOptions, create_app
from services.soap.client import SoapClient
from services.soap.errors import (
    FAULTCODES,
    EnvelopeVersionMismatch,
    code_of_faultcode,
    faultcode_of,
    format_seconds,
)
from tests.soap.envelopes import NS, envelope, fault_of, parse
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


@pytest.mark.parametrize(
    ("seconds", "text"), [(2.5, "2.5"), (3, "3"), (2.0, "2"), (0.125, "0.125"), (0.1004, "0.1"), (10, "10")]
)
def test_a_wait_is_written_as_seconds_to_the_millisecond_without_trailing_zeros(
    seconds: float, text: str
) -> None:
    assert format_seconds(seconds) == text


def test_a_soap_1_2_envelope_is_answered_with_the_version_mismatch_faultcode() -> None:
    assert faultcode_of(EnvelopeVersionMismatch()) == "VersionMismatch"
    assert faultcode_of(ERRORS_BY_CODE["MALFORMED_REQUEST"]()) == "Client.MALFORMED_REQUEST"

    class Novel(RosettaError):
        code = "SOMETHING_NEW"

    assert faultcode_of(Novel(message="new")) == "Server.INTERNAL"


async def test_a_refusal_before_spyne_is_the_same_fault_document_as_spynes(app: Any) -> None:
    """Refused before spyne reads anything (unreadable XML, a body that is not XML), the client gets the
    document spyne writes for its own faults: same declaration, envelope and namespaces, a localized
    faultstring, an empty faultactor, and the catalog code (and field) in the detail."""
    spyne_call = envelope("<r:GetRoom><r:roomId>limited</r:roomId></r:GetRoom>")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://soap.test") as http:
        spynes = await http.post("/soap", content=spyne_call, headers={"Content-Type": "text/xml"})
        broken = await http.post(
            "/soap", content=b"<broken", headers={"Content-Type": "text/xml", "Accept-Language": "fr"}
        )
        not_xml = await http.post(
            "/soap", content=b"roomId=a", headers={"Content-Type": "text/plain", "Accept-Language": "ko"}
        )

    head = spynes.content.partition(b"<soap11env:Fault>")[0]
    assert head.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    for response in (broken, not_xml):
        assert response.content.partition(b"<soap11env:Fault>")[0] == head
        assert parse(response.content).findtext("soap:Body/soap:Fault/faultactor", namespaces=NS) == ""
    assert broken.status_code == 500
    assert fault_of(broken.content) == {
        "faultcode": "soap11env:Client.MALFORMED_REQUEST",
        "faultstring": "La requête n'a pas pu être lue : le corps n'est pas bien formé.",
        "lang": "fr",
        "code": "MALFORMED_REQUEST",
        "field": None,
    }
    assert not_xml.status_code == 415
    media_type = MalformedRequest(field="Content-Type", params={"reason": "media_type"})
    assert fault_of(not_xml.content) == {
        "faultcode": "soap11env:Client.MALFORMED_REQUEST",
        "faultstring": media_type.localized("ko"),
        "lang": "ko",
        "code": "MALFORMED_REQUEST",
        "field": "Content-Type",
    }


async def test_a_soap_1_2_envelope_gets_a_version_mismatch_fault_saying_which_version_is_understood(
    app: Any,
) -> None:
    soap12 = (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">'
        b"<env:Body><GetRoom/></env:Body></env:Envelope>"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://soap.test") as http:
        response = await http.post(
            "/soap", content=soap12, headers={"Content-Type": "text/xml", "Accept-Language": "fr"}
        )

    assert response.status_code == 500
    assert fault_of(response.content) == {
        "faultcode": "soap11env:VersionMismatch",
        "faultstring": "La requête n'a pas pu être lue : seules les enveloppes SOAP 1.1 "
        "(espace de noms http://schemas.xmlsoap.org/soap/envelope/) sont comprises.",
        "lang": "fr",
        "code": "MALFORMED_REQUEST",
        "field": None,
    }
