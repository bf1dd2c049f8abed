"""One list of scenarios, run unchanged against every target of the conformance matrix.

A scenario returns a list of normalized outcomes (values or errors). What differs from run to run
is compared relative to the run itself, so the outcome of a style can still be compared with the
core's: ids become placeholders numbered in order of appearance (the same id twice is the same
placeholder; reservation ids and eventIds apart), sequences become offsets from the first one the
scenario saw, and timestamps become their relations — ``createdAt`` never changes, ``updatedAt``
equals it until the first change and moves on each change and only then, an event's ``occurredAt``
is its reservation's ``updatedAt``. A list of events must have strictly increasing sequences.
Each scenario books on its own dates and tags its guests, so scenarios never collide.

Size: over 500 lines: the one scenario list every style runs, kept as one list so that a
missing case is visible.
"""

# pylint: disable=too-many-lines

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.core.api import ReservationApi
from services.core.errors import RateLimited, RosettaError
from services.core.model import (
    Event,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    Room,
)
from tests.support.drafts import draft as base_draft


@dataclass
class Context:
    api: ReservationApi
    language: str
    number: int
    space: int = 0  # targets sharing one store (the compose edge) each take their own space
    outcomes: list[Any] = field(default_factory=list)
    # (who, language) -> the same target as another caller: anonymous, reader, stranger, ...
    others: Callable[[str, str], AbstractAsyncContextManager[ReservationApi]] | None = None
    # True where every target's clock moves at least 1 ms per change (tests.conformance.targets
    # gives the matrix such clocks): a change must then move updatedAt. Elsewhere (real stacks) two
    # changes may share a millisecond, and updatedAt is only required not to go back.
    ordered_clock: bool = False
    _ids: dict[str, str] = field(default_factory=dict)
    _event_ids: dict[str, str] = field(default_factory=dict)
    _first_sequence: int | None = None
    _created: dict[str, str] = field(default_factory=dict)  # placeholder -> createdAt first seen
    _latest: dict[str, tuple[int, str]] = field(default_factory=dict)  # placeholder -> (version, updatedAt)

    def acting_as(self, who: str) -> AbstractAsyncContextManager[ReservationApi]:
        """The same style for another caller (tests.conformance.targets.WHO)."""
        assert self.others is not None, "this target has no other callers"
        return self.others(who, self.language)

    @property
    def tag(self) -> str:
        return f"cf{self.space}x{self.number:02d}"

    def day(self, offset: int = 0) -> str:
        """A date no other scenario uses (each scenario owns a 5-day window, each space 2 years)."""
        return (date(2030, 1, 1) + timedelta(days=self.space * 730 + self.number * 5 + offset)).isoformat()

    def draft(self, **overrides: Any) -> ReservationDraft:
        values = {"guest_name": f"{self.tag} Grace", "date": self.day(), "purpose": "study group"}
        return base_draft(**values | overrides)

    def placeholder(self, real_id: str) -> str:
        return self._ids.setdefault(real_id, f"<id{len(self._ids) + 1}>")

    def _times(self, data: dict[str, Any], *, current: bool) -> None:
        """Replace createdAt/updatedAt by their relations (see the module docstring); a broken relation
        is left in the outcome in plain words, so the comparison with the core names it.
        ``current``: the reservation as it is now (not as an event recorded it), whose updatedAt may
        only move with its version."""
        rid, version = data["reservationId"], data["version"]
        created, updated = data["createdAt"], data["updatedAt"]
        first = self._created.setdefault(rid, created)
        data["createdAt"] = (
            f"<createdAt of {rid}>"
            if created == first
            else f"createdAt of {rid} changed ({first} -> {created})"
        )
        if version == 1:
            relation = (
                "=createdAt" if updated == created else f"updatedAt {updated} != createdAt {created} at v1"
            )
        elif updated > created or (updated == created and not self.ordered_clock):
            relation = ">createdAt"
        else:
            relation = f"updatedAt {updated} did not move after createdAt {created} at v{version}"
        if current:
            seen_version, seen_updated = self._latest.get(rid, (version, updated))
            if version == seen_version and updated != seen_updated:
                relation = f"updatedAt moved ({seen_updated} -> {updated}) without a change (v{version})"
            elif version > seen_version and (
                updated < seen_updated or (updated == seen_updated and self.ordered_clock)
            ):
                relation = (
                    f"updatedAt did not move ({seen_updated} -> {updated}) from v{seen_version} to v{version}"
                )
            self._latest[rid] = (version, updated)
        data["updatedAt"] = relation

    def _sequence(self, sequence: int) -> str:
        if self._first_sequence is None:
            self._first_sequence = sequence
        return f"<sequence+{sequence - self._first_sequence}>"

    def normalize(self, value: Any, *, current: bool = True) -> Any:
        if isinstance(value, Reservation):
            data = value.to_dict()
            data["reservationId"] = self.placeholder(value.reservation_id)
            self._times(data, current=current)
            return data
        if isinstance(value, Room):
            return value.to_dict()
        if isinstance(value, ReservationPage):
            return {
                "items": [self.normalize(item) for item in value.items],
                "page": value.page,
                "pageSize": value.page_size,
                "totalItems": value.total_items,
                "totalPages": value.total_pages,
            }
        if isinstance(value, Event):
            data = value.to_dict()
            data["eventId"] = self._event_ids.setdefault(value.event_id, f"<event{len(self._event_ids) + 1}>")
            data["sequence"] = self._sequence(value.sequence)
            occurred, updated = data["occurredAt"], data["data"]["updatedAt"]
            data["occurredAt"] = "=data.updatedAt" if occurred == updated else f"{occurred} != data.updatedAt"
            data["data"] = self.normalize(Reservation.from_dict(value.data), current=False)
            return data
        if isinstance(value, list | tuple):
            normalized = [self.normalize(item, current=current) for item in value]
            sequences = [item.sequence for item in value if isinstance(item, Event)]
            if any(later <= earlier for earlier, later in zip(sequences, sequences[1:], strict=False)):
                normalized.append(f"sequences not strictly increasing: {sequences}")
            return normalized
        return value

    def _error(self, error: RosettaError) -> dict[str, Any]:
        return {"error": error.code, "field": error.field, "message": error.localized(self.language)}

    async def run(self, call: Awaitable[Any]) -> Any:
        """Await one operation and record its normalized outcome (value or error)."""
        try:
            value = await call
        except RosettaError as error:
            self.outcomes.append(self._error(error))
            return None
        self.outcomes.append(self.normalize(value))
        return value

    async def until_refused(self, call: Callable[[], Awaitable[Any]], at_most: int) -> RosettaError:
        """Repeat ``call`` until it is refused and record the refusal (not how many calls passed:
        a style may charge its connection too, and time refills the bucket meanwhile)."""
        for _ in range(at_most):
            try:
                await call()
            except RosettaError as error:
                self.outcomes.append(self._error(error))
                return error
        raise AssertionError(f"{at_most} calls and none refused")

    async def setup(self, call: Awaitable[Any]) -> Any:
        """Await an operation that must succeed; record it too."""
        value = await self.run(call)
        assert value is not None, self.outcomes[-1]
        return value


ScenarioFn = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    run: ScenarioFn
    language: str = "en"
    # target name -> why that style cannot express this scenario (listed, never silently skipped)
    not_expressible: dict[str, str] = field(default_factory=dict)
    # acts as the ``throttled`` caller: a client of a server of the same style with a tiny quota
    tiny_quota: bool = False


SCENARIOS: list[Scenario] = []


def scenario(
    language: str = "en", *, tiny_quota: bool = False, **not_expressible: str
) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        SCENARIOS.append(Scenario(fn.__name__, fn, language, dict(not_expressible), tiny_quota))
        return fn

    return register


# -- rooms ---------------------------------------------------------------------------------


@scenario()
async def list_rooms(ctx: Context) -> None:
    await ctx.run(ctx.api.list_rooms())


@scenario()
async def get_room(ctx: Context) -> None:
    await ctx.run(ctx.api.get_room("room-c"))


@scenario()
async def get_unknown_room(ctx: Context) -> None:
    await ctx.run(ctx.api.get_room("room-zz"))


# -- create and read ---------------------------------------------------------------------


@scenario()
async def create_then_get(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(ctx.api.get_reservation(created.reservation_id))


@scenario()
async def create_without_purpose(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft(purpose=None)))
    await ctx.run(ctx.api.get_reservation(created.reservation_id))


@scenario()
async def create_missing_guest_name(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(guest_name=None)))


@scenario()
async def create_missing_attendees(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(attendees=None)))


@scenario()
async def create_bad_date_format(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(date="01/02/2030")))


@scenario()
async def create_impossible_date(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(date="2030-02-30")))


@scenario()
async def create_bad_time_format(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(start_time="9am")))


@scenario()
async def create_end_before_start(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(start_time="11:00", end_time="10:00")))


@scenario()
async def create_in_unknown_room(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(room_id="room-zz")))


@scenario()
async def create_overlapping_slot(ctx: Context) -> None:
    await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(ctx.api.create_reservation(ctx.draft(start_time="09:30", end_time="10:30")))


@scenario()
async def create_touching_slot(ctx: Context) -> None:
    await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(ctx.api.create_reservation(ctx.draft(start_time="10:00", end_time="11:00")))


@scenario()
async def create_over_capacity(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(room_id="room-d", attendees=3)))


@scenario()
async def create_zero_attendees(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(attendees=0)))


@scenario()
async def create_guest_name_too_long(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(guest_name="x" * 101)))


@scenario()
async def get_unknown_reservation(ctx: Context) -> None:
    await ctx.run(ctx.api.get_reservation("rsv_doesnotexist0000"))


# -- modify, cancel, check in ---------------------------------------------------------------


@scenario()
async def modify_some_fields(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    changes = ReservationChanges(attendees=2, end_time="10:30", purpose="exam prep")
    await ctx.run(ctx.api.modify_reservation(created.reservation_id, changes))
    await ctx.run(ctx.api.get_reservation(created.reservation_id))


@scenario()
async def modify_with_matching_version(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(
        ctx.api.modify_reservation(
            created.reservation_id, ReservationChanges(guest_name="Ada"), expected_version=1
        )
    )


@scenario()
async def modify_with_stale_version(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.setup(ctx.api.modify_reservation(created.reservation_id, ReservationChanges(attendees=1)))
    await ctx.run(
        ctx.api.modify_reservation(
            created.reservation_id, ReservationChanges(attendees=2), expected_version=1
        )
    )


@scenario()
async def modify_after_cancel(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.setup(ctx.api.cancel_reservation(created.reservation_id))
    await ctx.run(ctx.api.modify_reservation(created.reservation_id, ReservationChanges(attendees=1)))


@scenario()
async def modify_into_a_taken_slot(ctx: Context) -> None:
    await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    later = await ctx.setup(ctx.api.create_reservation(ctx.draft(start_time="13:00", end_time="14:00")))
    await ctx.run(ctx.api.modify_reservation(later.reservation_id, ReservationChanges(start_time="09:30")))


@scenario()
async def modify_clears_purpose(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(ctx.api.modify_reservation(created.reservation_id, ReservationChanges(purpose="")))


@scenario()
async def modify_unknown_reservation(ctx: Context) -> None:
    await ctx.run(ctx.api.modify_reservation("rsv_doesnotexist0000", ReservationChanges(attendees=1)))


@scenario()
async def cancel_with_reason(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(ctx.api.cancel_reservation(created.reservation_id, reason="exam moved"))


@scenario()
async def cancel_twice(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.setup(ctx.api.cancel_reservation(created.reservation_id))
    await ctx.run(ctx.api.cancel_reservation(created.reservation_id))


@scenario()
async def check_in_then_cancel(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(ctx.api.check_in_reservation(created.reservation_id))
    await ctx.run(ctx.api.cancel_reservation(created.reservation_id))


@scenario()
async def check_in_unknown_reservation(ctx: Context) -> None:
    await ctx.run(ctx.api.check_in_reservation("rsv_doesnotexist0000"))


@scenario()
async def cancel_frees_the_slot(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.setup(ctx.api.cancel_reservation(created.reservation_id))
    await ctx.run(ctx.api.create_reservation(ctx.draft(guest_name=f"{ctx.tag} Linus")))


# -- idempotency ------------------------------------------------------------------------------


@scenario()
async def idempotent_create_replay(ctx: Context) -> None:
    key = f"{ctx.tag}-create"
    await ctx.run(ctx.api.create_reservation(ctx.draft(), idempotency_key=key))
    await ctx.run(ctx.api.create_reservation(ctx.draft(), idempotency_key=key))
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag)))


@scenario()
async def idempotency_key_reused_with_other_input(ctx: Context) -> None:
    key = f"{ctx.tag}-create"
    await ctx.setup(ctx.api.create_reservation(ctx.draft(), idempotency_key=key))
    await ctx.run(ctx.api.create_reservation(ctx.draft(attendees=2), idempotency_key=key))


@scenario()
async def idempotent_cancel_replay(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    key = f"{ctx.tag}-cancel"
    await ctx.run(ctx.api.cancel_reservation(created.reservation_id, reason="r", idempotency_key=key))
    await ctx.run(ctx.api.cancel_reservation(created.reservation_id, reason="r", idempotency_key=key))
    await ctx.run(ctx.api.cancel_reservation(created.reservation_id, reason="other", idempotency_key=key))


# -- listing: filters, sort, pages --------------------------------------------------------------


async def _three(ctx: Context) -> list[Reservation]:
    made = []
    for offset, start, guest in [(2, "09:00", "Ann"), (0, "10:00", "Bob"), (1, "08:00", "Ann-Marie")]:
        draft = ctx.draft(
            date=ctx.day(offset), start_time=start, end_time="12:00", guest_name=f"{ctx.tag} {guest}"
        )
        made.append(await ctx.setup(ctx.api.create_reservation(draft)))
    return made


@scenario()
async def list_default_order(ctx: Context) -> None:
    await _three(ctx)
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag)))


@scenario()
async def list_sorted_descending(ctx: Context) -> None:
    await _three(ctx)
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag, sort="-date")))
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag, sort="-startTime,date")))


@scenario()
async def list_filtered_by_status_and_guest(ctx: Context) -> None:
    made = await _three(ctx)
    await ctx.setup(ctx.api.cancel_reservation(made[0].reservation_id))
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=f"{ctx.tag} ann", status="RESERVED")))
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag, status="CANCELED")))


@scenario()
async def list_filtered_by_room_and_dates(ctx: Context) -> None:
    await _three(ctx)
    await ctx.setup(ctx.api.create_reservation(ctx.draft(room_id="room-c", date=ctx.day(1))))
    query = ReservationQuery(guest_name=ctx.tag, room_id="room-b", date_from=ctx.day(1), date_to=ctx.day(2))
    await ctx.run(ctx.api.list_reservations(query))


@scenario()
async def list_pages_to_the_last_one(ctx: Context) -> None:
    await _three(ctx)
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag, page=1, page_size=2)))
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag, page=2, page_size=2)))


@scenario()
async def list_page_past_the_end(ctx: Context) -> None:
    await _three(ctx)
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=ctx.tag, page=9, page_size=2)))


@scenario()
async def list_with_no_match(ctx: Context) -> None:
    await ctx.run(ctx.api.list_reservations(ReservationQuery(guest_name=f"{ctx.tag} nobody")))


@scenario()
async def list_with_bad_sort(ctx: Context) -> None:
    await ctx.run(ctx.api.list_reservations(ReservationQuery(sort="guestName")))


@scenario()
async def list_with_bad_page_size(ctx: Context) -> None:
    await ctx.run(ctx.api.list_reservations(ReservationQuery(page_size=500)))


@scenario()
async def list_with_bad_status(ctx: Context) -> None:
    await ctx.run(ctx.api.list_reservations(ReservationQuery(status="FINISHED")))


@scenario()
async def list_with_inverted_dates(ctx: Context) -> None:
    await ctx.run(ctx.api.list_reservations(ReservationQuery(date_from="2030-05-02", date_to="2030-05-01")))


# -- events ---------------------------------------------------------------------------------------


@scenario()
async def events_record_every_change_in_order(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.setup(ctx.api.modify_reservation(created.reservation_id, ReservationChanges(attendees=1)))
    await ctx.setup(ctx.api.check_in_reservation(created.reservation_id))
    events = await ctx.api.watch_events(0, limit=1000)
    mine = [e for e in events if e.data["reservationId"] == created.reservation_id]
    assert [e.sequence for e in mine] == sorted(e.sequence for e in mine)
    ctx.outcomes.append(ctx.normalize(mine))
    after_first = await ctx.api.watch_events(mine[0].sequence, types=["reservation.checked_in"], limit=1)
    ctx.outcomes.append(ctx.normalize(after_first))


@scenario()
async def events_with_unknown_type(ctx: Context) -> None:
    await ctx.run(ctx.api.watch_events(0, types=["reservation.exploded"]))


# -- localized messages -------------------------------------------------------------------------------


@scenario(language="ko")
async def korean_not_found(ctx: Context) -> None:
    await ctx.run(ctx.api.get_reservation("rsv_doesnotexist0000"))


@scenario(language="ko")
async def korean_validation(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(end_time="08:00")))


@scenario(language="fr")
async def french_conflict(ctx: Context) -> None:
    await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.run(ctx.api.create_reservation(ctx.draft(start_time="09:15", end_time="09:45")))


@scenario(language="fr")
async def french_invalid_transition(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    await ctx.setup(ctx.api.check_in_reservation(created.reservation_id))
    await ctx.run(ctx.api.check_in_reservation(created.reservation_id))


@scenario(language="fr")
async def french_capacity(ctx: Context) -> None:
    await ctx.run(ctx.api.create_reservation(ctx.draft(attendees=50)))


# -- identity and permissions (DESIGN §6a) ----------------------------------------------------------
# REST's checks are FastAPI Security dependencies over the same guard (services/rest/security.py).


@scenario()
async def no_credential_reads_rooms_only_and_never_learns_whether_a_reservation_exists(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    async with ctx.acting_as("anonymous") as anonymous:
        await ctx.run(anonymous.get_room("room-a"))
        await ctx.run(anonymous.get_reservation(created.reservation_id))
        await ctx.run(anonymous.get_reservation("rsv_doesnotexist0000"))
        await ctx.run(anonymous.create_reservation(ctx.draft(start_time="11:00", end_time="12:00")))
        await ctx.run(anonymous.watch_events(0))


@scenario()
async def bad_expired_and_foreign_audience_credentials_are_unauthenticated(ctx: Context) -> None:
    for who in ("bad-key", "expired-token", "foreign-audience"):
        async with ctx.acting_as(who) as api:
            await ctx.run(api.list_rooms())
            await ctx.run(api.get_reservation("rsv_doesnotexist0000"))


@scenario()
async def a_missing_scope_is_forbidden_and_named(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    async with ctx.acting_as("reader") as reader:
        await ctx.run(reader.get_reservation(created.reservation_id))
        await ctx.run(reader.create_reservation(ctx.draft(start_time="11:00", end_time="12:00")))
        await ctx.run(reader.cancel_reservation(created.reservation_id))


@scenario()
async def another_clients_reservation_is_readable_but_forbidden_to_change(ctx: Context) -> None:
    created = await ctx.setup(ctx.api.create_reservation(ctx.draft()))
    async with ctx.acting_as("stranger") as stranger:
        await ctx.run(stranger.get_reservation(created.reservation_id))
        await ctx.run(stranger.modify_reservation(created.reservation_id, ReservationChanges(attendees=1)))
        await ctx.run(stranger.cancel_reservation(created.reservation_id, reason="mine now"))
        await ctx.run(stranger.check_in_reservation(created.reservation_id))
    await ctx.run(ctx.api.get_reservation(created.reservation_id))  # unchanged


@scenario(language="ko")
async def refusals_are_localized(ctx: Context) -> None:
    async with ctx.acting_as("reader") as reader:
        await ctx.run(reader.create_reservation(ctx.draft()))
    async with ctx.acting_as("anonymous") as anonymous:
        await ctx.run(anonymous.list_reservations(ReservationQuery()))


# -- quotas (DESIGN §6a) ------------------------------------------------------------------------------
# Each style says "rate limited" its own way (HTTP 429 + Retry-After, gRPC RESOURCE_EXHAUSTED +
# RetryInfo, a SOAP Client.RATE_LIMITED fault with retryAfter, GraphQL extensions.code/retryAfter, a
# WebSocket error frame with retryAfter); each client turns it back into RateLimited with the wait.


@scenario(tiny_quota=True)
async def an_exhausted_quota_is_rate_limited_and_its_wait_is_honoured(ctx: Context) -> None:
    async with ctx.acting_as("throttled") as throttled:
        refusal = await ctx.until_refused(lambda: throttled.get_room("room-a"), at_most=10)
        wait = refusal.retry_after if isinstance(refusal, RateLimited) else None
        # At most one token's refill (1 s; HTTP's Retry-After is whole seconds, rounded up).
        ctx.outcomes.append({"retryAfterSaid": wait is not None and 0 < wait <= 1})
        await asyncio.sleep(wait or 0)
        await ctx.run(throttled.get_room("room-a"))  # the wait it named was enough
