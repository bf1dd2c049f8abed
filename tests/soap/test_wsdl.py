"""The WSDL contract: the served document is the checked-in one, at the configured address."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from services.soap.wsdl import CONTRACT_PATH, generate, normalize, service_address
from tests.support.server import LiveServer, live_server

WSDL_NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "xs": "http://www.w3.org/2001/XMLSchema"}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="soap") as running:
        yield running


def test_served_wsdl_matches_the_checked_in_contract(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/soap?wsdl")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert normalize(response.content) == normalize(CONTRACT_PATH.read_bytes()), (
        "the served WSDL drifted from wsdl/reservations.wsdl: review, then run python -m services.soap.wsdl"
    )


def test_the_comparison_notices_a_changed_enumeration() -> None:
    contract = CONTRACT_PATH.read_bytes()
    tampered = contract.replace(b'<xs:enumeration value="CHECKED_IN"/>', b"", 1)
    assert tampered != contract
    assert normalize(tampered) != normalize(contract)
    assert normalize(contract.replace(b"http://127.0.0.1:8000/soap", b"https://elsewhere/soap")) == normalize(
        contract
    )


def test_checked_in_contract_is_what_the_definitions_generate() -> None:
    assert normalize(generate()) == normalize(CONTRACT_PATH.read_bytes())


def test_address_is_the_public_url_whoever_asked_first() -> None:
    # A fresh server, so that this is the very first ?wsdl request it sees.
    with live_server(styles="soap", public_url="https://rooms.example.edu") as fresh:
        first = httpx.get(fresh.base_url + "/soap?wsdl", headers={"Host": "evil.example"})
        later = httpx.get(fresh.base_url + "/soap?WSDL")
    assert service_address(first.content) == "https://rooms.example.edu/soap"
    assert service_address(later.content) == "https://rooms.example.edu/soap"
    assert b"evil.example" not in first.content


def test_contract_declares_every_operation_document_literal() -> None:
    root = etree.parse(str(CONTRACT_PATH)).getroot()
    operations = [op.get("name") for op in root.findall("wsdl:portType/wsdl:operation", WSDL_NS)]
    assert operations == [
        "ListRooms",
        "GetRoom",
        "CreateReservation",
        "GetReservation",
        "ListReservations",
        "ModifyReservation",
        "CancelReservation",
        "CheckInReservation",
        "GetEvents",
    ]
    assert root.get("targetNamespace") == "urn:rosetta:reservations:v1"
    soap = "{http://schemas.xmlsoap.org/wsdl/soap/}"
    binding = root.find("wsdl:binding", WSDL_NS)
    assert binding is not None
    soap_binding = binding.find(f"{soap}binding")
    assert soap_binding is not None and soap_binding.get("style") == "document"
    assert {body.get("use") for body in binding.iter(f"{soap}body")} == {"literal"}
