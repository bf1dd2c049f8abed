"""The SOAP wire without zeep: hand-written envelopes over plain httpx, XML assertions on the replies."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from services.core.model import ReservationDraft
from tests.soap.envelopes import NS, SOAP_ENV, envelope, fault_of, parse
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="soap") as running:
        yield running


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.base_url, headers={"Content-Type": "text/xml; charset=utf-8"}
    ) as client:
        yield client


def post(http: httpx.Client, body: str, **headers: str) -> httpx.Response:
    return http.post("/soap", content=envelope(body), headers={"SOAPAction": '""', **headers})


async def test_get_reservation_by_hand(server: LiveServer, http: httpx.Client) -> None:
    created = await server.runtime.service.create_reservation(
        ReservationDraft("room-a", "Ada Lovelace", "2032-01-05", "14:00", "15:30", 2, None)
    )
    response = post(
        http,
        f"<r:GetReservation><r:reservationId>{created.reservation_id}</r:reservationId></r:GetReservation>",
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    reservation = parse(response.content).find("soap:Body/r:GetReservationResponse/r:reservation", NS)
    assert reservation is not None
    value = {
        etree.QName(child).localname: child.text
        for child in reservation
        if child.tag != f"{{{NS['r']}}}actions"
    }
    assert value == {
        "reservationId": created.reservation_id,
        "roomId": "room-a",
        "guestName": "Ada Lovelace",
        "date": "2032-01-05",
        "startTime": "14:00",
        "endTime": "15:30",
        "attendees": "2",
        "status": "RESERVED",
        "version": "1",
        "createdAt": created.to_dict()["createdAt"],
        "updatedAt": created.to_dict()["updatedAt"],
    }
    assert [a.text for a in reservation.findall("r:actions", NS)] == ["modify", "cancel", "check-in"]


def test_list_rooms_by_hand(http: httpx.Client) -> None:
    response = post(http, "<r:ListRooms/>")
    assert response.status_code == 200
    rooms = parse(response.content).findall("soap:Body/r:ListRoomsResponse/r:rooms", NS)
    assert [room.findtext("r:roomId", namespaces=NS) for room in rooms] == [
        "room-a",
        "room-b",
        "room-c",
        "room-d",
    ]
    assert rooms[0].findtext("r:capacity", namespaces=NS) == "4"


def test_list_reservations_carries_pagination(http: httpx.Client) -> None:
    response = post(
        http, "<r:ListReservations><r:pageSize>1</r:pageSize><r:roomId>room-d</r:roomId></r:ListReservations>"
    )
    reply = parse(response.content).find("soap:Body/r:ListReservationsResponse", NS)
    assert reply is not None
    assert [etree.QName(child).localname for child in reply] == [
        "page",
        "pageSize",
        "totalItems",
        "totalPages",
    ]
    assert reply.findtext("r:pageSize", namespaces=NS) == "1"


@pytest.mark.parametrize(
    ("language", "expected_lang", "text"),
    [
        ("ko-KR,ko;q=0.9", "ko", "ID가 'room-x'인 회의실이 없습니다."),
        ("fr-CA, en;q=0.5", "fr", "Aucune salle ne porte l'identifiant « room-x »."),
        ("de", "en", "No room with id 'room-x' exists."),
    ],
)
def test_fault_is_localized_with_xml_lang(
    http: httpx.Client, language: str, expected_lang: str, text: str
) -> None:
    response = post(
        http, "<r:GetRoom><r:roomId>room-x</r:roomId></r:GetRoom>", **{"Accept-Language": language}
    )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    assert fault_of(response.content) == {
        "faultcode": "soap11env:Client.ROOM_NOT_FOUND",
        "faultstring": text,
        "lang": expected_lang,
        "code": "ROOM_NOT_FOUND",
        "field": None,
    }


def test_missing_element_names_the_field(http: httpx.Client) -> None:
    body = "<r:CreateReservation><r:roomId>room-a</r:roomId><r:date>2032-02-01</r:date></r:CreateReservation>"
    fault = fault_of(post(http, body, **{"Accept-Language": "ko"}).content)
    assert fault["faultcode"] == "soap11env:Client.MISSING_MANDATORY_PROPERTY"
    assert (fault["code"], fault["field"], fault["lang"]) == ("MISSING_MANDATORY_PROPERTY", "guestName", "ko")
    assert fault["faultstring"] == "'guestName' 속성은 필수입니다."


@pytest.mark.parametrize(
    ("operation", "field"),
    [
        ("GetRoom", "roomId"),
        ("GetReservation", "reservationId"),
        ("ModifyReservation", "reservationId"),
        ("CancelReservation", "reservationId"),
        ("CheckInReservation", "reservationId"),
    ],
)
def test_missing_identifier_names_the_field(http: httpx.Client, operation: str, field: str) -> None:
    fault = fault_of(post(http, f"<r:{operation}/>").content)
    assert fault["faultcode"] == "soap11env:Client.MISSING_MANDATORY_PROPERTY"
    assert (fault["code"], fault["field"]) == ("MISSING_MANDATORY_PROPERTY", field)
    assert fault["faultstring"] == f"The property '{field}' is required."


def test_unknown_element_is_an_invalid_property(http: httpx.Client) -> None:
    body = "<r:GetReservation><r:reservationId>x</r:reservationId><r:colour>red</r:colour></r:GetReservation>"
    fault = fault_of(post(http, body).content)
    assert (fault["faultcode"], fault["field"]) == ("soap11env:Client.INVALID_PROPERTY", "colour")


def test_unreadable_integer_is_an_invalid_property(http: httpx.Client) -> None:
    body = (
        "<r:CreateReservation><r:roomId>room-a</r:roomId><r:guestName>Bo</r:guestName><r:date>2032-02-01</r:date>"
        "<r:startTime>09:00</r:startTime><r:endTime>10:00</r:endTime><r:attendees>three</r:attendees>"
        "</r:CreateReservation>"
    )
    fault = fault_of(post(http, body, **{"Accept-Language": "fr"}).content)
    assert (fault["code"], fault["field"]) == ("INVALID_PROPERTY", "attendees")
    assert fault["faultstring"] == "La propriété « attendees » est invalide : la valeur n'a pas le bon type."


def test_unknown_operation_is_a_malformed_request(http: httpx.Client) -> None:
    fault = fault_of(post(http, "<r:DeleteEverything/>").content)
    assert (fault["faultcode"], fault["code"]) == ("soap11env:Client.MALFORMED_REQUEST", "MALFORMED_REQUEST")


def test_only_post_and_wsdl(http: httpx.Client) -> None:
    response = http.get("/soap")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_faults_travel_with_http_500_and_a_soap_envelope(http: httpx.Client) -> None:
    response = post(
        http, "<r:CheckInReservation><r:reservationId>rsv_nope</r:reservationId></r:CheckInReservation>"
    )
    assert response.status_code == 500
    root = parse(response.content)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    assert fault_of(response.content)["faultcode"] == "soap11env:Client.RESERVATION_NOT_FOUND"


def test_soap_answers_say_their_language_as_the_other_http_styles_do(server: LiveServer) -> None:
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:r="urn:rosetta:reservations:v1"><soap:Body><r:GetRoom><r:roomId>room-z</r:roomId>'
        "</r:GetRoom></soap:Body></soap:Envelope>"
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "Accept-Language": "ko"}
    fault = httpx.post(server.base_url + "/soap", content=envelope, headers=headers)
    assert fault.status_code == 500
    assert fault.headers["content-language"] == "ko" and fault.headers["vary"] == "Accept-Language"
    malformed = httpx.post(server.base_url + "/soap", content=b"<not-closed", headers=headers)
    assert malformed.headers["content-language"] == "ko"
