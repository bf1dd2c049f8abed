"""Under mutmut, a mutant's tests run module by module, the quickest modules first (tests/conftest.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from tests.conftest import cheapest_modules_first


def _items(*nodeids: str) -> list[Any]:
    return [SimpleNamespace(nodeid=nodeid) for nodeid in nodeids]


def test_each_modules_tests_run_together_and_the_quickest_module_first() -> None:
    # As mutmut hands them over: interleaved, a live-server module first.
    items = _items(
        "tests/wire.py::a", "tests/unit.py::x", "tests/wire.py::b", "tests/hooks.py::h", "tests/unit.py::y"
    )
    durations = {
        "tests/wire.py::a": 0.05,
        "tests/wire.py::b": 0.03,
        "tests/unit.py::x": 0.0002,
        "tests/unit.py::y": 0.0001,
        "tests/hooks.py::h": 1.0,
    }
    ordered = cheapest_modules_first(cast(Any, items), durations)
    assert [item.nodeid for item in ordered] == [
        "tests/unit.py::x",
        "tests/unit.py::y",
        "tests/wire.py::a",
        "tests/wire.py::b",
        "tests/hooks.py::h",
    ]


def test_without_measurements_modules_are_still_grouped_in_the_order_first_met() -> None:
    items = _items("tests/b.py::1", "tests/a.py::1", "tests/b.py::2", "tests/a.py::2")
    ordered = cheapest_modules_first(cast(Any, items), {})
    assert [item.nodeid for item in ordered] == [
        "tests/b.py::1",
        "tests/b.py::2",
        "tests/a.py::1",
        "tests/a.py::2",
    ]
