"""Conditional requests (RFC 9110 §13.1): the ETags of a reservation, If-Match and If-None-Match.

A reservation's ETag is ``"<reservationId>.<version>[.hal|.siren]"``: one per representation, so a
cache never mixes them up, while every representation of one version names the same version for
If-Match. If-Match compares strongly (a weak tag never matches) and If-None-Match weakly; every
tag of a list is compared. A header that is not a list of entity-tags is a 400 naming the header.
"""

from __future__ import annotations

import re

from services.core.errors import InvalidProperty, VersionMismatch
from services.core.model import Reservation
from services.rest.negotiation import HAL, JSON, SIREN

ETAG_SUFFIX = {JSON: "", HAL: ".hal", SIREN: ".siren"}
VERSION_MAX = 2**31 - 1  # the largest expectedVersion the core accepts
# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3)
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(,|$)')


def etag_of(reservation: Reservation, media: str) -> str:
    return f'"{reservation.reservation_id}.{reservation.version}{ETAG_SUFFIX[media]}"'


def entity_tags(header: str, field: str) -> list[tuple[bool, str]]:
    """(weak, opaque tag) for each entity-tag of a list; InvalidProperty(field) when it is not one."""
    tags: list[tuple[bool, str]] = []
    position, end = 0, len(header)
    while position < end:
        if header[position] in " \t,":  # empty list elements are allowed (RFC 9110 §5.6.1)
            position += 1
            continue
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            raise InvalidProperty(field=field, params={"reason": "type"})
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    if not tags:
        raise InvalidProperty(field=field, params={"reason": "type"})
    return tags


def _version(opaque: str, reservation_id: str) -> int | None:
    """The version named by one of our tags of this reservation; None for any other tag."""
    for suffix in (".hal", ".siren"):
        if opaque.endswith(suffix):
            opaque = opaque.removesuffix(suffix)
            break
    owner, _, version = opaque.rpartition(".")
    if owner != reservation_id or not version.isdigit() or len(version) > 10:
        return None
    number = int(version)
    return number if 1 <= number <= VERSION_MAX else None


def if_match_versions(header: str | None, reservation_id: str) -> frozenset[int] | None:
    """The versions If-Match accepts (strong comparison); None when it sets no condition (absent, ``*``)."""
    if header is None or header.strip() == "*":
        return None
    return frozenset(
        version
        for weak, opaque in entity_tags(header, "If-Match")
        if not weak and (version := _version(opaque, reservation_id)) is not None
    )


def expected_version(header: str | None, versions: frozenset[int], current: Reservation) -> int:
    """The one version to expect of ``current``, or VersionMismatch when no listed tag matches it."""
    if current.version in versions:
        return current.version
    expected = ", ".join(sorted(map(str, versions))) if versions else (header or "").strip()
    raise VersionMismatch(params={"expected": expected, "actual": current.version})


def none_match(header: str, etag: str) -> bool:
    """If-None-Match against the current ETag, weakly compared (RFC 9110 §13.1.2)."""
    if header.strip() == "*":
        return True
    current = etag.removeprefix("W/").strip('"')
    try:
        tags = entity_tags(header, "If-None-Match")
    except InvalidProperty:
        return False  # not a list of tags: no condition we can evaluate, answer normally
    return any(opaque == current for _, opaque in tags)
