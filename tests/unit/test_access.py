"""Scopes and ownership in the core: who may call what, and whose reservation is whose."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from services.core import messages
from services.core.access import (
    ANONYMOUS,
    OPERATION_SCOPES,
    TRUSTED,
    Principal,
    Scope,
    authorize,
)
from services.core.api import OPERATIONS
from services.core.errors import (
    ERRORS_BY_CODE,
    AccessError,
    Forbidden,
    IdempotencyKeyReused,
    InvalidStateTransition,
    ReservationNotFound,
    Unauthenticated,
    error_from_code,
)
from services.core.model import ReservationChanges, ReservationDraft, ReservationQuery
from services.core.service import ReservationService
from services.store import SqliteStore
from tests.support.drafts import draft as base_draft

ALICE = Principal("alice", frozenset({Scope.READ, Scope.WRITE}), via="api-key")
BOB = Principal("bob", frozenset({Scope.READ, Scope.WRITE}), via="jwt")
READER = Principal("reader", frozenset({Scope.READ}), via="api-key")
ROOT = Principal("root", frozenset({Scope.ADMIN}), via="jwt")


def draft(start: str = "09:00", end: str = "10:00") -> ReservationDraft:
    return base_draft(start_time=start, end_time=end, purpose=None)


def test_admin_implies_every_scope_and_the_quota_key_names_the_client_or_the_address() -> None:
    assert ROOT.may(Scope.WEBHOOKS) and ROOT.may(Scope.WRITE)
    assert READER.may(Scope.READ) and not READER.may(Scope.WRITE)
    assert TRUSTED.may(Scope.ADMIN) and not ANONYMOUS.may(Scope.READ)
    assert ALICE.quota_key == "client:alice"
    assert ANONYMOUS.at("203.0.113.9").quota_key == "addr:203.0.113.9"
    assert ALICE.at("203.0.113.9").quota_key == "client:alice"


def test_every_operation_of_the_api_declares_its_scope() -> None:
    assert set(OPERATIONS) <= set(OPERATION_SCOPES)
    anonymous_ok = {op for op, scope in OPERATION_SCOPES.items() if scope is None}
    assert anonymous_ok == {"listRooms", "getRoom"}


@pytest.mark.parametrize(
    ("principal", "operation", "error", "field"),
    [
        (ANONYMOUS, "listRooms", None, None),
        (ANONYMOUS, "getReservation", Unauthenticated, None),
        (ANONYMOUS, "createReservation", Unauthenticated, None),
        (ANONYMOUS, "watchEvents", Unauthenticated, None),
        (READER, "listReservations", None, None),
        (READER, "cancelReservation", Forbidden, "reservations:write"),
        (ALICE, "createSubscription", Forbidden, "webhooks:manage"),
        (ROOT, "createSubscription", None, None),
        (TRUSTED, "checkInReservation", None, None),
    ],
)
def test_authorize_refuses_anonymous_callers_as_unauthenticated_and_missing_scopes_as_forbidden(
    principal: Principal, operation: str, error: type[AccessError] | None, field: str | None
) -> None:
    if error is None:
        authorize(principal, operation)
        return
    with pytest.raises(error) as caught:
        authorize(principal, operation)
    assert caught.value.field == field
    if error is Unauthenticated:
        assert caught.value.localized("en").endswith(
            "no credential was sent (an API key, a bearer token or a client id and secret)."
        )
    else:
        assert caught.value.localized("en").endswith(f"the credential lacks the scope '{field}'.")


def test_an_operation_nobody_declared_is_a_programming_error_not_an_open_door() -> None:
    with pytest.raises(LookupError):
        authorize(ROOT, "dropEverything")


def test_forbidden_is_in_the_catalog_and_says_which_scope_is_missing_in_every_language() -> None:
    assert ERRORS_BY_CODE["FORBIDDEN"] is Forbidden
    assert isinstance(error_from_code("FORBIDDEN", "nope", "admin"), Forbidden)
    error = Forbidden(field="reservations:write")
    assert (
        error.localized("en")
        == "This request is not allowed: the credential lacks the scope 'reservations:write'."
    )
    assert "reservations:write" in error.localized("ko") and "reservations:write" in error.localized("fr")
    assert "another client" in Forbidden().localized("en")
    assert Unauthenticated().localized("en").endswith("the credential is not recognised.")
    expired = Unauthenticated(params={"reason": "auth_expired"})
    assert "expiré" in expired.localized("fr")
    for code in ("FORBIDDEN", "UNAUTHENTICATED"):
        assert {messages.title(code, lang) for lang in messages.LANGUAGES} == {
            messages.CATALOG[code][lang][0] for lang in messages.LANGUAGES
        }


# -- ownership, over every embedded store (the ``service`` fixture) ---------------------------


async def test_only_the_owner_or_an_admin_may_modify_cancel_or_check_in(service: ReservationService) -> None:
    mine = await service.acting_as(ALICE).create_reservation(draft())
    bob = service.acting_as(BOB)
    with pytest.raises(Forbidden) as caught:
        await bob.modify_reservation(mine.reservation_id, ReservationChanges(attendees=1))
    assert caught.value.field is None and caught.value.params["reason"] == "not_owner"
    with pytest.raises(Forbidden):
        await bob.cancel_reservation(mine.reservation_id, reason="mine now")
    with pytest.raises(Forbidden):
        await bob.check_in_reservation(mine.reservation_id)
    assert len(await service.watch_events(0)) == 1  # the refusals changed nothing

    # Reading is the read scope's business, not the owner's.
    assert await bob.get_reservation(mine.reservation_id) == mine
    modified = await service.acting_as(ALICE).modify_reservation(
        mine.reservation_id, ReservationChanges(attendees=2)
    )
    assert modified.owner == "alice"  # kept across changes
    canceled = await service.acting_as(ROOT).cancel_reservation(mine.reservation_id, reason="admin")
    assert canceled.cancel_reason == "admin"


async def test_the_owner_is_recorded_by_the_store_but_is_on_no_wire(service: ReservationService) -> None:
    created = await service.acting_as(BOB).create_reservation(draft())
    stored = await service.get_reservation(created.reservation_id)
    assert stored.owner == "bob"
    assert "owner" not in stored.to_dict()
    assert (await service.watch_events(0))[0].data == stored.to_dict()
    assert (await service.create_reservation(draft("11:00", "12:00"))).owner is None  # TRUSTED: nobody


async def test_a_reservation_without_owner_is_changed_only_by_admin(service: ReservationService) -> None:
    legacy = await service.create_reservation(draft())  # e.g. written while authentication was off
    with pytest.raises(Forbidden):
        await service.acting_as(ALICE).check_in_reservation(legacy.reservation_id)
    await service.acting_as(ROOT).check_in_reservation(legacy.reservation_id)


async def test_a_stranger_learns_neither_the_version_nor_the_state(service: ReservationService) -> None:
    mine = await service.acting_as(ALICE).create_reservation(draft())
    await service.acting_as(ALICE).cancel_reservation(mine.reservation_id)
    bob = service.acting_as(BOB)
    with pytest.raises(Forbidden):  # not INVALID_STATE_TRANSITION
        await bob.cancel_reservation(mine.reservation_id)
    with pytest.raises(Forbidden):  # not VERSION_MISMATCH
        await bob.modify_reservation(mine.reservation_id, ReservationChanges(attendees=1), expected_version=9)
    with pytest.raises(InvalidStateTransition):
        await service.acting_as(ALICE).cancel_reservation(mine.reservation_id)
    with pytest.raises(ReservationNotFound):  # a missing one is missing for everyone with read scope
        await bob.cancel_reservation("rsv_missing")


async def test_idempotency_keys_belong_to_one_client(service: ReservationService) -> None:
    alice, bob = service.acting_as(ALICE), service.acting_as(BOB)
    first = await alice.create_reservation(draft(), idempotency_key="k-1")
    assert await alice.create_reservation(draft(), idempotency_key="k-1") == first
    with pytest.raises(IdempotencyKeyReused):
        await alice.create_reservation(draft("11:00", "12:00"), idempotency_key="k-1")
    # Bob's k-1 is his own: neither a replay of Alice's reservation nor refused because of it.
    other = await bob.create_reservation(draft("11:00", "12:00"), idempotency_key="k-1")
    assert other.reservation_id != first.reservation_id and other.owner == "bob"


async def test_the_view_rechecks_scopes_so_an_adapter_that_forgot_leaks_nothing(
    service: ReservationService,
) -> None:
    created = await service.acting_as(ALICE).create_reservation(draft())
    anonymous = service.acting_as(ANONYMOUS.at("198.51.100.7"))
    assert len(await anonymous.list_rooms()) == 4
    with pytest.raises(Unauthenticated):
        await anonymous.get_reservation(created.reservation_id)
    with pytest.raises(Unauthenticated):
        await anonymous.get_reservation("rsv_missing")  # the same answer: existence is not told
    with pytest.raises(Unauthenticated):
        await anonymous.reservations_of_rooms(["room-b"])  # GraphQL's room { reservations }
    with pytest.raises(Unauthenticated):
        anonymous.stream_events(0)
    reader = service.acting_as(READER)
    assert (await reader.list_reservations(ReservationQuery())).total_items == 1
    with pytest.raises(Forbidden) as caught:
        await reader.create_reservation(draft("11:00", "12:00"))
    assert caught.value.field == "reservations:write"
    assert service.principal is TRUSTED and reader.principal is READER  # views leave the service alone


async def test_an_sqlite_file_of_the_previous_schema_is_upgraded_keeping_its_reservations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    from services.store.reservations.sqlite import MIGRATIONS

    db.executescript(MIGRATIONS[1])
    db.execute("INSERT INTO rooms VALUES ('room-a', 'Ada', 4, 'Library')")
    db.execute(
        "INSERT INTO reservations VALUES ('rsv_old', 'room-a', 'Old', '2026-01-02', '08:00', '09:00', 1,"
        " NULL, 'RESERVED', NULL, 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = SqliteStore(path)
    await store.open()
    service = ReservationService(store)
    old = await service.get_reservation("rsv_old")
    assert (old.guest_name, old.owner) == ("Old", None)
    created = await service.acting_as(ALICE).create_reservation(draft())
    assert (await service.get_reservation(created.reservation_id)).owner == "alice"
    await store.close()
