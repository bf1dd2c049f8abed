"""REST's side of the error catalog: code -> HTTP status, and RFC 9457 problem+json responses."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response

from services.core import messages
from services.core.errors import InvalidProperty, MalformedRequest, RosettaError

# DESIGN §3, the one table (the webhook management API answers with it too). Protocol-level
# refusals (404 path, 405, 406, 415, 416) reuse a catalog code and set their own status below.
STATUS_BY_CODE: dict[str, int] = {
    "MISSING_MANDATORY_PROPERTY": 400,
    "INVALID_PROPERTY": 400,
    "MALFORMED_REQUEST": 400,
    "ROOM_NOT_FOUND": 404,
    "RESERVATION_NOT_FOUND": 404,
    "SUBSCRIPTION_NOT_FOUND": 404,
    "DELIVERY_NOT_FOUND": 404,
    "RESERVATION_CONFLICT": 409,
    "CAPACITY_EXCEEDED": 422,
    "INVALID_STATE_TRANSITION": 409,
    "VERSION_MISMATCH": 412,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "PAYLOAD_TOO_LARGE": 413,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
}

PROBLEM_MEDIA_TYPE = "application/problem+json"
VARY = "Accept, Accept-Language"


class HttpProblem(Exception):
    """A refusal decided by HTTP itself, carried as a catalog error plus its own status and headers."""

    def __init__(self, error: RosettaError, status: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.status = status
        self.headers = dict(headers or {})


def no_route() -> HttpProblem:
    return HttpProblem(MalformedRequest(params={"reason": "no_route"}), 404)


def method_not_allowed(allow: str) -> HttpProblem:
    return HttpProblem(MalformedRequest(params={"reason": "method"}), 405, {"allow": allow})


def unsupported_media_type(headers: Mapping[str, str] | None = None) -> HttpProblem:
    return HttpProblem(MalformedRequest(params={"reason": "media_type"}), 415, headers)


def not_an_object() -> MalformedRequest:
    return MalformedRequest(params={"reason": "not_object"})


def not_acceptable() -> HttpProblem:
    return HttpProblem(MalformedRequest(params={"reason": "not_acceptable"}), 406)


def range_not_satisfiable(total: int) -> HttpProblem:
    error = InvalidProperty(field="Range", params={"reason": "range_header"})
    return HttpProblem(error, 416, {"content-range": f"items */{total}"})


def malformed_body() -> MalformedRequest:
    return MalformedRequest(params={"reason": "syntax"})


def problem_type(code: str) -> str:
    return "urn:rosetta:problem:" + code.lower().replace("_", "-")


def problem_body(error: RosettaError, language: str, instance: str, status: int) -> dict[str, object]:
    body: dict[str, object] = {
        "type": problem_type(error.code),
        "code": error.code,
        "title": error.title(language),
        "detail": error.localized(language),
        "status": status,
        "instance": instance,
    }
    violations = error.violations
    if violations:
        body["errors"] = [{"field": v.field, "code": v.code} for v in violations]
    return body


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def problem_response(
    error: RosettaError,
    accept_language: str | None,
    instance: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    language = messages.negotiate(accept_language)
    code_status = status or STATUS_BY_CODE.get(error.code, 500)
    body = _encoder.encode(problem_body(error, language, instance, code_status)).encode()
    all_headers = {"vary": VARY, "content-language": language, **(headers or {})}
    return Response(body, code_status, all_headers, media_type=PROBLEM_MEDIA_TYPE)
