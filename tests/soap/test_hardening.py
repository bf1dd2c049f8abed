"""Hostile XML gets a SOAP Fault (HTTP 500, MALFORMED_REQUEST / PAYLOAD_TOO_LARGE), never spyne's parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.core.errors import MalformedRequest
from services.soap.hardening import EnvelopeParser
from tests.soap.envelopes import NS, SOAP_ENV, TNS, envelope, fault_of, parse
from tests.support.server import LiveServer, live_server

LIMIT = 16 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="soap", max_body_bytes=LIMIT) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.base_url, headers={"Content-Type": "text/xml; charset=utf-8"}
    ) as client:
        yield client


def refused(response: httpx.Response, code: str = "MALFORMED_REQUEST") -> dict[str, str | None]:
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    fault = fault_of(response.content)
    assert fault["faultcode"] == f"soap11env:Client.{code}"
    assert fault["code"] == code
    return fault


def with_dtd(dtd: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE soap:Envelope [{dtd}]>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:r="{TNS}">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def test_billion_laughs(http: httpx.Client) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    response = http.post(
        "/soap", content=with_dtd(entities, "<r:GetRoom><r:roomId>&lol9;</r:roomId></r:GetRoom>")
    )
    fault = refused(response)
    assert fault["faultstring"] == (
        "The request could not be read: DTDs, entities and processing instructions are not accepted."
    )
    assert b"lollol" not in response.content


def test_external_entity_never_reads_the_file(http: httpx.Client) -> None:
    secret = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "localhost"
    response = http.post(
        "/soap",
        content=with_dtd(
            '<!ENTITY xxe SYSTEM "file:///etc/hostname">', "<r:GetRoom><r:roomId>&xxe;</r:roomId></r:GetRoom>"
        ),
        headers={"Accept-Language": "fr"},
    )
    fault = refused(response)
    assert fault["lang"] == "fr"
    assert secret.encode() not in response.content


def test_quadratic_blowup(http: httpx.Client) -> None:
    blob = "x" * 4000
    payload = with_dtd(f'<!ENTITY a "{blob}">', f"<r:GetRoom><r:roomId>{'&a;' * 2000}</r:roomId></r:GetRoom>")
    assert len(payload) < LIMIT
    response = http.post("/soap", content=payload)
    refused(response)
    assert len(response.content) < 2000


@pytest.mark.parametrize(
    "payload",
    [
        envelope('<?xml-stylesheet href="http://evil.example/x.xsl"?><r:ListRooms/>'),  # inside the body
        envelope("<r:ListRooms/>").replace(b"?>", b'?><?xml-stylesheet href="x.xsl"?>', 1),  # before the root
    ],
)
def test_processing_instruction(http: httpx.Client, payload: bytes) -> None:
    fault = refused(http.post("/soap", content=payload))
    assert fault["faultstring"] == (
        "The request could not be read: DTDs, entities and processing instructions are not accepted."
    )


def test_oversized_body_declared(http: httpx.Client) -> None:
    padding = "<r:purpose>" + "p" * LIMIT + "</r:purpose>"
    response = http.post("/soap", content=envelope(f"<r:CreateReservation>{padding}</r:CreateReservation>"))
    fault = refused(response, "PAYLOAD_TOO_LARGE")
    assert fault["faultstring"] == f"The request body exceeds the limit of {LIMIT} bytes."


def test_oversized_body_streamed_without_length(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield envelope("<r:ListRooms>")[:-30]
        for _ in range(20):
            yield b"<r:x>" + b"y" * 1024 + b"</r:x>"

    refused(http.post("/soap", content=chunks()), "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    "payload",
    [
        b"<soap:Envelope",  # truncated
        b"not xml at all",
        b"",
        envelope("<r:GetRoom><r:roomId>a</r:GetRoom>"),  # mismatched tags
        envelope("<r:GetRoom><r:roomId>&undefined;</r:roomId></r:GetRoom>"),  # entity without DTD
    ],
)
def test_malformed_xml(http: httpx.Client, payload: bytes) -> None:
    fault = refused(http.post("/soap", content=payload, headers={"Accept-Language": "ko"}))
    assert fault["faultstring"] == "요청을 읽을 수 없습니다: 본문 형식이 올바르지 않습니다."


@pytest.mark.parametrize(
    "payload",
    [
        f'<r:GetRoom xmlns:r="{TNS}"><r:roomId>room-a</r:roomId></r:GetRoom>'.encode(),  # no envelope
        # the right element names in no namespace
        b'<Envelope><Body><GetRoom xmlns="urn:rosetta:reservations:v1"/></Body></Envelope>',
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header/></soap:Envelope>'.encode(),  # no body
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>text</soap:Body></soap:Envelope>'.encode(),
    ],
)
def test_xml_that_is_not_a_soap_envelope(http: httpx.Client, payload: bytes) -> None:
    refused(http.post("/soap", content=payload))


def test_pre_spyne_fault_looks_like_a_spyne_fault(http: httpx.Client) -> None:
    def shape(content: bytes) -> list[tuple[str, str | None, tuple[str, ...]]]:
        root = parse(content)
        return [(str(el.tag), el.prefix, tuple(sorted(el.attrib))) for el in root.iter()]

    ours = http.post("/soap", content=b"<broken").content  # refused before spyne
    spynes = http.post("/soap", content=envelope("<r:GetRoom><r:roomId>nope</r:roomId></r:GetRoom>")).content
    assert shape(ours)[:6] == shape(spynes)[:6]  # Envelope, Body, Fault, faultcode, faultstring, faultactor
    assert [tag for tag, _, _ in shape(ours)] == [tag for tag, _, _ in shape(spynes)]
    assert parse(ours).nsmap == parse(spynes).nsmap
    assert parse(ours).find("soap:Body/soap:Fault/detail/r:error", NS) is not None


def test_a_valid_request_still_works_after_refusals(http: httpx.Client) -> None:
    response = http.post("/soap", content=envelope("<r:GetRoom><r:roomId>room-a</r:roomId></r:GetRoom>"))
    assert response.status_code == 200
    assert (
        parse(response.content).findtext("soap:Body/r:GetRoomResponse/r:room/r:name", namespaces=NS) == "Ada"
    )


# -- the parser alone ---------------------------------------------------------------------------


def test_parser_refuses_a_dtd_in_another_encoding() -> None:
    document = (
        with_dtd('<!ENTITY e "x">', "<r:ListRooms/>")
        .decode()
        .replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    )
    with pytest.raises(MalformedRequest) as refused_error:
        EnvelopeParser().parse(document.encode("utf-16"))
    assert refused_error.value.params["reason"] == "forbidden_construct"


def test_parser_accepts_comments_and_cdata() -> None:
    root = EnvelopeParser().parse(
        envelope("<!-- hi --><r:GetRoom><r:roomId><![CDATA[room-a]]></r:roomId></r:GetRoom>")
    )
    assert root.findtext("soap:Body/r:GetRoom/r:roomId", namespaces=NS) == "room-a"
