"""The HTTP rate-limit header fields, rendered once for every HTTP style (REST, GraphQL, SOAP).

Syntax of draft-ietf-httpapi-ratelimit-headers-09 (March 2025): structured-field lists whose items
name a policy, ``RateLimit-Policy: "default";q=40;w=2`` (quota ``q`` refilled over ``w`` seconds:
for a token bucket, the burst and the time an empty bucket takes to fill) and
``RateLimit: "default";r=12;t=1`` (``r`` left, full again in ``t`` seconds). ``Retry-After`` is
RFC 9110's delay-seconds, a whole number, so a wait is rounded up.
"""

from __future__ import annotations

import math

from services.core.access import QuotaState
from services.core.errors import RETRY_AFTER_CODES, RosettaError


def ratelimit_headers(state: QuotaState) -> list[tuple[str, str]]:
    """``RateLimit-Policy`` and ``RateLimit`` for an answer that was charged to ``state``'s bucket."""
    name = state.policy.replace("\\", "").replace('"', "")  # an sf-string; policy names are ours
    window = max(1, math.ceil(state.window_seconds))
    reset = math.ceil(state.reset_seconds)
    return [
        ("RateLimit-Policy", f'"{name}";q={state.limit};w={window}'),
        ("RateLimit", f'"{name}";r={state.remaining};t={reset}'),
    ]


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` for a RATE_LIMITED answer: whole seconds, at least 1 (never "retry now")."""
    return str(max(1, math.ceil(seconds)))


def quota_header_pairs(state: QuotaState | None) -> tuple[tuple[bytes, bytes], ...]:
    """The RateLimit fields as ASGI header pairs (none when nothing was charged)."""
    if state is None:
        return ()
    return tuple((name.lower().encode(), value.encode()) for name, value in ratelimit_headers(state))


def refusal_header_pairs(error: RosettaError) -> tuple[tuple[bytes, bytes], ...]:
    """``Retry-After`` for a RATE_LIMITED or UNAVAILABLE answer whose wait is known, as ASGI header pairs."""
    if error.code in RETRY_AFTER_CODES and error.retry_after is not None:
        return ((b"retry-after", retry_after_header(error.retry_after).encode()),)
    return ()
