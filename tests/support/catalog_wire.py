"""Every catalog code as each style puts it on the wire (DESIGN §3), written out by hand.

This table is the tests' own: nothing here is computed from production code, so a changed mapping in
an adapter disagrees with it instead of agreeing with itself. GraphQL ``extensions.code`` and the
WebSocket error frame's ``payload.code`` carry the catalog code unchanged; the HTTP status of a GraphQL
answer is 200 whatever failed (GraphQL over HTTP), and every SOAP Fault travels with HTTP 500.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wire:
    code: str
    http_status: int  # REST
    problem_type: str  # REST (RFC 9457 ``type``)
    grpc_status: str  # grpc.StatusCode name
    soap_faultcode: str  # as it appears in the envelope (spyne's ``soap11env`` prefix)


CATALOG_WIRE: tuple[Wire, ...] = (
    Wire(
        "MISSING_MANDATORY_PROPERTY",
        400,
        "urn:rosetta:problem:missing-mandatory-property",
        "INVALID_ARGUMENT",
        "soap11env:Client.MISSING_MANDATORY_PROPERTY",
    ),
    Wire(
        "INVALID_PROPERTY",
        400,
        "urn:rosetta:problem:invalid-property",
        "INVALID_ARGUMENT",
        "soap11env:Client.INVALID_PROPERTY",
    ),
    Wire(
        "MALFORMED_REQUEST",
        400,
        "urn:rosetta:problem:malformed-request",
        "INVALID_ARGUMENT",
        "soap11env:Client.MALFORMED_REQUEST",
    ),
    Wire(
        "PAYLOAD_TOO_LARGE",
        413,
        "urn:rosetta:problem:payload-too-large",
        "RESOURCE_EXHAUSTED",
        "soap11env:Client.PAYLOAD_TOO_LARGE",
    ),
    Wire(
        "ROOM_NOT_FOUND",
        404,
        "urn:rosetta:problem:room-not-found",
        "NOT_FOUND",
        "soap11env:Client.ROOM_NOT_FOUND",
    ),
    Wire(
        "RESERVATION_NOT_FOUND",
        404,
        "urn:rosetta:problem:reservation-not-found",
        "NOT_FOUND",
        "soap11env:Client.RESERVATION_NOT_FOUND",
    ),
    Wire(
        "SUBSCRIPTION_NOT_FOUND",
        404,
        "urn:rosetta:problem:subscription-not-found",
        "NOT_FOUND",
        "soap11env:Client.SUBSCRIPTION_NOT_FOUND",
    ),
    Wire(
        "DELIVERY_NOT_FOUND",
        404,
        "urn:rosetta:problem:delivery-not-found",
        "NOT_FOUND",
        "soap11env:Client.DELIVERY_NOT_FOUND",
    ),
    Wire(
        "RESERVATION_CONFLICT",
        409,
        "urn:rosetta:problem:reservation-conflict",
        "ALREADY_EXISTS",
        "soap11env:Client.RESERVATION_CONFLICT",
    ),
    Wire(
        "INVALID_STATE_TRANSITION",
        409,
        "urn:rosetta:problem:invalid-state-transition",
        "FAILED_PRECONDITION",
        "soap11env:Client.INVALID_STATE_TRANSITION",
    ),
    Wire(
        "VERSION_MISMATCH",
        412,
        "urn:rosetta:problem:version-mismatch",
        "ABORTED",
        "soap11env:Client.VERSION_MISMATCH",
    ),
    Wire(
        "CAPACITY_EXCEEDED",
        422,
        "urn:rosetta:problem:capacity-exceeded",
        "FAILED_PRECONDITION",
        "soap11env:Client.CAPACITY_EXCEEDED",
    ),
    Wire(
        "IDEMPOTENCY_KEY_REUSED",
        422,
        "urn:rosetta:problem:idempotency-key-reused",
        "FAILED_PRECONDITION",
        "soap11env:Client.IDEMPOTENCY_KEY_REUSED",
    ),
    Wire(
        "UNAUTHENTICATED",
        401,
        "urn:rosetta:problem:unauthenticated",
        "UNAUTHENTICATED",
        "soap11env:Client.UNAUTHENTICATED",
    ),
    Wire(
        "FORBIDDEN",
        403,
        "urn:rosetta:problem:forbidden",
        "PERMISSION_DENIED",
        "soap11env:Client.FORBIDDEN",
    ),
    Wire(
        "RATE_LIMITED",
        429,
        "urn:rosetta:problem:rate-limited",
        "RESOURCE_EXHAUSTED",
        "soap11env:Client.RATE_LIMITED",
    ),
    Wire(
        "UNAVAILABLE",
        503,
        "urn:rosetta:problem:unavailable",
        "UNAVAILABLE",
        "soap11env:Server.UNAVAILABLE",
    ),
    Wire(
        "INTERNAL",
        500,
        "urn:rosetta:problem:internal",
        "INTERNAL",
        "soap11env:Server.INTERNAL",
    ),
)

WIRE_BY_CODE: dict[str, Wire] = {wire.code: wire for wire in CATALOG_WIRE}
