"""``rosetta workshop``: list, start and check as a learner runs them, colours and exit statuses included."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from workshop.cli import main
from workshop.labs import all_labs
from workshop.server import RunningServer


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system="standard", width=200, highlight=False), out


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROSETTA_WORKSHOP_DIR", str(tmp_path / "ws"))
    return tmp_path / "ws"


def test_list_shows_every_lab_with_time_and_status() -> None:
    console, out = _console()
    assert main(["list"], console) == 0
    text = out.getvalue()
    for lab in all_labs():
        assert lab.name in text and f"{lab.minutes} min" in text
    assert "not started" in text
    assert "\x1b[" in text  # coloured like the rest of the CLI


def test_start_copies_the_starter_and_prints_the_first_step(workspace: Path) -> None:
    console, out = _console()
    assert main(["start", "1"], console) == 0
    assert (workspace / "01-six-styles" / "calls.py").read_text() == (
        all_labs()[0].starter / "calls.py"
    ).read_text()
    assert "first step: Start a server" in out.getvalue()
    again, _ = _console()
    assert main(["start", "01-six-styles"], again) == 1  # never overwrites work without --force


def test_unknown_lab_is_a_clear_error() -> None:
    console, out = _console()
    assert main(["check", "nonsense"], console) == 2
    assert "01-six-styles" in out.getvalue()


def test_check_of_the_untouched_starter_fails_with_a_hint(server: RunningServer, workspace: Path) -> None:
    assert main(["start", "3"], _console()[0]) == 0
    console, out = _console()
    assert main(["check", "3", "--server", server.base_url], console) == 1
    text = out.getvalue()
    assert "✗" in text and "hint:" in text and "not run" in text
    assert "0/2 checks passed" in text
    status = json.loads((workspace / "03-hypermedia-client" / ".rosetta-lab.json").read_text())
    assert status == {"passed": False, "done": 0, "total": 2}
    listing, listed = _console()
    main(["list"], listing)
    assert "started, 0/2 checks" in listed.getvalue()


def test_check_of_a_solution_passes_with_exit_zero(server: RunningServer) -> None:
    console, out = _console()
    lab = all_labs()[2]
    code = main(["check", lab.name, "--path", str(lab.solution), "--server", server.base_url], console)
    assert code == 0, out.getvalue()
    assert "all 2 checks passed" in out.getvalue()
    assert not (lab.solution / ".rosetta-lab.json").exists()  # progress is kept in working folders only


def test_check_starts_its_own_server_when_none_is_given() -> None:
    console, out = _console()
    lab = all_labs()[0]
    assert main(["check", "1", "--path", str(lab.solution)], console) == 0, out.getvalue()
    assert "all 6 checks passed" in out.getvalue()


def test_an_independent_lab_reports_every_check(server: RunningServer) -> None:
    assert main(["start", "1"], _console()[0]) == 0
    console, out = _console()
    assert main(["check", "1", "--server", server.base_url], console) == 1
    text = out.getvalue()
    assert text.count("hint:") == 6 and "not run" not in text
    assert "0/6 checks passed" in text


def test_check_names_an_unreachable_server() -> None:
    console, out = _console()
    lab = all_labs()[0]
    assert main(["check", "1", "--path", str(lab.solution), "--server", "http://127.0.0.1:9"], console) == 1
    assert "does not answer /healthz" in out.getvalue()
