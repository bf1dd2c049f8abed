"""Lab 01, a reference answer: reading one room in every style, by hand."""

from typing import Any


def rest_request(room_id: str) -> tuple[str, str]:
    return "GET", f"/api/v1/rooms/{room_id}"


def graphql_body(room_id: str) -> dict[str, Any]:
    # Variables keep the query constant (cacheable, no escaping bugs); only the values change.
    return {
        "query": "query Room($id: ID!) { room(roomId: $id) { name capacity } }",
        "variables": {"id": room_id},
    }


def soap_envelope(room_id: str) -> str:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:r="urn:rosetta:reservations:v1">'
        f"<soap:Body><r:GetRoom><r:roomId>{room_id}</r:roomId></r:GetRoom></soap:Body>"
        "</soap:Envelope>"
    )


def websocket_frame(room_id: str) -> dict[str, Any]:
    return {"id": 1, "type": "getRoom", "payload": {"roomId": room_id}}


GRPC_METHOD = "rosetta.reservations.v1.ReservationService/GetRoom"


def grpc_request(room_id: str) -> dict[str, Any]:
    return {"room_id": room_id}


# Protobuf sends field numbers and raw values, no names; SOAP repeats every name twice plus namespaces.
SMALLEST_ANSWER = "grpc"
LARGEST_ANSWER = "soap"
