"""Content negotiation: pick a representation from an Accept header (RFC 9110 §12.5.1)."""

from __future__ import annotations

from functools import lru_cache

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
HAL = "application/hal+json"
SIREN = "application/vnd.siren+json"
CSV = "text/csv"
EVENT_STREAM = "text/event-stream"

ITEM_MEDIA: tuple[str, ...] = (JSON, HAL, SIREN)
COLLECTION_MEDIA: tuple[str, ...] = (JSON, HAL, SIREN, CSV)
EVENT_MEDIA: tuple[str, ...] = (*COLLECTION_MEDIA, EVENT_STREAM)

_MediaRange = tuple[str, str, float, int]  # type, subtype, q, position


def _parse(accept: str) -> list[_MediaRange]:
    ranges: list[_MediaRange] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = part.split(";")
        kind, _, subtype = media.strip().lower().partition("/")
        if not kind or not subtype:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append((kind, subtype.strip(), q, position))
    return ranges


@lru_cache(maxsize=512)
def choose(accept: str | None, offers: tuple[str, ...]) -> str | None:
    """The offer the client prefers most, or None when it accepts none of them (-> 406).

    Each offer takes the q of the most specific range that matches it; ties go to the more
    specific match, then to the range listed first, then to the server's order of ``offers``.
    """
    if not accept or not accept.strip():
        return offers[0]
    ranges = _parse(accept)
    if not ranges:
        return offers[0]  # nothing parseable: treat like no Accept at all
    best: tuple[float, int, int, int] | None = None
    chosen: str | None = None
    for rank, offer in enumerate(offers):
        kind, _, subtype = offer.partition("/")
        match: tuple[int, float, int] | None = None  # specificity, q, position
        for r_kind, r_subtype, q, position in ranges:
            if r_kind == kind and r_subtype == subtype:
                specificity = 2
            elif r_kind == kind and r_subtype == "*":
                specificity = 1
            elif r_kind == "*" and r_subtype == "*":
                specificity = 0
            else:
                continue
            if match is None or specificity > match[0]:
                match = (specificity, q, position)
        if match is None or match[1] <= 0:
            continue
        score = (match[1], match[0], -match[2], -rank)
        if best is None or score > best:
            best, chosen = score, offer
    return chosen
