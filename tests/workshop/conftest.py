"""One workshop-mode server shared by every lab test (each lab uses its own dates, names and rooms)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workshop.server import RunningServer, lab_server


@pytest.fixture(scope="package")
def server() -> Iterator[RunningServer]:
    with lab_server() as running:
        yield running
