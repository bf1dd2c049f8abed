"""The conformance matrix: every scenario x every target, each compared with the core's outcome."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.scenarios import SCENARIOS, Context, Scenario
from tests.conformance.targets import Target, open_target

TARGETS: tuple[str, ...] = ("core", "rest", "graphql", "grpc", "soap", "websocket")
STORES: tuple[str, ...] = ("memory", "postgres")  # the store is a parameter of the suite

CASES = [
    pytest.param(
        store,
        target,
        scenario,
        id=f"{store}-{target}-{scenario.name}",
        # beside PostgreSQL the tiny quota's buckets are in the local Redis (tests.conformance.targets)
        marks=[pytest.mark.redis] if store == "postgres" and scenario.tiny_quota else [],
    )
    for store in STORES
    for target in TARGETS
    for scenario in SCENARIOS
    if target not in scenario.not_expressible
]
NOT_EXPRESSIBLE = [
    (target, scenario.name, reason)
    for scenario in SCENARIOS
    for target, reason in scenario.not_expressible.items()
]


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[tuple[str, str], Target]]:
    """Targets start on first use and live for the module: one server (and store) per style and store."""
    stack: list[Any] = []

    class Lazy(dict[tuple[str, str], Target]):
        def __missing__(self, key: tuple[str, str]) -> Target:
            store, name = key
            manager = open_target(name, store)
            target = manager.__enter__()
            stack.append(manager)
            self[key] = target
            return target

    yield Lazy()
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


async def _outcome(target: Target, scenario: Scenario, space: int = 0) -> list[Any]:
    number = SCENARIOS.index(scenario) + 1
    async with target.connect(scenario.language) as api:
        ctx = Context(
            api=api,
            language=scenario.language,
            number=number,
            space=space,
            others=target.connect_as,
            ordered_clock=True,  # every target here reads an OrderedClock (targets.py)
        )
        await scenario.run(ctx)
    return ctx.outcomes


_reference: dict[tuple[str, int], list[Any]] = {}  # (scenario, space) -> the core's outcome


@pytest.mark.parametrize(("store", "target_name", "scenario"), CASES)
async def test_style_matches_the_core(
    targets: dict[tuple[str, str], Target], store: str, target_name: str, scenario: Scenario
) -> None:
    if (scenario.name, 0) not in _reference:
        _reference[scenario.name, 0] = await _outcome(targets["memory", "reference"], scenario)
    outcome = await _outcome(targets[store, target_name], scenario)
    assert outcome == _reference[scenario.name, 0]


def test_matrix_has_at_least_thirty_scenarios_and_lists_what_is_not_expressible() -> None:
    assert len(SCENARIOS) >= 30
    for target, name, reason in NOT_EXPRESSIBLE:
        assert target in TARGETS and reason, (target, name)
