"""The core's input checks, as a caller of any style sees them: each bad input → catalog code, field, message.

Every style answers with the code, ``field`` and localized message these checks raise, so a table of bad
inputs here is the table every style must reproduce; the good inputs beside them show what is kept.
"""

from __future__ import annotations

import dataclasses
import sys
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from services.core import validation as check
from services.core.errors import InvalidProperty, MalformedRequest, MissingMandatoryProperty, RosettaError
from services.core.model import ReservationChanges, ReservationDraft, ReservationQuery, ReservationStatus
from services.core.ports import ReservationFilter
from tests.support.drafts import DRAFT, draft

SORT_ALLOWED = "date, -date, startTime, -startTime, createdAt, -createdAt"
STATUS_ALLOWED = "RESERVED, CHECKED_IN, CANCELED"
TYPES_ALLOWED = "reservation.created, reservation.modified, reservation.canceled, reservation.checked_in"


def refusal(call: Callable[[], object]) -> tuple[str, str | None, str]:
    """What a caller is told: the catalog code, the field and the English message."""
    with pytest.raises(RosettaError) as caught:
        call()
    return caught.value.code, caught.value.field, caught.value.localized("en")


def invalid(field: str, reason: str) -> tuple[str, str, str]:
    return "INVALID_PROPERTY", field, f"The property '{field}' is invalid: {reason}"


def missing(field: str) -> tuple[str, str, str]:
    return "MISSING_MANDATORY_PROPERTY", field, f"The property '{field}' is required."


TYPE = "the value has the wrong type."
TEXT = (
    "the text holds a character that is not allowed (a control character, a noncharacter or an unpaired "
    "surrogate)."
)
DATE = "expected a date as YYYY-MM-DD."
TIME = "expected a time as HH:MM (24 h)."


def length(minimum: int, maximum: int) -> str:
    return f"expected {minimum} to {maximum} characters."


def whole(minimum: int, maximum: int) -> str:
    return f"expected a whole number from {minimum} to {maximum}."


# A new reservation: one bad field at a time, and what its refusal says.
BAD_DRAFTS: dict[str, tuple[dict[str, Any], tuple[str, str | None, str]]] = {
    "no room": ({"room_id": None}, missing("roomId")),
    "empty room": ({"room_id": ""}, invalid("roomId", length(1, 100))),
    "blank room": ({"room_id": "   "}, invalid("roomId", length(1, 100))),
    "room too long": ({"room_id": "r" * 101}, invalid("roomId", length(1, 100))),
    "room not text": ({"room_id": 7}, invalid("roomId", TYPE)),
    "room with a control": ({"room_id": "room\x00b"}, invalid("roomId", TEXT)),
    "no guest": ({"guest_name": None}, missing("guestName")),
    "empty guest": ({"guest_name": ""}, invalid("guestName", length(1, 100))),
    "guest too long": ({"guest_name": "g" * 101}, invalid("guestName", length(1, 100))),
    "guest not text": ({"guest_name": ["Ada"]}, invalid("guestName", TYPE)),
    "guest with a line break": ({"guest_name": "Ada\nLovelace"}, invalid("guestName", TEXT)),
    "no date": ({"date": None}, missing("date")),
    "date not text": ({"date": 20261201}, invalid("date", DATE)),
    "date in another format": ({"date": "01/12/2026"}, invalid("date", DATE)),
    "date with a time": ({"date": "2026-12-01T09:00"}, invalid("date", DATE)),
    "date that does not exist": ({"date": "2026-02-30"}, invalid("date", DATE)),
    "month 13": ({"date": "2026-13-01"}, invalid("date", DATE)),
    "no start": ({"start_time": None}, missing("startTime")),
    "start not text": ({"start_time": 900}, invalid("startTime", TIME)),
    "start at 24:00": ({"start_time": "24:00"}, invalid("startTime", TIME)),
    "start with seconds": ({"start_time": "09:00:00"}, invalid("startTime", TIME)),
    "no end": ({"end_time": None}, missing("endTime")),
    "end at 9:60": ({"end_time": "09:60"}, invalid("endTime", TIME)),
    "end before start": ({"end_time": "08:59"}, invalid("endTime", "startTime must be before endTime.")),
    "end at start": ({"end_time": "09:00"}, invalid("endTime", "startTime must be before endTime.")),
    "no attendees": ({"attendees": None}, missing("attendees")),
    "no one attends": ({"attendees": 0}, invalid("attendees", whole(1, 10_000))),
    "too many attendees": ({"attendees": 10_001}, invalid("attendees", whole(1, 10_000))),
    "attendees as text": ({"attendees": "3"}, invalid("attendees", TYPE)),
    "attendees as a boolean": ({"attendees": True}, invalid("attendees", TYPE)),
    "attendees as a fraction": ({"attendees": 2.5}, invalid("attendees", TYPE)),
    "purpose too long": ({"purpose": "p" * 501}, invalid("purpose", length(0, 500))),
    "purpose not text": ({"purpose": 5}, invalid("purpose", TYPE)),
    "purpose false": ({"purpose": False}, invalid("purpose", TYPE)),
    "purpose with a tab": ({"purpose": "a\tb"}, invalid("purpose", TEXT)),
}


@pytest.mark.parametrize(("overrides", "expected"), BAD_DRAFTS.values(), ids=BAD_DRAFTS.keys())
def test_a_bad_field_of_a_new_reservation_is_refused_with_its_code_field_and_message(
    overrides: dict[str, Any], expected: tuple[str, str | None, str]
) -> None:
    assert refusal(lambda: check.draft_fields(draft(**overrides))) == expected


def test_a_valid_draft_is_kept_trimmed_by_model_field_name() -> None:
    given = draft(room_id="  room-b ", guest_name=" Grace Hopper  ", purpose="  study\n")
    assert check.draft_fields(given) == {
        "room_id": "room-b",
        "guest_name": "Grace Hopper",
        "date": "2026-12-01",
        "start_time": "09:00",
        "end_time": "10:00",
        "attendees": 3,
        "purpose": "study",
    }


def test_the_bounds_of_a_new_reservation_are_inclusive() -> None:
    smallest = check.draft_fields(
        draft(room_id="r", guest_name="G", start_time="00:00", end_time="00:01", attendees=1, purpose="")
    )
    assert (smallest["room_id"], smallest["guest_name"], smallest["attendees"]) == ("r", "G", 1)
    assert smallest["purpose"] is None  # an empty purpose is no purpose
    largest = check.draft_fields(
        draft(
            room_id="r" * 100,
            guest_name="g" * 100,
            start_time="22:59",
            end_time="23:59",
            attendees=10_000,
            purpose="p" * 500,
        )
    )
    assert (len(largest["room_id"]), len(largest["guest_name"]), len(largest["purpose"])) == (100, 100, 500)
    assert largest["attendees"] == 10_000
    assert check.draft_fields(draft(purpose=None))["purpose"] is None


def test_the_first_refusal_is_reported_in_the_same_field_order_by_every_style() -> None:
    """Each refusal names the first bad field in form order; fixing it reveals the next."""
    bad = ReservationDraft(
        room_id="",
        guest_name="",
        date="tomorrow",
        start_time="9am",
        end_time="10am",
        attendees=None,
        purpose="p" * 501,
    )
    fixes: list[tuple[str, dict[str, Any]]] = [
        ("roomId", {"room_id": "room-b"}),
        ("guestName", {"guest_name": "Ada"}),
        ("date", {"date": "2026-12-01"}),
        ("startTime", {"start_time": "11:00"}),
        ("endTime", {"end_time": "10:00"}),
        ("endTime", {"end_time": "12:00"}),
        ("attendees", {"attendees": 2}),
        ("purpose", {"purpose": None}),
    ]
    for field, fix in fixes:
        assert refusal(partial(check.draft_fields, bad))[1] == field
        bad = dataclasses.replace(bad, **fix)
    assert check.draft_fields(bad)["end_time"] == "12:00"


def test_text_is_normalized_before_it_is_trimmed_and_counted() -> None:
    decomposed = unicodedata.normalize("NFD", "\u00e9" * 100)
    assert check.draft_fields(draft(guest_name=decomposed))["guest_name"] == "\u00e9" * 100
    assert check.clean_text("guestName", "Zoe\u0308") == "Zo\u00eb"
    assert check.clean_text("purpose", "one\ntwo") == "one\ntwo"
    assert check.clean_text("reason", "one\ntwo") == "one\ntwo"
    assert refusal(lambda: check.clean_text("room_id", "one\ntwo")) == invalid("roomId", TEXT)


# A modification: only the fields given are checked and set.
CHANGES: dict[str, tuple[ReservationChanges, dict[str, Any]]] = {
    "nothing": (ReservationChanges(), {}),
    "room": (ReservationChanges(room_id=" room-c "), {"room_id": "room-c"}),
    "guest": (ReservationChanges(guest_name="Ada "), {"guest_name": "Ada"}),
    "date": (ReservationChanges(date="2026-12-02"), {"date": "2026-12-02"}),
    "start": (ReservationChanges(start_time="08:00"), {"start_time": "08:00"}),
    "end": (ReservationChanges(end_time="11:30"), {"end_time": "11:30"}),
    "attendees": (ReservationChanges(attendees=10_000), {"attendees": 10_000}),
    "purpose": (ReservationChanges(purpose=" revision "), {"purpose": "revision"}),
    "purpose cleared": (ReservationChanges(purpose=""), {"purpose": None}),
    "purpose of 500": (ReservationChanges(purpose="p" * 500), {"purpose": "p" * 500}),
}


@pytest.mark.parametrize(("changes", "expected"), CHANGES.values(), ids=CHANGES.keys())
def test_a_modification_sets_exactly_the_fields_given(
    changes: ReservationChanges, expected: dict[str, Any]
) -> None:
    assert check.change_fields(changes) == expected


BAD_CHANGES: dict[str, tuple[ReservationChanges, tuple[str, str | None, str]]] = {
    "empty room": (ReservationChanges(room_id=""), invalid("roomId", length(1, 100))),
    "room too long": (ReservationChanges(room_id="r" * 101), invalid("roomId", length(1, 100))),
    "blank guest": (ReservationChanges(guest_name=" "), invalid("guestName", length(1, 100))),
    "guest too long": (ReservationChanges(guest_name="g" * 101), invalid("guestName", length(1, 100))),
    "bad date": (ReservationChanges(date="2026-02-29"), invalid("date", DATE)),
    "bad start": (ReservationChanges(start_time="7:00"), invalid("startTime", TIME)),
    "bad end": (ReservationChanges(end_time="25:00"), invalid("endTime", TIME)),
    "no one attends": (ReservationChanges(attendees=0), invalid("attendees", whole(1, 10_000))),
    "too many attend": (ReservationChanges(attendees=10_001), invalid("attendees", whole(1, 10_000))),
    "purpose too long": (ReservationChanges(purpose="p" * 501), invalid("purpose", length(0, 500))),
}


@pytest.mark.parametrize(("changes", "expected"), BAD_CHANGES.values(), ids=BAD_CHANGES.keys())
def test_a_bad_field_of_a_modification_is_refused_with_its_code_field_and_message(
    changes: ReservationChanges, expected: tuple[str, str | None, str]
) -> None:
    assert refusal(lambda: check.change_fields(changes)) == expected


def test_a_json_body_becomes_a_draft_by_wire_names_and_an_unknown_name_is_refused_by_name() -> None:
    body = {
        "roomId": "room-b",
        "guestName": "Grace Hopper",
        "date": "2026-12-01",
        "startTime": "09:00",
        "endTime": "10:00",
        "attendees": 3,
        "purpose": "compiler study group",
    }
    assert check.from_mapping(ReservationDraft, body) == DRAFT
    assert check.from_mapping(ReservationChanges, {"endTime": "11:00"}) == ReservationChanges(
        end_time="11:00"
    )
    unknown = "this property is not recognised."
    assert refusal(lambda: check.from_mapping(ReservationDraft, {**body, "room_id": "x"})) == invalid(
        "room_id", unknown
    )
    numbered: dict[Any, Any] = {1: "x"}
    assert refusal(lambda: check.from_mapping(ReservationChanges, numbered)) == invalid("1", unknown)


def test_a_merge_patch_null_clears_the_purpose_and_is_refused_for_any_other_field() -> None:
    assert check.changes_from_patch({"purpose": None, "attendees": 4}) == ReservationChanges(
        purpose="", attendees=4
    )
    assert check.changes_from_patch({"purpose": "kept"}) == ReservationChanges(purpose="kept")
    assert refusal(lambda: check.changes_from_patch({"purpose": "x", "guestName": None})) == invalid(
        "guestName", TYPE
    )
    assert refusal(lambda: check.changes_from_patch({"nickname": "x"})) == invalid(
        "nickname", "this property is not recognised."
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2), (" 3 ", 3), ("+4", 4), (5, 5), ("100", 100), (1, 1)],
)
def test_a_page_number_may_come_as_a_query_string(value: object, expected: int) -> None:
    assert check.whole_number("page_size", value, minimum=1, maximum=100, coerce=True) == expected


@pytest.mark.parametrize("value", ["abc", "", "2.0", "0", "101", "-1", True, None, 3.0, "1234567890"])
def test_a_page_size_that_is_not_a_whole_number_in_range_says_the_range(value: object) -> None:
    expected = invalid("pageSize", whole(1, 100))
    assert (
        refusal(lambda: check.whole_number("page_size", value, minimum=1, maximum=100, coerce=True))
        == expected
    )


def test_a_number_from_a_typed_style_is_not_read_from_text() -> None:
    for value in ("2", True, 2.0, None):
        assert refusal(
            partial(check.whole_number, "expected_version", value, minimum=1, maximum=9)
        ) == invalid("expectedVersion", TYPE)
    # A name with no wire spelling (a header, an event cursor) is named as given.
    assert refusal(lambda: check.whole_number("after", -1, minimum=0, maximum=9)) == invalid(
        "after", whole(0, 9)
    )
    assert check.whole_number("after", 0, minimum=0, maximum=9) == 0
    assert check.whole_number("after", 9, minimum=0, maximum=9) == 9


def test_status_filter() -> None:
    assert check.status(None) is None
    assert check.status("") is None
    assert check.status("CHECKED_IN") is ReservationStatus.CHECKED_IN
    for value in ("reserved", "ANY", 3):
        assert refusal(partial(check.status, value)) == invalid(
            "status", f"expected one of {STATUS_ALLOWED}."
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (("date", False), ("start_time", False))),
        ("", (("date", False), ("start_time", False))),
        ("date", (("date", False),)),
        ("-createdAt", (("created_at", True),)),
        ("-date, startTime", (("date", True), ("start_time", False))),
        (" startTime ,-date", (("start_time", False), ("date", True))),
    ],
)
def test_sort_keys_are_read_in_order_with_a_minus_for_descending(
    value: str | None, expected: tuple[tuple[str, bool], ...]
) -> None:
    assert check.sort(value) == expected


@pytest.mark.parametrize("value", ["name", "date,", "+date", "--date", "start_time", "date;-createdAt"])
def test_an_unknown_sort_key_is_refused_listing_the_allowed_ones(value: str) -> None:
    assert refusal(lambda: check.sort(value)) == invalid("sort", f"expected one of {SORT_ALLOWED}.")


def test_a_sort_that_is_not_text_is_a_type_error() -> None:
    assert refusal(lambda: check.sort(["date"])) == invalid("sort", TYPE)


def test_event_type_filter() -> None:
    assert check.event_types(None) is None
    assert check.event_types([]) is None
    assert check.event_types(()) is None
    assert check.event_types(["reservation.canceled"]) == ("reservation.canceled",)
    both = ("reservation.created", "reservation.checked_in")
    assert check.event_types(both) == both
    assert check.event_types(list(both)) == both
    enum = invalid("types", f"expected one of {TYPES_ALLOWED}.")
    assert refusal(lambda: check.event_types(["reservation.created", "created"])) == enum
    assert refusal(lambda: check.event_types("reservation.created")) == invalid("types", TYPE)


@pytest.mark.parametrize("value", [None, "k", "k" * 255, "order-42 retry", "한국어-키"])
def test_an_idempotency_key_is_kept_as_given(value: str | None) -> None:
    assert check.idempotency_key(value) == value


@pytest.mark.parametrize("value", ["", "k" * 256, "key\n", "key\x00", "\u2028", 42])
def test_a_bad_idempotency_key_is_refused_naming_it(value: Any) -> None:
    assert refusal(lambda: check.idempotency_key(value)) == invalid("idempotencyKey", length(1, 255))


def test_an_id_from_a_caller_is_text_within_the_rule() -> None:
    assert check.identifier("room_id", "room-b") == "room-b"
    assert check.identifier("reservation_id", " rsv_1 ") == " rsv_1 "  # ids are not trimmed
    assert refusal(lambda: check.identifier("room_id", 5)) == invalid("roomId", TYPE)
    assert refusal(lambda: check.identifier("reservation_id", "rsv\x1b")) == invalid("reservation_id", TEXT)


def _breaks_text_rule(code: int, *, line_breaks: bool) -> bool:
    """DESIGN's text rule, written out: C0 (a line feed allowed in free text), DEL and C1, surrogates,
    noncharacters."""
    if code == 0x0A and line_breaks:
        return False
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF
        or 0xFDD0 <= code <= 0xFDEF
        or code & 0xFFFE == 0xFFFE
    )


def _refused(call: Callable[[], object], wire: str) -> bool:
    """Whether ``call`` refuses its text, as the rule's INVALID_PROPERTY naming the field (nothing else)."""
    try:
        call()
    except InvalidProperty as error:
        assert (error.code, error.field) == ("INVALID_PROPERTY", wire)
        return True
    return False


@pytest.mark.parametrize(("field", "wire"), [("room_id", "roomId"), ("purpose", "purpose")])
def test_every_character_is_judged_as_the_text_rule_says(field: str, wire: str) -> None:
    """All of Unicode, one character at a time inside an id or a text: refused exactly when the rule says
    (printable ASCII takes a shortcut past the pattern, which must change nothing)."""
    line_breaks = field == "purpose"
    for code in range(sys.maxunicode + 1):
        value = f"a{chr(code)}b"
        expected = _breaks_text_rule(code, line_breaks=line_breaks)
        assert _refused(partial(check.clean_text, field, value), wire) is expected, f"text U+{code:04X}"
        if not line_breaks:  # an id has one rule, the one-line one
            assert _refused(partial(check.identifier, field, value), wire) is expected, f"id U+{code:04X}"


def test_a_listing_filter_keeps_what_was_asked_for() -> None:
    query = ReservationQuery(
        status="RESERVED", room_id="room-b", date_from="2026-12-01", date_to="2026-12-01", guest_name=" ZOË "
    )
    assert check.reservation_filter(query) == ReservationFilter(
        status=ReservationStatus.RESERVED,
        room_ids=("room-b",),
        date_from="2026-12-01",
        date_to="2026-12-01",
        guest_name="zoë",
    )
    assert check.reservation_filter(ReservationQuery()) == ReservationFilter()
    empty = ReservationQuery(status="", room_id="", date_from="", date_to="", guest_name="")
    assert check.reservation_filter(empty) == ReservationFilter()
    assert check.reservation_filter(ReservationQuery(date_from="2026-12-01")).date_from == "2026-12-01"
    assert check.reservation_filter(ReservationQuery(date_to="2026-12-01")).date_to == "2026-12-01"


BAD_FILTERS: dict[str, tuple[ReservationQuery, tuple[str, str | None, str]]] = {
    "dates reversed": (
        ReservationQuery(date_from="2026-12-02", date_to="2026-12-01"),
        invalid("dateTo", "dateFrom must not be after dateTo."),
    ),
    "bad from": (ReservationQuery(date_from="2026-12-1"), invalid("dateFrom", DATE)),
    "bad to": (ReservationQuery(date_to="soon"), invalid("dateTo", DATE)),
    "room not text": (ReservationQuery(room_id=5), invalid("roomId", TYPE)),  # type: ignore[arg-type]
    "guest not text": (ReservationQuery(guest_name=["a"]), invalid("guestName", TYPE)),  # type: ignore[arg-type]
    "room with a control": (ReservationQuery(room_id="r\x07"), invalid("roomId", TEXT)),
    "guest with a control": (ReservationQuery(guest_name="a\x7f"), invalid("guestName", TEXT)),
    "bad status": (ReservationQuery(status="DONE"), invalid("status", f"expected one of {STATUS_ALLOWED}.")),
}


@pytest.mark.parametrize(("query", "expected"), BAD_FILTERS.values(), ids=BAD_FILTERS.keys())
def test_a_bad_listing_filter_is_refused_with_its_code_field_and_message(
    query: ReservationQuery, expected: tuple[str, str | None, str]
) -> None:
    assert refusal(lambda: check.reservation_filter(query)) == expected


def test_search_keys_ignore_case_and_spelling_but_not_accents() -> None:
    assert check.search_key("ZOE\u0308") == check.search_key("zoë") == "zoë"
    assert check.search_key("Weiß") == "weiss"
    assert check.search_key("Zoe") != check.search_key("Zoë")


SYNTAX = ("MALFORMED_REQUEST", None, "The request could not be read: the body is not well-formed.")


@pytest.mark.parametrize(
    "body",
    ['{"a": ', "NaN", '{"a": Infinity}', '{"a": -Infinity}', "", b"\xff", "[" * 100_000 + "]" * 100_000],
)
def test_a_body_that_is_not_json_is_malformed(body: str | bytes) -> None:
    assert refusal(lambda: check.json_document(body)) == SYNTAX


def test_a_json_body_is_decoded_as_sent() -> None:
    assert check.json_document(b'{"roomId": "r", "n": [1, 2.5, null]}') == {
        "roomId": "r",
        "n": [1, 2.5, None],
    }


UNPAIRED = {
    "a member": ('{"roomId": "ok", "guestName": "a\\ud800"}', "guestName"),
    "a nested member": ('{"input": {"purpose": "\\udc00"}}', "purpose"),
    "a list item": ('{"types": ["reservation.created", "\\ud800"]}', "types"),
    "a list of objects": ('[{"query": "{ a }"}, {"query": "\\ud800"}]', "query"),
    "a key": ('{"a\\ud800b": 1}', "a\\ud800b"),
    "an empty key": ('{"": "\\ud800"}', "body"),
}


@pytest.mark.parametrize(("body", "field"), UNPAIRED.values(), ids=UNPAIRED.keys())
def test_an_unpaired_surrogate_is_refused_naming_its_member(body: str, field: str) -> None:
    assert refusal(lambda: check.json_document(body)) == invalid(field, TEXT)
    decoded = check.json_document(body, text_rule=False)  # the caller checks it later
    assert refusal(lambda: check.refuse_unpaired_surrogates(decoded)) == invalid(field, TEXT)


def test_paired_surrogates_and_other_values_pass_the_text_rule() -> None:
    body = '{"guestName": "\\ud83d\\ude00", "attendees": 3, "ok": true, "none": null, "list": [1, "a"]}'
    assert check.json_document(body)["guestName"] == "\U0001f600"
    check.refuse_unpaired_surrogates({"a": {"b": ["c", 1.5]}, "d": "e"})


def test_the_refusals_are_the_catalog_exceptions_each_style_maps() -> None:
    with pytest.raises(MissingMandatoryProperty):
        check.clock_time("start_time", None)
    with pytest.raises(InvalidProperty):
        check.time_order("10:00", "10:00")
    with pytest.raises(MalformedRequest):
        check.json_document("{")
    check.time_order("09:59", "10:00")
    assert check.iso_date("date_from", None, required=False) is None
    assert check.iso_date("date", "2028-02-29") == "2028-02-29"
    assert refusal(lambda: check.iso_date("date", None)) == missing("date")
    assert check.clock_time("end_time", "23:59") == "23:59"
