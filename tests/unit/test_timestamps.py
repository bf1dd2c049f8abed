"""The one timestamp format of every style: RFC 3339, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from services.core.model import format_timestamp, parse_timestamp


def test_a_utc_moment_is_written_with_milliseconds_and_z() -> None:
    moment = datetime(2026, 11, 23, 15, 56, 11, 123456, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-11-23T15:56:11.123Z"
    assert format_timestamp(datetime(2029, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2029-01-02T03:04:05.000Z"


def test_another_zone_is_converted_to_utc_and_equal_instants_read_the_same() -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 11, 23, 16, 56, 11, 123000, tzinfo=paris)
    utc = datetime(2026, 11, 23, 15, 56, 11, 123000, tzinfo=UTC)
    # Either order: the cache keys equal instants together, and both must read as UTC.
    assert format_timestamp(local) == "2026-11-23T15:56:11.123Z"
    assert format_timestamp(utc) == "2026-11-23T15:56:11.123Z"


def test_distinct_moments_keep_distinct_texts_and_round_trip() -> None:
    base = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    moments = [base + timedelta(milliseconds=step) for step in range(50)]
    texts = [format_timestamp(moment) for moment in moments]
    assert len(set(texts)) == 50
    assert [parse_timestamp(text) for text in texts] == moments
