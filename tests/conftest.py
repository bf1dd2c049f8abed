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
