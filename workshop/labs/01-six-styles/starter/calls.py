"""Lab 01: one operation — read one room — written by hand in every style.

Fill in each function with what goes on the wire. Try each one by hand first (README.md shows how),
then run `rosetta workshop check 1`. The checker sends exactly what you return here.
"""

from typing import Any


def rest_request(room_id: str) -> tuple[str, str]:
    """The HTTP method and the path (from /) that read one room."""
    return "GET", "/TODO"


def graphql_body(room_id: str) -> dict[str, Any]:
    """The JSON object POSTed to /graphql: a query for the room's name and capacity."""
    return {"query": "{ TODO }"}


def soap_envelope(room_id: str) -> str:
    """A SOAP 1.1 envelope for the GetRoom operation (namespaces: see /soap?wsdl)."""
    return "<TODO/>"


def websocket_frame(room_id: str) -> dict[str, Any]:
    """One frame on ws://…/ws (subprotocol rosetta.v1): {id, type, payload}."""
    return {"id": 1, "type": "TODO", "payload": {}}


# The full method name, as gRPC reflection lists it: "package.Service/Method".
GRPC_METHOD = "TODO/TODO"


def grpc_request(room_id: str) -> dict[str, Any]:
    """The request message in protobuf's JSON mapping (field names as in the .proto)."""
    return {}


# After the five calls work: which style's answer was the smallest, and which the largest?
# One of "rest", "graphql", "grpc", "soap", "websocket".
SMALLEST_ANSWER = "?"
LARGEST_ANSWER = "?"
