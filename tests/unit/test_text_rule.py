"""The one text rule of the core, and search that works in every language, on all three stores.

Issue 15, findings 1, 2 and 6: a lone surrogate or a control character used to be stored (and then
poison every read in some style); names were compared unnormalized and, on SQLite, ASCII-only.
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.core.errors import InvalidProperty, MalformedRequest, RosettaError
from services.core.events import InProcessNotifier
from services.core.model import ReservationChanges, ReservationDraft, ReservationQuery
from services.core.service import ReservationService
from services.core.validation import json_document, search_key
from services.store import MemoryStore, SqliteStore
from services.store.reservations.postgres import PostgresStore
from tests.support.drafts import draft as base_draft
from tests.support.postgres import fresh_schema

DSN = os.environ.get("ROSETTA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with fresh_schema() as name:
        yield name


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReservationService]:
    """The core over each of the three stores (this module's own: PostgreSQL included)."""
    if request.param == "memory":
        store: MemoryStore | SqliteStore | PostgresStore = MemoryStore()
    elif request.param == "sqlite":
        store = SqliteStore(tmp_path / "rosetta.db")
    else:
        store = PostgresStore(DSN, schema=request.getfixturevalue("pg_schema"))
    await store.open()
    yield ReservationService(store, notifier=InProcessNotifier())
    await store.close()


def draft(guest_name: object = "Ada", **overrides: object) -> ReservationDraft:
    return base_draft(**{"guest_name": guest_name, "purpose": None} | overrides)


REFUSED = {
    "lone high surrogate": "a\ud800",
    "lone low surrogate": "\udc00b",
    "NUL": "a\x00b",
    "SOH": "\x01",
    "ESC": "a\x1b[31m",
    "DEL": "a\x7f",
    "C1 NEL": "a\x85",
    "noncharacter U+FFFE": "a\ufffe",
    "noncharacter U+FDD0": "\ufdd0",
    "noncharacter U+10FFFF": "a\U0010ffff",
    "newline in a name": "Ada\nLovelace",
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
async def test_text_outside_the_rule_is_invalid_property_naming_the_field_and_nothing_is_kept(
    service: ReservationService, value: str
) -> None:
    with pytest.raises(InvalidProperty) as caught:
        await service.create_reservation(draft(value))
    assert caught.value.field == "guestName"
    with pytest.raises(InvalidProperty) as caught:
        await service.create_reservation(draft(purpose=value.replace("\n", "\x00")))
    assert caught.value.field == "purpose"
    created = await service.create_reservation(draft())
    with pytest.raises(InvalidProperty) as caught:
        await service.modify_reservation(created.reservation_id, ReservationChanges(purpose=value + "\x00"))
    assert caught.value.field == "purpose"
    with pytest.raises(InvalidProperty) as caught:
        await service.cancel_reservation(created.reservation_id, reason="\x00" + value)
    assert caught.value.field == "reason"
    # Nothing half-written: one created event, and the reservation still reads as created.
    assert [e.type for e in await service.watch_events(0)] == ["reservation.created"]
    assert await service.get_reservation(created.reservation_id) == created
    page = await service.list_reservations(ReservationQuery())
    assert [r.reservation_id for r in page.items] == [created.reservation_id]


async def test_free_text_may_hold_line_breaks_names_may_not(service: ReservationService) -> None:
    created = await service.create_reservation(draft(purpose="line one\nline two"))
    assert created.purpose == "line one\nline two"
    assert (await service.get_reservation(created.reservation_id)).purpose == "line one\nline two"


async def test_tab_is_refused_even_in_free_text(service: ReservationService) -> None:
    with pytest.raises(InvalidProperty) as caught:
        await service.create_reservation(draft(purpose="a\tb"))
    assert caught.value.field == "purpose"


async def test_names_are_stored_in_nfc_and_lengths_count_after_normalization(
    service: ReservationService,
) -> None:
    decomposed = "Zoe\u0308"  # e + COMBINING DIAERESIS
    created = await service.create_reservation(draft(decomposed))
    assert created.guest_name == "Zo\u00eb"
    assert (await service.get_reservation(created.reservation_id)).guest_name == "Zo\u00eb"
    # 100 "é" written decomposed are 200 code points, but 100 characters once normalized.
    long_name = unicodedata.normalize("NFD", "\u00e9" * 100)
    assert len(long_name) == 200
    kept = await service.create_reservation(draft(long_name, start_time="11:00", end_time="12:00"))
    assert kept.guest_name == "\u00e9" * 100
    with pytest.raises(InvalidProperty):
        await service.create_reservation(draft("\u00e9" * 101, start_time="13:00", end_time="14:00"))


async def names_matching(service: ReservationService, text: str) -> list[str]:
    page = await service.list_reservations(ReservationQuery(guest_name=text))
    return sorted(item.guest_name for item in page.items)


async def test_search_is_case_and_accent_aware_in_french_and_korean_on_every_store(
    service: ReservationService,
) -> None:
    names = ["Émile Ångström", "Zoë Dupré", "김민준", "STRASSE Weiß", "Ada Lovelace"]
    for hour, name in enumerate(names, start=8):
        await service.create_reservation(draft(name, start_time=f"{hour:02d}:00", end_time=f"{hour:02d}:30"))
    assert await names_matching(service, "Émile") == ["Émile Ångström"]
    assert await names_matching(service, "émile") == ["Émile Ångström"]
    assert await names_matching(service, "ÅNGSTRÖM") == ["Émile Ångström"]
    assert await names_matching(service, "E\u0301mile") == ["Émile Ångström"]  # decomposed query
    assert await names_matching(service, "zoë") == ["Zoë Dupré"]
    assert await names_matching(service, "dupre\u0301") == ["Zoë Dupré"]
    assert await names_matching(service, "민준") == ["김민준"]
    assert await names_matching(service, "김") == ["김민준"]
    assert await names_matching(service, "weiss") == ["STRASSE Weiß"]  # case folding, not lower()
    assert await names_matching(service, "emile") == []  # accents matter: é is not e
    assert await names_matching(service, "%") == []  # LIKE wildcards are literal
    assert await names_matching(service, "_") == []


async def test_a_search_or_an_id_outside_the_text_rule_is_refused_not_a_server_error(
    service: ReservationService,
) -> None:
    for call in (
        service.list_reservations(ReservationQuery(guest_name="a\x00")),
        service.list_reservations(ReservationQuery(room_id="room-\ud800")),
        service.get_reservation("rsv_\x00"),
        service.get_room("\ud800"),
        service.check_in_reservation("rsv\x00"),
    ):
        with pytest.raises(InvalidProperty):
            await call


def test_json_with_an_escaped_lone_surrogate_is_invalid_property_naming_its_member() -> None:
    with pytest.raises(InvalidProperty) as caught:
        json_document(b'{"variables": {"input": {"guestName": "a\\ud800"}}}')
    assert caught.value.field == "guestName"
    with pytest.raises(MalformedRequest):
        json_document(b'{"guestName": NaN}')
    with pytest.raises(MalformedRequest):
        json_document(b'{"guestName": ')
    assert json_document('{"guestName": "\\ud83d\\ude00"}') == {"guestName": "\U0001f600"}


def test_search_key_folds_case_and_composes() -> None:
    assert search_key("ZOE\u0308") == search_key("zoë") == "zoë"
    assert search_key("Weiß") == "weiss"


def test_every_refusal_renders_in_every_language() -> None:
    error: RosettaError = InvalidProperty(field="guestName", params={"reason": "text"})
    for language in ("en", "ko", "fr"):
        assert "{" not in error.localized(language)


async def test_the_memory_store_refuses_what_sqlite_and_postgres_cannot_store_and_keeps_nothing() -> None:
    """Defence in depth below the rule: memory used to keep a record no answer could encode."""
    store = MemoryStore()
    service = ReservationService(store, notifier=InProcessNotifier())
    created = await service.create_reservation(draft())
    bad = dataclasses.replace(created, reservation_id="rsv_bad", guest_name="a\ud800")
    with pytest.raises(UnicodeEncodeError):
        async with store.unit_of_work() as uow:
            await uow.reservations.add(bad)
            await uow.commit()
    assert list(store.state.reservations) == [created.reservation_id]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"tags": ["ok", "a\\ud800"]}', "tags"),  # a list item is named by its member
        (b'{"input": [{"purpose": "\\ud800"}]}', "purpose"),
        (b'{"a\\ud800b": 1}', "a\\ud800b"),  # a key is named, its surrogate written as an escape
        (b'{"ok": "fine", "later": {"reason": "x\\udfff"}}', "reason"),
    ],
)
def test_an_unpaired_surrogate_anywhere_in_json_is_refused_naming_where_it_is(
    body: bytes, field: str
) -> None:
    with pytest.raises(InvalidProperty) as caught:
        json_document(body)
    assert caught.value.field == field
    assert caught.value.params["reason"] == "text"
    assert caught.value.localized("en") == InvalidProperty(field=field, params={"reason": "text"}).localized(
        "en"
    )
