"""The message catalog: every code speaks en, ko and fr; Accept-Language negotiation honours q-values."""

from __future__ import annotations

import re

import pytest

from services.core import messages
from services.core.errors import (
    ERRORS_BY_CODE,
    DeliveryNotFound,
    InvalidProperty,
    NotFound,
    SubscriptionNotFound,
    error_from_code,
)

EXAMPLE_PARAMS = {
    "field": "date",
    "reason": "date",
    "roomId": "room-a",
    "reservationId": "rsv_x",
    "date": "2026-12-01",
    "startTime": "09:00",
    "endTime": "10:00",
    "capacity": 4,
    "attendees": 9,
    "status": "CANCELED",
    "action": "canceled",
    "expected": 1,
    "actual": 2,
    "key": "k-1",
    "limit": 1024,
    "min": 1,
    "max": 100,
    "allowed": "a, b",
    "subscriptionId": "whs_x",
    "deliveryId": "msg_x",
    "host": "hooks.example",
    "address": "10.0.0.7",
    "kind": "private",
    "operation": "mutation",
    "subprotocol": "rosetta.v1",
    "scope": "reservations:write",
}


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_every_code_has_a_title_and_a_fully_rendered_detail_in_every_language(
    code: str, language: str
) -> None:
    title = messages.title(code, language)
    detail = messages.detail(code, language, EXAMPLE_PARAMS)
    assert title and detail
    assert not re.search(r"\{[a-zA-Z]+\}", detail), detail


@pytest.mark.parametrize("fragment", sorted(messages.FRAGMENTS))
def test_every_fragment_is_translated_and_fully_rendered_inside_a_detail(fragment: str) -> None:
    assert set(messages.FRAGMENTS[fragment]) == set(messages.LANGUAGES)
    params = {**EXAMPLE_PARAMS, "reason": fragment}
    details = {messages.detail("INVALID_PROPERTY", lang, params) for lang in messages.LANGUAGES}
    assert len(details) == 3, fragment
    for detail in details:
        assert not re.search(r"\{[a-zA-Z]+\}", detail), detail


def test_fragments_with_fields_render_them_in_every_language() -> None:
    params = {"reason": "too_deep", "max": 7}
    for lang in messages.LANGUAGES:
        assert "7" in messages.detail("INVALID_PROPERTY", lang, {"field": "query", **params})
    assert messages.fragment("unresolvable", "fr", {"host": "nowhere.example"}) == (
        "l'hôte « nowhere.example » n'a pas pu être résolu."
    )


def test_languages_differ_so_a_missing_translation_would_show() -> None:
    for code in ERRORS_BY_CODE:
        texts = {messages.detail(code, lang, EXAMPLE_PARAMS) for lang in messages.LANGUAGES}
        assert len(texts) == 3, code


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("ko", "ko"),
        ("fr-CA", "fr"),
        ("de, fr;q=0.5, ko;q=0.8", "ko"),
        ("fr;q=0.9, en;q=0.9", "fr"),
        ("ko;q=0, fr;q=0.1", "fr"),
        ("*", "en"),
        ("de, ja", "en"),
        ("ko;q=abc, fr;q=0.3", "fr"),
    ],
)
def test_negotiate_honours_q_values(header: str | None, expected: str) -> None:
    assert messages.negotiate(header) == expected


def test_errors_render_their_own_message_and_rebuild_from_the_wire() -> None:
    error = InvalidProperty(field="startTime", params={"reason": "time"})
    assert error.localized("en") == "The property 'startTime' is invalid: expected a time as HH:MM (24 h)."
    assert error.localized("ko").startswith("'startTime' 속성이 올바르지 않습니다")
    received = error_from_code("INVALID_PROPERTY", "message from the server", "startTime")
    assert isinstance(received, InvalidProperty)
    assert received.field == "startTime"
    assert received.localized("fr") == "message from the server"
    assert error_from_code("NO_SUCH_CODE").code == "INTERNAL"


def test_the_webhook_codes_are_catalog_errors_under_not_found() -> None:
    received = error_from_code("SUBSCRIPTION_NOT_FOUND", "gone", None)
    assert isinstance(received, SubscriptionNotFound) and isinstance(received, NotFound)
    missing = DeliveryNotFound(params={"deliveryId": "msg_1"})
    assert missing.title("ko") == "전송 기록을 찾을 수 없음"
    assert "msg_1" in missing.localized("fr")
