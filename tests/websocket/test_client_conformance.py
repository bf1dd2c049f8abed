"""The shared conformance scenarios through ``WebSocketClient``: outcomes equal the core's own.

The conformance matrix (tests/conformance) runs these for every style once enabled there; running
them here too keeps the WebSocket client honest while it is developed on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.scenarios import SCENARIOS, Context, Scenario
from tests.conformance.targets import Target, open_target


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, Target]]:
    with open_target("core") as core, open_target("websocket") as websocket:
        yield {"core": core, "websocket": websocket}


async def _outcome(target: Target, scenario: Scenario) -> list[Any]:
    async with target.connect(scenario.language) as api:
        ctx = Context(
            api=api,
            language=scenario.language,
            number=SCENARIOS.index(scenario) + 1,
            others=target.connect_as,  # the identity scenarios act as other callers too
            ordered_clock=True,  # both targets read an OrderedClock (tests/conformance/targets.py)
        )
        await scenario.run(ctx)
    return ctx.outcomes


@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if "websocket" not in s.not_expressible], ids=lambda s: s.name
)
async def test_the_websocket_client_matches_the_core(targets: dict[str, Target], scenario: Scenario) -> None:
    assert await _outcome(targets["websocket"], scenario) == await _outcome(targets["core"], scenario)
