"""The RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-09) and Retry-After."""

from __future__ import annotations

import pytest

from services.core.access import QuotaState
from services.core.ratelimit import ratelimit_headers, retry_after_header


def test_policy_and_state_fields_follow_the_draft_syntax() -> None:
    state = QuotaState(policy="default", limit=40, remaining=12, reset_seconds=1.4, window_seconds=2.0)
    assert ratelimit_headers(state) == [
        ("RateLimit-Policy", '"default";q=40;w=2'),
        ("RateLimit", '"default";r=12;t=2'),
    ]


def test_a_full_bucket_resets_now_and_windows_are_whole_seconds() -> None:
    state = QuotaState(policy="default", limit=5, remaining=5, reset_seconds=0.0, window_seconds=0.625)
    assert ratelimit_headers(state) == [
        ("RateLimit-Policy", '"default";q=5;w=1'),
        ("RateLimit", '"default";r=5;t=0'),
    ]


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, "1"), (0.125, "1"), (1.0, "1"), (1.001, "2"), (59.2, "60")]
)
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header
