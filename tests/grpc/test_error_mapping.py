"""The gRPC error mapping both ways, without a server: what the servicer aborts with, read back by the client.

``to_status`` builds the status a failed call ends with; ``from_rpc_error`` turns a failed call back into
the core's typed error. Every catalog code makes the round trip with its code, field, message and wait;
statuses that the gRPC runtime produces without our details map by a short table; transport trouble stays
a grpc error.
"""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.core.errors import ERRORS_BY_CODE, RosettaError
from services.grpc.errors import from_rpc_error, to_status
from tests.support.catalog_wire import CATALOG_WIRE, Wire


def failed_call(status: grpc.Status) -> grpc.aio.AioRpcError:
    """The AioRpcError a client gets for a call that ended with ``status``."""
    return grpc.aio.AioRpcError(
        status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
    )


def bare(code: grpc.StatusCode, details: str = "from the runtime") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def _error(code: str) -> RosettaError:
    cls = ERRORS_BY_CODE[code]
    if code in ("RATE_LIMITED", "UNAVAILABLE"):
        return cls(params={"retryAfter": 1.25})
    if code in ("MISSING_MANDATORY_PROPERTY", "INVALID_PROPERTY"):
        return cls(field="startTime")
    return cls()


@pytest.mark.parametrize("wire", [pytest.param(wire, id=wire.code) for wire in CATALOG_WIRE])
def test_every_catalog_code_makes_the_round_trip(wire: Wire) -> None:
    sent = _error(wire.code)
    status = to_status(sent, "fr")
    assert status.code.name == wire.grpc_status, f"{wire.code} is sent as {status.code.name}"
    assert status.details == sent.localized("fr")
    received = from_rpc_error(failed_call(status))
    assert isinstance(received, RosettaError)
    assert (received.code, received.field, str(received)) == (wire.code, sent.field, sent.localized("fr"))
    if wire.code in ("RATE_LIMITED", "UNAVAILABLE"):
        assert received.params.get("retryAfter") == 1.25, "the wait was lost on the way back"
    else:
        assert "retryAfter" not in received.params


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE"),  # a message over the size limit
        (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST"),  # bytes that are no protobuf
        (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
        (grpc.StatusCode.INTERNAL, "INTERNAL"),
        (grpc.StatusCode.UNKNOWN, "INTERNAL"),
    ],
)
def test_a_status_without_our_details_maps_by_its_code(status: grpc.StatusCode, code: str) -> None:
    received = from_rpc_error(bare(status))
    assert isinstance(received, RosettaError) and received.code == code
    assert str(received) == "from the runtime"


@pytest.mark.parametrize(
    "status", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED]
)
def test_transport_trouble_stays_a_grpc_error(status: grpc.StatusCode) -> None:
    failure = bare(status)
    assert from_rpc_error(failure) is failure


def test_an_error_info_of_another_domain_is_not_read_as_a_catalog_code() -> None:
    info = error_details_pb2.ErrorInfo(reason="RESERVATION_CONFLICT", domain="example.com")
    packed = status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="theirs")
    packed.details.add().Pack(info)
    received = from_rpc_error(failed_call(rpc_status.to_status(packed)))
    assert isinstance(received, RosettaError) and received.code == "INTERNAL"


def test_a_bad_request_names_the_field_when_error_info_does_not() -> None:
    violation = error_details_pb2.BadRequest.FieldViolation(field="endTime", description="bad")
    packed = status_pb2.Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message="bad")
    packed.details.add().Pack(
        error_details_pb2.ErrorInfo(reason="INVALID_PROPERTY", domain="rosetta.reservations.v1")
    )
    packed.details.add().Pack(error_details_pb2.BadRequest(field_violations=[violation]))
    received = from_rpc_error(failed_call(rpc_status.to_status(packed)))
    assert isinstance(received, RosettaError)
    assert (received.code, received.field) == ("INVALID_PROPERTY", "endTime")


def test_details_that_contradict_the_status_are_not_trusted() -> None:
    status = to_status(_error("VERSION_MISMATCH"), "en")
    failure = grpc.aio.AioRpcError(
        grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), "odd"
    )
    received = from_rpc_error(failure)
    assert isinstance(received, RosettaError) and received.code == "INTERNAL"
