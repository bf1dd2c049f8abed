"""Every lab's checker, against a real server: the reference solution passes, the untouched starter fails
with the hint a learner needs at that point."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.checking import LabContext, run_checks
from workshop.labs import Lab, all_labs
from workshop.server import RunningServer

# What the first hint on the untouched starter must talk about (a fragment of it, case-insensitive).
STARTER_HINTS = {
    "01-six-styles": "`rooms` link",
    "02-webhook-receiver": "signature",
    "03-hypermedia-client": "follow `_links`",
    "04-add-a-field": "contact_email",
    "05-n-plus-one": "dataloader",
    "06-retries": "idempotency key",
    "07-stream-resume": "reconnect",
    "08-measuring": "predicted",
    "09-identity-and-quotas": "client_credentials",
}
LABS = all_labs()


def test_every_lab_is_complete() -> None:
    assert len(LABS) >= 8
    assert sorted(STARTER_HINTS) == [lab.name for lab in LABS]
    for lab in LABS:
        readme = lab.readme
        for section in ("## Goal", "## Background", "## Steps", "## Hints", "## Questions to discuss"):
            assert section in readme, f"{lab.name}: README.md has no {section}"
        assert lab.minutes > 0 and lab.title, lab.name
        assert any(lab.starter.iterdir()) and any(lab.solution.iterdir()), lab.name
        assert lab.checks(), lab.name


async def _check(lab: Lab, server: RunningServer, folder: Path, *, solved: bool) -> tuple[bool, list[str]]:
    await lab.materialize(folder, solved=solved)
    context = LabContext(server.base_url, server.grpc_target, folder)
    report = await run_checks(lab.checks(), context, keep_going=lab.independent)
    return report.passed, report.hints


@pytest.mark.parametrize("lab", LABS, ids=[lab.name for lab in LABS])
async def test_the_solution_passes(lab: Lab, server: RunningServer, tmp_path: Path) -> None:
    passed, hints = await _check(lab, server, tmp_path, solved=True)
    assert passed, hints


@pytest.mark.parametrize("lab", LABS, ids=[lab.name for lab in LABS])
async def test_the_starter_fails_with_a_hint(lab: Lab, server: RunningServer, tmp_path: Path) -> None:
    passed, hints = await _check(lab, server, tmp_path, solved=False)
    assert not passed
    if lab.independent:  # every check ran and failed on its own, each with its hint
        assert len(hints) == len(lab.checks())
    else:
        assert len(hints) == 1  # the first failure stops the checks that build on it
    assert STARTER_HINTS[lab.name].lower() in hints[0].lower(), hints[0]


async def test_a_checker_sends_the_api_key_it_is_given_as_an_api_key(tmp_path: Path) -> None:
    """``check --api-key`` (or ROSETTA_API_KEY) against a server with identity checks on: lab 1's checker
    calls every style with the key, which the server must recognise (it refused the Bearer form)."""
    from tests.support.server import live_server

    lab = next(lab for lab in LABS if lab.name == "01-six-styles")
    await lab.materialize(tmp_path, solved=True)
    with live_server(auth=True, styles="rest,graphql,grpc,soap,websocket") as running:
        assert running.runtime.demo is not None
        context = LabContext(running.base_url, running.grpc_target, tmp_path, running.runtime.demo.api_key)
        report = await run_checks(lab.checks(), context, keep_going=lab.independent)
    assert report.passed, report.hints
