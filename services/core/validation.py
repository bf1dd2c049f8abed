"""Input checks shared by every style: the same bad input gets the same code and field everywhere."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date as Date
from typing import Any, TypeVar

from services.core.errors import InvalidProperty, MalformedRequest, MissingMandatoryProperty
from services.core.model import (
    WIRE_NAMES,
    EventType,
    ReservationChanges,
    ReservationDraft,
    ReservationQuery,
    ReservationStatus,
)
from services.core.ports import ReservationFilter, SortKey

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_INT = re.compile(r"^[+-]?\d{1,9}$")

GUEST_NAME_MAX = 100
PURPOSE_MAX = 500
REASON_MAX = 500
ATTENDEES_MAX = 10_000
PAGE_SIZE_MAX = 100
IDEMPOTENCY_KEY_MAX = 255
SORT_FIELDS: dict[str, str] = {"date": "date", "startTime": "start_time", "createdAt": "created_at"}
DEFAULT_SORT: tuple[SortKey, ...] = (("date", False), ("start_time", False))

T = TypeVar("T", ReservationDraft, ReservationChanges)

# The text rule: characters no style can carry faithfully. C0/C1 controls and DEL (XML 1.0 cannot hold
# most of them, terminals act on them), unpaired surrogates (not Unicode scalar values: no UTF-8 encoder
# accepts them), and the 66 noncharacters (U+FDD0..U+FDEF and the last two code points of every plane).
_NONCHARACTERS = r"\ufdd0-\ufdef" + "".join(rf"\U{plane:04x}fffe\U{plane:04x}ffff" for plane in range(0x11))
_FORBIDDEN_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff" + _NONCHARACTERS + "]")
# Free-text fields (purpose, cancel reason) may hold line breaks; nothing else of C0.
_FORBIDDEN_MULTILINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff" + _NONCHARACTERS + "]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
MULTILINE_FIELDS = frozenset({"purpose", "reason"})


def wire(name: str) -> str:
    return WIRE_NAMES.get(name, name)


def invalid(name: str, reason: str, **params: object) -> InvalidProperty:
    return InvalidProperty(field=wire(name), params={"reason": reason, **params})


def from_mapping(cls: type[T], body: Mapping[str, Any]) -> T:
    """Build a draft or change set from camelCase JSON, refusing unknown properties by name."""
    by_wire = {wire(f.name): f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key not in by_wire:
            raise InvalidProperty(field=str(key), params={"reason": "unknown"})
        values[by_wire[key]] = value
    return cls(**values)


def changes_from_patch(body: Mapping[str, Any]) -> ReservationChanges:
    """A change set from a camelCase patch (JSON merge-patch rules, shared by every style).

    ``null`` removes a member, which only ``purpose`` may lose (it becomes ``""``: cleared);
    ``null`` for any other field is INVALID_PROPERTY naming it; unknown names are refused too.
    """
    for name, value in body.items():
        if value is None and name != "purpose":
            raise InvalidProperty(field=str(name), params={"reason": "type"})
    return from_mapping(ReservationChanges, {k: ("" if v is None else v) for k, v in body.items()})


def clean_text(name: str, value: str) -> str:
    """The one text rule of every style: Unicode scalar values without controls or noncharacters, in NFC.

    Refused text is INVALID_PROPERTY naming the field (reason ``text``); lengths are counted on the result.
    """
    forbidden = _FORBIDDEN_MULTILINE if name in MULTILINE_FIELDS else _FORBIDDEN_TEXT
    if not _allowed(value, forbidden):
        raise invalid(name, "text")
    return unicodedata.normalize("NFC", value)


def _allowed(value: str, forbidden: re.Pattern[str]) -> bool:
    """No character of ``forbidden`` in ``value``. Printable ASCII (most ids and names) holds none of
    them (the ASCII ones are C0 and DEL), and two C-level checks say so before the pattern runs: 0.07
    against 1.06 us for a 30-character id (timeit), on every call that names a reservation or a room."""
    return (value.isascii() and value.isprintable()) or not forbidden.search(value)


def search_key(value: str) -> str:
    """How names are compared when searching: NFC, then case-folded (so "ZOË" finds "Zoë", however spelled).

    Stores keep this beside the name (memory compares it, SQLite and PostgreSQL index a column of it),
    so all three find the same reservations.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


def identifier(name: str, value: object) -> str:
    """An id from a caller (roomId, reservationId): a string within the text rule, else INVALID_PROPERTY."""
    if not isinstance(value, str):
        raise invalid(name, "type")
    if not _allowed(value, _FORBIDDEN_TEXT):
        raise invalid(name, "text")
    return value


def text(name: str, value: object, *, minimum: int, maximum: int, required: bool) -> str | None:
    if value is None:
        if required:
            raise MissingMandatoryProperty(field=wire(name))
        return None
    return given_text(name, value, minimum=minimum, maximum=maximum)


def given_text(name: str, value: object, *, minimum: int, maximum: int) -> str:
    """A text value that was sent: a string within the text rule, trimmed, its length in bounds."""
    if not isinstance(value, str):
        raise invalid(name, "type")
    stripped = clean_text(name, value).strip()
    if not minimum <= len(stripped) <= maximum:
        raise invalid(name, "length", min=minimum, max=maximum)
    return stripped


def iso_date(name: str, value: object, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise MissingMandatoryProperty(field=wire(name))
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        raise invalid(name, "date")
    try:
        Date.fromisoformat(value)
    except ValueError:
        raise invalid(name, "date") from None
    return value


def clock_time(name: str, value: object) -> str:
    if value is None:
        raise MissingMandatoryProperty(field=wire(name))
    if not isinstance(value, str) or not _TIME.match(value):
        raise invalid(name, "time")
    return value


def whole_number(name: str, value: object, *, minimum: int, maximum: int, coerce: bool = False) -> int:
    """An int within bounds; with ``coerce``, decimal strings (query parameters) are accepted."""
    if coerce and isinstance(value, str) and _INT.match(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "type") if not coerce else invalid(name, "range", min=minimum, max=maximum)
    if not minimum <= value <= maximum:
        raise invalid(name, "range", min=minimum, max=maximum)
    return value


def time_order(start_time: str, end_time: str) -> None:
    if not start_time < end_time:
        raise invalid("end_time", "time_order")


def status(value: object) -> ReservationStatus | None:
    if value is None or value == "":
        return None
    allowed = [s.value for s in ReservationStatus]
    if not isinstance(value, str) or value not in allowed:
        raise invalid("status", "enum", allowed=", ".join(allowed))
    return ReservationStatus(value)


def sort(value: object) -> tuple[SortKey, ...]:
    if value is None or value == "":
        return DEFAULT_SORT
    if not isinstance(value, str):
        raise invalid("sort", "type")
    keys: list[SortKey] = []
    for part in value.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part[1:] if descending else part
        if name not in SORT_FIELDS:
            allowed = ", ".join(f"{k}, -{k}" for k in SORT_FIELDS)
            raise invalid("sort", "enum", allowed=allowed)
        keys.append((SORT_FIELDS[name], descending))
    return tuple(keys)


def event_types(value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None or (isinstance(value, list | tuple) and not value):
        return None
    if not isinstance(value, list | tuple):
        raise invalid("types", "type")
    allowed = [t.value for t in EventType]
    for item in value:
        if item not in allowed:
            raise invalid("types", "enum", allowed=", ".join(allowed))
    return tuple(value)


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX or not value.isprintable():
        raise InvalidProperty(
            field="idempotencyKey", params={"reason": "length", "min": 1, "max": IDEMPOTENCY_KEY_MAX}
        )
    return value


def _first_unencodable(value: object, name: str | None) -> str | None:
    """The name of the member holding the first string with an unpaired surrogate, if any."""
    if isinstance(value, str):
        return name if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _SURROGATE.search(key):
                return key.encode(errors="backslashreplace").decode()
            found = _first_unencodable(item, key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _first_unencodable(item, name)
            if found is not None:
                return found
    return None


def _no_constant(name: str) -> Any:
    # Its message is never shown: json_document answers MALFORMED_REQUEST (syntax) for any ValueError.
    raise ValueError(name)  # pragma: no mutate


def refuse_unpaired_surrogates(data: object) -> None:
    """INVALID_PROPERTY naming the member of decoded JSON whose string holds an unpaired surrogate."""
    field = _first_unencodable(data, None)
    if field is not None:
        raise InvalidProperty(field=field or "body", params={"reason": "text"})


def json_document(body: bytes | str, *, text_rule: bool = True) -> Any:
    """Decode JSON the way every JSON style must: well-formed (MALFORMED_REQUEST otherwise, NaN included),
    and a string escaping an unpaired surrogate (``"\\ud800"``: well-formed JSON, but not text) is
    INVALID_PROPERTY naming its member, as the text rule says for every other refused character.

    Adapters may decode with a faster parser first and call this when it refuses a body, so that
    what they answer is the same as here. ``text_rule=False`` leaves that check to the caller
    (refuse_unpaired_surrogates), e.g. to read a request id first.
    """
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise MalformedRequest(params={"reason": "syntax"}) from None
    if text_rule:
        refuse_unpaired_surrogates(data)
    return data


def draft_fields(draft: ReservationDraft) -> dict[str, Any]:
    """The fields of a new reservation, validated in the order every style reports the first refusal
    in; by model field name, ``purpose`` ``None`` when empty."""
    room_id = text("room_id", draft.room_id, minimum=1, maximum=100, required=True)
    guest = text("guest_name", draft.guest_name, minimum=1, maximum=GUEST_NAME_MAX, required=True)
    day = iso_date("date", draft.date)
    start = clock_time("start_time", draft.start_time)
    end = clock_time("end_time", draft.end_time)
    time_order(start, end)
    if draft.attendees is None:
        raise MissingMandatoryProperty(field="attendees")
    attendees = whole_number("attendees", draft.attendees, minimum=1, maximum=ATTENDEES_MAX)
    purpose = None
    if draft.purpose is not None:
        purpose = given_text("purpose", draft.purpose, minimum=0, maximum=PURPOSE_MAX)
    # For mypy only: each of the three was refused above when absent (an "or" here would change nothing).
    assert room_id is not None and guest is not None and day is not None  # pragma: no mutate
    return {
        "room_id": room_id,
        "guest_name": guest,
        "date": day,
        "start_time": start,
        "end_time": end,
        "attendees": attendees,
        "purpose": purpose or None,
    }


def change_fields(changes: ReservationChanges) -> dict[str, Any]:
    """The fields a modification sets (those given), validated, by model field name."""
    update: dict[str, Any] = {}
    if changes.room_id is not None:
        update["room_id"] = given_text("room_id", changes.room_id, minimum=1, maximum=100)
    if changes.guest_name is not None:
        update["guest_name"] = given_text("guest_name", changes.guest_name, minimum=1, maximum=GUEST_NAME_MAX)
    if changes.date is not None:
        update["date"] = iso_date("date", changes.date)
    if changes.start_time is not None:
        update["start_time"] = clock_time("start_time", changes.start_time)
    if changes.end_time is not None:
        update["end_time"] = clock_time("end_time", changes.end_time)
    if changes.attendees is not None:
        update["attendees"] = whole_number("attendees", changes.attendees, minimum=1, maximum=ATTENDEES_MAX)
    if changes.purpose is not None:
        update["purpose"] = given_text("purpose", changes.purpose, minimum=0, maximum=PURPOSE_MAX) or None
    return update


def reservation_filter(query: ReservationQuery) -> ReservationFilter:
    """The store filter a listing asks for, each field checked (an empty string means no filter)."""
    date_from = iso_date("date_from", query.date_from) if query.date_from else None
    date_to = iso_date("date_to", query.date_to) if query.date_to else None
    if date_from and date_to and date_from > date_to:
        raise invalid("date_to", "date_order")
    for name in ("room_id", "guest_name"):
        if getattr(query, name) is not None and not isinstance(getattr(query, name), str):
            raise invalid(name, "type")
    room_id = identifier("room_id", query.room_id) if query.room_id else None
    guest = clean_text("guest_name", query.guest_name).strip() if query.guest_name else None
    return ReservationFilter(
        status=status(query.status),
        room_ids=(room_id,) if room_id else None,
        date_from=date_from,
        date_to=date_to,
        guest_name=search_key(guest) if guest else None,
    )
