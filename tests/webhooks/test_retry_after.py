"""How long the dispatcher waits when an endpoint says Retry-After (RFC 9110 §10.2.3): delay-seconds or an
HTTP-date, never negative, capped at the longest backoff (10 hours); anything else is ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.webhooks.dispatcher import parse_retry_after

NOW = datetime(2031, 3, 1, 12, 0, 0, tzinfo=UTC)
TEN_HOURS = 36_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        (" 30 ", 30.0),
        ("36000", TEN_HOURS),
        ("36001", TEN_HOURS),  # capped
        ("999999999", TEN_HOURS),
        ("Sat, 01 Mar 2031 12:01:30 GMT", 90.0),
        ("Sat, 01 Mar 2031 11:59:00 GMT", 0.0),  # in the past: now
        ("Sun, 02 Mar 2031 12:00:00 GMT", TEN_HOURS),  # a day ahead: capped
        ("Sat, 01 Mar 2031 12:01:30 -0000", None),  # "-0000": a date in no known zone
        ("-5", None),
        ("1.5", None),
        ("soon", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_capped(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds
