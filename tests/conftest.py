"""Fixtures shared by every test directory, and the test tiers (markers given from what a test uses)."""

from __future__ import annotations

import gc
import json
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.store import MemoryStore, SqliteStore

# -- test tiers ------------------------------------------------------------------------------
# A test that needs more than Python and the project's dependencies gets the marker of what it needs
# (registered in pyproject.toml), derived here from what it uses, so a new test is marked without
# anyone remembering to: `make test-fast` deselects every tier, and runs with ROSETTA_TEST_PG_DSN and
# ROSETTA_TEST_REDIS_URL pointing nowhere, so a test that needs a service but escaped this fails there.
TIER_FIXTURES: dict[str, tuple[str, ...]] = {
    "pg_schema": ("postgres",),  # a fresh schema of the local database (tests/webhooks)
    "topology": ("edge", "postgres"),  # the compose topology: Debian's nginx, the local PostgreSQL
    "browser": ("browser",),  # Debian's Chromium driven by Playwright
    "redis_client": ("redis",),  # the local Redis (shared quota state)
}
TIER_PARAMETERS: dict[str, tuple[str, ...]] = {
    "postgres": ("postgres",),  # a fixture or case parametrized over the stores, this one PostgreSQL
    "redis": ("redis",),  # ... or over quota backends, this one Redis
}
TIER_FILE_WORDS: tuple[str, ...] = ("postgres", "redis", "docker", "browser")  # test_postgres_store.py ...
TIER_PATHS: dict[str, tuple[str, ...]] = {  # a folder (ending in /) or a file, from the repository root
    "tests/e2e/": ("slow",),  # real processes: `rosetta serve`, SIGKILL and restart, the compose topology
    "tests/bench/test_bench.py": ("slow",),  # `rosetta bench` end to end: servers and load generators
    "tests/compose/": ("docker", "slow"),  # the real `docker compose` stack
}


def tiers_of(item: pytest.Item) -> set[str]:
    """The tiers a collected test belongs to, from its fixtures, parameters, file and directory."""
    tiers: set[str] = set()
    for name in getattr(item, "fixturenames", ()):
        tiers.update(TIER_FIXTURES.get(name, ()))
    callspec = getattr(item, "callspec", None)
    for value in callspec.params.values() if callspec else ():
        if isinstance(value, str):
            tiers.update(TIER_PARAMETERS.get(value, ()))
    tiers.update(word for word in TIER_FILE_WORDS if word in item.path.name)
    path = item.path.relative_to(item.config.rootpath).as_posix()
    tiers.update(tier for prefix, marks in TIER_PATHS.items() if path.startswith(prefix) for tier in marks)
    return tiers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in sorted(tiers_of(item)):
            item.add_marker(tier)
    if os.environ.get("MUTANT_UNDER_TEST"):
        items[:] = cheapest_modules_first(items, _mutmut_durations())


# -- mutation runs (`make mutation`) ------------------------------------------------------------
# mutmut runs a mutant's tests as a list of test ids in no particular order, with -x. Left so, pytest
# jumps between modules, setting a live server's module fixture up and down again each time it returns,
# and a unit test that would fail in a millisecond may wait behind the webhook tests' real waits. Under
# mutmut, each module's tests run together, the modules whose tests took least time each (mutmut's own
# measurements) first: the same tests, so the same verdict, sooner.


def _mutmut_durations() -> dict[str, float]:
    try:  # mutmut runs the tests from ./mutants, where it keeps its stats
        stats = json.loads(Path("mutmut-stats.json").read_text(encoding="utf-8"))
        return {str(test): float(seconds) for test, seconds in stats["duration_by_test"].items()}
    except (OSError, ValueError, KeyError, AttributeError):
        return {}


def cheapest_modules_first(items: list[pytest.Item], durations: dict[str, float]) -> list[pytest.Item]:
    """``items`` grouped by module, modules by their tests' mean measured time; order kept inside one."""
    by_module: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_module.setdefault(item.nodeid.partition("::")[0], []).append(item)

    def mean_time(module: list[pytest.Item]) -> float:
        return sum(durations.get(item.nodeid, 0.0) for item in module) / len(module)

    return [item for module in sorted(by_module.values(), key=mean_time) for item in module]


@pytest.fixture(params=["memory", "sqlite"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReservationService]:
    """The core over each embedded store: what holds for one must hold for the other."""
    store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "rosetta.db")
    await store.open()
    yield ReservationService(store, notifier=InProcessNotifier())
    await store.close()


# -- resources left open ----------------------------------------------------------------------
# An unclosed socket or transport is only noticed when the garbage collector reaches it, often in a
# later test. After each module the collector runs here and whatever it finds unclosed is named with the
# module that left it, in the run's summary: the intermittent leak pyproject.toml's filters stop from
# failing an innocent test is reported, with its module, every time it happens.
LEAKS: list[tuple[str, str]] = []


@pytest.fixture(autouse=True, scope="module")
def _leaks_named_by_module(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    LEAKS.extend((request.node.nodeid, str(w.message)[:200]) for w in caught if w.category is ResourceWarning)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the resources left open (by module), and print the size of the conformance matrix that ran."""
    for module, message in LEAKS:
        terminalreporter.write_line(f"left open by {module}: {message}")
    from tests.conformance.scenarios import SCENARIOS
    from tests.conformance.test_conformance import NOT_EXPRESSIBLE, STORES, TARGETS

    passed = [
        report
        for report in terminalreporter.stats.get("passed", [])
        if "test_style_matches_the_core" in report.nodeid
    ]
    if not passed:
        return
    styles = [target for target in TARGETS if target != "core"]
    style_cases = (len(SCENARIOS) * len(styles) - len(NOT_EXPRESSIBLE)) * len(STORES)
    core_cases = len(SCENARIOS) * len(STORES)
    # The "core" row is the core itself (on each store) against the reference core on another memory
    # store: a check of the stores and of the scenarios' determinism, not of any style; counted apart.
    terminalreporter.write_line(
        f"conformance matrix: {len(SCENARIOS)} scenarios x {len(styles)} styles "
        f"({', '.join(styles)}) x {len(STORES)} stores ({', '.join(STORES)}) = {style_cases} style cases, "
        f"plus {core_cases} cases of the core against the reference core (stores, not styles); "
        f"{len(passed)} passed in this run; not expressible: "
        + ("; ".join(f"{t}/{n}: {r}" for t, n, r in NOT_EXPRESSIBLE) or "none")
    )
