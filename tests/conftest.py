"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.store import MemoryStore, SqliteStore


@pytest.fixture(params=["memory", "sqlite"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReservationService]:
    """The core over each embedded store: what holds for one must hold for the other."""
    store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "rosetta.db")
    await store.open()
    yield ReservationService(store, notifier=InProcessNotifier())
    await store.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the size of the conformance matrix that ran."""
    from tests.conformance.scenarios import SCENARIOS
    from tests.conformance.test_conformance import NOT_EXPRESSIBLE, STORES, TARGETS

    passed = [
        report
        for report in terminalreporter.stats.get("passed", [])
        if "test_style_matches_the_core" in report.nodeid
    ]
    if not passed:
        return
    terminalreporter.write_line(
        f"conformance matrix: {len(SCENARIOS)} scenarios x {len(TARGETS)} targets "
        f"({', '.join(TARGETS)}) x {len(STORES)} stores ({', '.join(STORES)}) = "
        f"{(len(SCENARIOS) * len(TARGETS) - len(NOT_EXPRESSIBLE)) * len(STORES)} cases; "
        f"{len(passed)} passed in this run; not expressible: "
        + ("; ".join(f"{t}/{n}: {r}" for t, n, r in NOT_EXPRESSIBLE) or "none")
    )
