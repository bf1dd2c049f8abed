"""The memory store orders a search as the SQL stores do: the sort keys, then creation, then id."""

from __future__ import annotations

import dataclasses
import functools
import random
from datetime import UTC, datetime, timedelta

import pytest

from bench.floors import FIXED
from services.core.model import Reservation
from services.store.reservations.memory import sort_reservations

START = datetime(2031, 1, 1, tzinfo=UTC)
# Few distinct values, so ties are common: ids deliberately not in creation order.
ITEMS = [
    dataclasses.replace(
        FIXED,
        reservation_id=f"rsv_{(7 * index) % 12:02d}",
        date=f"2031-01-0{1 + index % 2}",
        start_time=("09:00", "10:00", "09:00")[index % 3],
        created_at=START + timedelta(seconds=index // 2),
    )
    for index in range(12)
]


def _reference(items: list[Reservation], sort: tuple[tuple[str, bool], ...]) -> list[Reservation]:
    def compare(a: Reservation, b: Reservation) -> int:
        for attribute, descending in (*sort, ("created_at", False), ("reservation_id", False)):
            x, y = getattr(a, attribute), getattr(b, attribute)
            if x != y:
                return (-1 if x < y else 1) * (-1 if descending else 1)
        return 0

    return sorted(items, key=functools.cmp_to_key(compare))


@pytest.mark.parametrize(
    "sort",
    [
        (("date", False), ("start_time", False)),
        (("date", True), ("start_time", False)),
        (("start_time", False),),
        (("created_at", True),),
        (),
    ],
)
def test_sort_keys_then_creation_then_id(sort: tuple[tuple[str, bool], ...]) -> None:
    for seed in range(5):
        shuffled = list(ITEMS)
        random.Random(seed).shuffle(shuffled)
        assert sort_reservations(shuffled, sort) == _reference(ITEMS, sort)
