"""The gRPC error mapping: catalog code <-> grpc.StatusCode, and the rich google.rpc.Status both ways.

The server sends ``google.rpc.Status`` in ``grpc-status-details-bin`` with ErrorInfo (reason = the
catalog code), LocalizedMessage and BadRequest field violations, and for RATE_LIMITED RetryInfo (the
wait) and QuotaFailure (whose bucket, as AIP-193 asks); the client reads them back into the core's
typed errors, so a caller cannot tell it talked gRPC.
"""

from __future__ import annotations

from typing import cast

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.core.errors import RateLimited, RosettaError, error_from_code

DOMAIN = "rosetta.reservations.v1"

# The one table: catalog code -> gRPC status (DESIGN §3); a code missing here is sent as INTERNAL.
STATUS_BY_CODE: dict[str, grpc.StatusCode] = {
    "MISSING_MANDATORY_PROPERTY": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_PROPERTY": grpc.StatusCode.INVALID_ARGUMENT,
    "MALFORMED_REQUEST": grpc.StatusCode.INVALID_ARGUMENT,
    "ROOM_NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "RESERVATION_NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "SUBSCRIPTION_NOT_FOUND": grpc.StatusCode.NOT_FOUND,  # webhook codes: listed for completeness
    "DELIVERY_NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "RESERVATION_CONFLICT": grpc.StatusCode.ALREADY_EXISTS,
    "CAPACITY_EXCEEDED": grpc.StatusCode.FAILED_PRECONDITION,
    "INVALID_STATE_TRANSITION": grpc.StatusCode.FAILED_PRECONDITION,
    "VERSION_MISMATCH": grpc.StatusCode.ABORTED,
    "IDEMPOTENCY_KEY_REUSED": grpc.StatusCode.FAILED_PRECONDITION,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "FORBIDDEN": grpc.StatusCode.PERMISSION_DENIED,
    "RATE_LIMITED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "PAYLOAD_TOO_LARGE": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}

# Statuses the gRPC runtime itself produces without rich details (a message over the size
# limit, a failure before our handler ran): the catalog code a client reports for each.
# Anything else (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, ...) is transport trouble and is
# raised as the grpc error itself.
CODE_BY_BARE_STATUS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.RESOURCE_EXHAUSTED: "PAYLOAD_TOO_LARGE",
    grpc.StatusCode.INVALID_ARGUMENT: "MALFORMED_REQUEST",
    grpc.StatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
    grpc.StatusCode.INTERNAL: "INTERNAL",
    grpc.StatusCode.UNKNOWN: "INTERNAL",
}


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(error: RosettaError, language: str) -> grpc.Status:
    """The status to abort with: code from the table, localized message, rich details."""
    message = error.localized(language)
    info = error_details_pb2.ErrorInfo(reason=error.code, domain=DOMAIN)
    if error.field:
        info.metadata["field"] = error.field
    details = [
        _packed(info),
        _packed(error_details_pb2.LocalizedMessage(locale=language, message=message)),
    ]
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=violation.field, description=message, reason=violation.code
                )
                for violation in error.violations
            ]
        )
        details.append(_packed(bad_request))
    if isinstance(error, RateLimited):
        details.extend(_quota_details(error, message))
    elif error.retry_after is not None:  # UNAVAILABLE: when to come back, as AIP-194 asks
        details.append(_retry_info(error.retry_after))
    status_code = STATUS_BY_CODE.get(error.code, grpc.StatusCode.INTERNAL)
    rich = status_pb2.Status(code=status_code.value[0], message=message, details=details)
    return rpc_status.to_status(rich)


def _quota_details(error: RateLimited, message: str) -> list[any_pb2.Any]:
    """RetryInfo (when the wait is known) and QuotaFailure naming the bucket that is empty."""
    details = []
    wait = error.retry_after
    if wait is not None:
        details.append(_retry_info(wait))
    subject = str(error.params.get("subject", "client"))
    violation = error_details_pb2.QuotaFailure.Violation(subject=subject, description=message)
    details.append(_packed(error_details_pb2.QuotaFailure(violations=[violation])))
    return details


def _retry_info(seconds: float) -> any_pb2.Any:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(round(seconds * 1e9))
    return _packed(error_details_pb2.RetryInfo(retry_delay=delay))


def rich_status_of(failure: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status a failed call carries; None when it has none, or one that contradicts its
    status code (then it is not ours)."""
    try:
        # from_call reads only code(), details() and trailing_metadata(), which AioRpcError has too
        # (grpc's stubs type it for the synchronous grpc.Call).
        return rpc_status.from_call(cast(grpc.Call, failure))
    except ValueError:
        return None


def from_rpc_error(failure: grpc.aio.AioRpcError) -> Exception:
    """The core's typed error a failed call stands for, or the grpc error itself for transport trouble."""
    rich = rich_status_of(failure)
    code: str | None = None
    field: str | None = None
    # No mutation: any non-number here reads back as "no wait" (RosettaError.retry_after), as None does.
    retry_after: float | None = None  # pragma: no mutate
    message: str | None = failure.details()
    if rich is not None:
        for detail in rich.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.domain == DOMAIN:
                    code = info.reason
                    field = info.metadata.get("field") or field
            elif detail.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR):
                localized = error_details_pb2.LocalizedMessage()
                detail.Unpack(localized)
                message = localized.message
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR) and field is None:
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                if bad_request.field_violations:
                    field = bad_request.field_violations[0].field
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after = retry.retry_delay.ToNanoseconds() / 1e9
    if code is None:
        code = CODE_BY_BARE_STATUS.get(failure.code())
        if code is None:
            return failure
    return error_from_code(code, message, field, retry_after)
