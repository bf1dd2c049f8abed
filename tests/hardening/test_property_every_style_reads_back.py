"""The invariant that matters (issue 15): whatever any style accepts, every style reads back equal.

Hypothesis generates names and purposes from all of Unicode (controls, surrogates, noncharacters,
combining marks, whitespace, astral planes); each example is created through one style, modified
through another, and read back through all five and the event log, on the memory, SQLite and
PostgreSQL stores. What a style refuses must be what the core refuses, with the same code and field.
The core itself, over a store of its own, is the reference for what is accepted and what is kept.

``ROSETTA_PROPERTY_EXAMPLES`` (default 12 per store in ``make test``) runs longer on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.api import ReservationApi
from services.core.errors import RosettaError
from services.core.events import InProcessNotifier
from services.core.model import ReservationChanges, ReservationDraft
from services.core.service import ReservationService
from services.store import MemoryStore
from tests.conformance.targets import _client_factory, postgres_schema
from tests.support.server import LiveServer, live_server

STYLES = ("rest", "graphql", "grpc", "soap", "websocket")
EXAMPLES = int(os.environ.get("ROSETTA_PROPERTY_EXAMPLES", "12"))
_slots = itertools.count()

# Every code point, surrogates included (hypothesis leaves category Cs out unless asked).
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
TRICKY = st.sampled_from(
    ["\x00", "\x1b", "\x85", "\ud800", "\udfff", "\ufffe", "\U0010ffff", "\ufdd0", "e\u0301", "\u00e9",
     "\n", "\t", " ", "\u3000", "김", "\U0001f600", "ß", "İ", "&", "<", "]]>", "\\", '"', "%", "_"]
)  # fmt: skip
TEXT = st.lists(st.one_of(ANY_CHARACTER, TRICKY), min_size=0, max_size=12).map("".join)


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if request.param == "postgres":
        with postgres_schema("property") as db, live_server(db=db) as running:
            yield running
    else:
        db = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path_factory.mktemp('p')}/p.db"
        with live_server(db=db) as running:
            yield running


@contextlib.asynccontextmanager
async def clients(server: LiveServer) -> AsyncIterator[dict[str, ReservationApi]]:
    async with contextlib.AsyncExitStack() as stack:
        opened = {
            style: await stack.enter_async_context(_client_factory(style, server)("en")) for style in STYLES
        }
        yield opened


def outcome(call: Any) -> Any:
    """What a call ended in: its result, or the (code, field) of its catalog error."""

    async def run() -> Any:
        try:
            return await call
        except RosettaError as error:
            return (error.code, error.field)

    return run()


_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def expressible(style: str, *texts: str | None) -> bool:
    """Whether a style's wire can carry these strings at all: protobuf strings are UTF-8 (no unpaired
    surrogates), XML 1.0 has no place for most C0 controls, surrogates or U+FFFE/U+FFFF. A value a wire
    cannot carry is refused by that style's client before sending, so it says nothing about the server."""
    pattern = {"grpc": _SURROGATE, "soap": _XML_FORBIDDEN}.get(style)
    return pattern is None or not any(text is not None and pattern.search(text) for text in texts)


def unsendable(error: BaseException) -> bool:
    """The client of a style cannot even put the value on its wire (XML cannot hold U+0000, protobuf
    strings are UTF-8): the style cannot express it, so it cannot accept it either."""
    return isinstance(error, ValueError | UnicodeError | TypeError) and not isinstance(error, RosettaError)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("ROSETTA_PROPERTY_EXAMPLES") is None,  # make test: the same cases each run
)
@given(
    guest=TEXT,
    purpose=st.one_of(st.none(), TEXT),
    new_purpose=TEXT,
    writer=st.sampled_from(STYLES),
    changer=st.sampled_from(STYLES),
)
def test_what_any_style_accepts_every_style_reads_back_equal(
    server: LiveServer, guest: str, purpose: str | None, new_purpose: str, writer: str, changer: str
) -> None:
    asyncio.run(check_example(server, guest, purpose, new_purpose, writer, changer))


async def check_example(
    server: LiveServer, guest: str, purpose: str | None, new_purpose: str, writer: str, changer: str
) -> None:
    slot = next(_slots)
    day, hour = divmod(slot, 12)
    draft = ReservationDraft(
        "room-d", guest, f"2034-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}",
        f"{8 + hour:02d}:00", f"{8 + hour:02d}:30", 1, purpose,
    )  # fmt: skip
    reference = ReservationService(MemoryStore(), notifier=InProcessNotifier())
    expected = await outcome(reference.create_reservation(draft))
    if not expressible(writer, guest, purpose):
        writer = "rest"  # JSON carries any string (surrogates as escapes)
    if not expressible(changer, new_purpose):
        changer = "graphql"
    async with clients(server) as styles:
        try:
            created = await outcome(styles[writer].create_reservation(draft))
        except Exception as error:
            assert unsendable(error), f"{writer} client failed: {error!r}"
            assert isinstance(expected, tuple), f"the core accepts {draft!r}, {writer} cannot send it"
            return
        if isinstance(expected, tuple):
            assert created == expected, f"{writer} answered {created!r}, the core refuses {expected}"
            return
        assert not isinstance(created, tuple), f"{writer} refused {created} what the core accepts"
        assert (created.guest_name, created.purpose) == (expected.guest_name, expected.purpose)
        await every_style_reads(styles, created.reservation_id, expected.guest_name, expected.purpose)

        changes = ReservationChanges(purpose=new_purpose)
        expected_change = await outcome(reference.modify_reservation(expected.reservation_id, changes))
        try:
            changed = await outcome(styles[changer].modify_reservation(created.reservation_id, changes))
        except Exception as error:
            assert unsendable(error), f"{changer} client failed: {error!r}"
            assert isinstance(expected_change, tuple), f"{changer} cannot send what the core accepts"
            changed = expected_change
        if isinstance(expected_change, tuple):
            assert changed == expected_change, f"{changer} answered {changed!r}, core {expected_change}"
            await every_style_reads(styles, created.reservation_id, expected.guest_name, expected.purpose)
        else:
            assert not isinstance(changed, tuple), f"{changer} refused {changed}"
            assert changed.purpose == expected_change.purpose
            await every_style_reads(
                styles, created.reservation_id, expected.guest_name, expected_change.purpose
            )


async def every_style_reads(
    styles: dict[str, ReservationApi], reservation_id: str, guest: str, purpose: str | None
) -> None:
    for style, api in styles.items():
        got = await api.get_reservation(reservation_id)
        assert (got.guest_name, got.purpose) == (guest, purpose), style
    events = await styles["rest"].watch_events(0, limit=1000)
    mine = [e for e in events if e.data["reservationId"] == reservation_id]
    assert (mine[-1].data["guestName"], mine[-1].data["purpose"]) == (guest, purpose)
    for style, api in styles.items():  # the event log reads in every style too
        last = await api.watch_events(mine[-1].sequence - 1, limit=1)
        assert (last[0].data["guestName"], last[0].data["purpose"]) == (guest, purpose), style
