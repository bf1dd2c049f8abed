"""The judgement parts of the bench: contention flags, SLO verdicts, target verdicts, compare, the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import compare, contention
from bench.cli import main, parser, settings_from
from bench.html import render
from bench.report import target_lines
from bench.runner import Outcome, Placement, Settings, saturated, slo_verdicts, targets, under_slo


def point(
    rate: float, done: float, p99: float, *, contended: bool = False, unfinished: int = 0
) -> dict[str, Any]:
    return {
        "intended_rate": rate,
        "ops_per_s": done,
        "latency_ms": {"p50": p99 / 3, "p90": p99 / 2, "p99": p99, "p99.9": p99 * 1.5, "max": p99 * 2},
        "errors": 0,
        "unfinished": unfinished,
        "generator_saturated": False,
        "contention": {"contended": contended, "reasons": ["probe +40%"] if contended else []},
    }


def test_the_slo_verdict_is_the_highest_clean_rate_under_the_target() -> None:
    outcome = Outcome(Settings(styles=["rest"], mixes=["get"], slo_ms=50), Placement([0], [1], True, ""))
    outcome.sweep["rest"] = [
        point(100, 100, 5),
        point(200, 199, 12),
        point(400, 398, 30, contended=True),  # would pass, but a flagged point decides nothing
        point(800, 610, 900),  # saturated: done < 90 % of offered
    ]
    verdict = slo_verdicts(outcome)["rest"]
    assert verdict["max_rate"] == 200
    assert verdict["flagged_higher"] == 400
    assert verdict["saturated_at"] == 800
    assert verdict["clean_points"] == 3 and verdict["points"] == 4
    assert not verdict["never_saturated"]


def test_saturation_and_slo_tests() -> None:
    assert saturated(point(100, 80, 5), 50)
    assert saturated(point(100, 100, 5, unfinished=1), 50)
    assert not saturated(point(100, 99, 60), 50)
    assert not under_slo(point(100, 99, 60), 50)
    assert under_slo(point(100, 99, 49), 50)


def test_the_probe_flags_a_window_that_ran_slower_than_the_runs_usual_speed() -> None:
    # The run's calibration is its usual probe (the median), not its luckiest: on a host that lends this
    # machine a full core only some of the time, one fast probe would make every window look slowed.
    detector = contention.Detector([0], probes=[0.200, 0.250, 0.250, 0.300, 0.450])
    assert detector.usual_probe == 0.250
    quiet = detector.verdict({"others_share": 0.02, "steal_share": 0.0}, [0.240, 0.300])
    assert not quiet["contended"] and quiet["probe_usual_ms"] == 250.0
    slow = detector.verdict({"others_share": 0.02, "steal_share": 0.0}, [0.250, 0.350])  # +20 % on average
    assert slow["contended"] and slow["reasons"] == ["probe +20%"]
    stolen = detector.verdict({"others_share": 0.0, "steal_share": 0.08}, [0.250])
    assert stolen["reasons"] == ["steal 8%"]
    crowded = detector.verdict({"others_share": 0.30, "steal_share": 0.0}, [0.250])
    assert crowded["reasons"] == ["others 30%"]


def test_the_probe_catches_a_cpu_hog_pinned_to_the_server_core() -> None:
    # What a short in-process probe missed: a busy process on the same core. The scheduler lets a task that
    # just woke up run first, so a few milliseconds of probe never had to share; a quarter of a second does.
    import os
    import subprocess
    import sys

    cpu = sorted(os.sched_getaffinity(0))[-1]
    detector = contention.Detector([cpu])
    detector.calibrate(rounds=3)
    program = f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", program]) for _ in range(2)]  # two: plain when busy
    try:
        hogged = [contention.probe([cpu]) for _ in range(2)]
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    found = detector.verdict({"others_share": 0.0, "steal_share": 0.0}, hogged)
    assert found["contended"] and found["reasons"][0].startswith("probe +"), found


def test_the_window_names_other_processes_on_the_server_core() -> None:
    import os
    import time

    cpus = sorted(os.sched_getaffinity(0))[:1]
    detector = contention.Detector(cpus)
    window = detector.open(exclude=set())
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        deadline = time.process_time() + 0.15
        while time.process_time() < deadline:  # this process is "someone else" on that core
            pass
    finally:
        os.sched_setaffinity(0, before)
    figures = detector.close(window, server_cpu_seconds=0.0)
    assert figures["others_share"] > 0
    assert figures["other_processes"], figures


def summary_row(
    name: str, mix: str, ops: float, low: float, high: float, rounds: int = 3, **extra: object
) -> dict[str, Any]:
    row = {
        "name": name, "kind": "style", "protocol": name, "mix": mix, "rounds": rounds, "ops_per_s": ops,
        "ops_per_s_min": low, "ops_per_s_max": high, "noisy": False, "contended": False,
        "generator_saturated": False, "errors": 0, "floor": None, "floor_mix": None, "ratio_to_floor": None,
    }  # fmt: skip
    row.update(extra)
    return row


def test_compare_flags_a_drop_beyond_the_noise_of_both_runs_only(tmp_path: Path) -> None:
    a = {"summary": [summary_row("rest", "get", 1000, 980, 1020), summary_row("soap", "get", 500, 490, 510),
                     summary_row("grpc", "get", 800, 790, 810)]}  # fmt: skip
    b = {"summary": [summary_row("rest", "get", 700, 690, 710), summary_row("soap", "get", 490, 480, 500),
                     summary_row("grpc", "get", 500, 490, 510, contended=True)]}  # fmt: skip
    verdicts = {r["name"]: r["ops_verdict"] for r in compare.compare(a, b, 0.10)}
    assert verdicts == {"rest": "REGRESSION", "soap": "within noise", "grpc": "not judged (flagged)"}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0


def test_compare_refuses_a_file_that_is_not_a_bench_result(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(SystemExit, match="not a bench.json"):
        main(["compare", str(tmp_path / "x.json"), str(tmp_path / "x.json")])


def test_a_flagged_row_gives_no_target_verdict() -> None:
    rows = [
        summary_row("rest", "get", 1000, 990, 1010, floor="fastapi", floor_mix="get", ratio_to_floor=1.0),
        summary_row(
            "soap",
            "get",
            100,
            99,
            101,
            floor="spyne",
            floor_mix="get",
            ratio_to_floor=0.5,
            contended=True,
            contention_reasons=["probe +30%"],
        ),  # fmt: skip
        summary_row("grpc", "list", 100, 99, 101, floor="grpc-aio", floor_mix="list", ratio_to_floor=0.5),
    ]
    found = {(t["style"], t["mix"]): t for t in targets(rows)}
    assert found[("rest", "get")]["met"] is True
    assert found[("soap", "get")]["met"] is None and not found[("soap", "get")]["trustworthy"]
    assert found[("grpc", "list")]["met"] is False  # 0.5 < 0.7 of the list floor


def test_a_target_line_says_what_the_adapter_adds_in_cpu_per_operation() -> None:
    rows = [
        summary_row(
            "grpc", "get", 920, 910, 930, floor="grpc-aio", floor_mix="get", ratio_to_floor=0.92,
            server_cpu_ms_per_op=0.334,
        ),
        {**summary_row("grpc-aio", "get", 1000, 990, 1010, server_cpu_ms_per_op=0.308), "kind": "floor"},
        summary_row("rest", "get", 1000, 990, 1010, floor="fastapi", floor_mix="get", ratio_to_floor=1.0),
    ]  # fmt: skip
    lines = target_lines(rows)
    assert "0.92x, NOT met" in lines[0] and "+26 µs of server CPU per operation against the floor" in lines[0]
    assert lines[1].endswith("1.00x, met")  # no floor row measured: no CPU figure made up


def test_the_page_is_self_contained() -> None:
    document = {
        "environment": {"machine": {"cpu": "test cpu", "cpus": 2}, "python": "3.11.7", "git_commit": "abc"},
        "settings": {"connections": 4, "duration": 1, "rounds": 1, "slo_ms": 50},
        "placement": {"note": "pinned"},
        "started": 0,
        "summary": [
            summary_row("rest", "get", 1000, 990, 1010, floor="fastapi", floor_mix="get", ratio_to_floor=0.9),
            {**summary_row("fastapi", "get", 1100, 1090, 1110), "kind": "floor"},
        ],
        "sweep": {"rest": [point(100, 100, 5), point(200, 150, 300)]},
        "slo": {
            "rest": {
                "max_rate": 100,
                "never_saturated": False,
                "saturated_at": 200,
                "clean_points": 2,
                "points": 2,
            }
        },  # fmt: skip
        "notes": ["how to read"],
    }
    page = render(document, (["style / floor"], [["rest"]]))
    assert page.count("<svg") == 2
    assert "floor fastapi get" in page  # the floor is a marker with its figure
    assert "SLO p99 50 ms" in page
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in page


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--slo", "fast"], "not a duration"),
        (["--rate-sweep", "10,x"], "not a list of rates"),
        (["--rate", "0"], "--rate must be positive"),
        (["--rate", "10", "--rate-sweep"], "exclude each other"),
        (["--scenario", "nope"], "unknown scenario"),
    ],
)
def test_bad_options_are_refused_with_a_reason(argv: list[str], message: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match=message):
        settings_from(parser().parse_args(argv))


def test_quick_covers_get_list_and_write() -> None:
    settings = settings_from(parser().parse_args(["--quick"]))
    assert settings.mixes == ["get", "list", "write"]
    sweep = settings_from(parser().parse_args(["--quick", "--rate-sweep", "--slo", "0.2s"]))
    assert sweep.rate_sweep == [] and sweep.slo_ms == 200 and sweep.duration <= 1.0


def test_a_rows_contention_is_said_once_at_its_worst() -> None:
    from bench.runner import Measurement, contention_summary

    def window(reasons: list[str]) -> Measurement:
        found = {"contended": bool(reasons), "reasons": reasons}
        return Measurement(
            "rest",
            "style",
            "rest",
            "get",
            1,
            1,
            1.0,
            1.0,
            {},
            0,
            [],
            "asyncio",
            0.1,
            False,
            1,
            contention=found,
        )

    rounds = [window(["others 40%", "probe +20%"]), window(["others 70%"]), window([])]
    assert contention_summary(rounds) == ["2/3 rounds: others 70%, probe +20%"]
    assert contention_summary([window([])]) == []


def test_a_row_is_figured_from_its_clean_rounds_when_they_are_the_majority() -> None:
    from bench.runner import Measurement, summarize

    def window(ops: float, contended: bool) -> Measurement:
        found = {"contended": contended, "reasons": ["probe +40%"] if contended else []}
        latency = {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0}
        return Measurement(
            "rest", "style", "rest", "get", 1, 1, 1.0, ops, latency, 0, [], "asyncio", 0.1, False, 1,
            contention=found,
        )  # fmt: skip

    outcome = Outcome(Settings(styles=["rest"], mixes=["get"]), Placement([0], [1], True, ""))
    outcome.measurements = [window(1000, False), window(400, True), window(1100, False)]
    (row,) = summarize(outcome)
    assert not row["contended"] and row["rounds"] == 3 and row["rounds_used"] == 2
    assert row["ops_per_s"] == 1050  # the slowed round is left out, not averaged in
    assert row["contention_reasons"] == ["1/3 rounds: probe +40%"]
    outcome.measurements = [window(1000, False), window(400, True), window(500, True)]
    (row,) = summarize(outcome)
    assert row["contended"] and row["rounds_used"] == 3 and row["ops_per_s"] == 500
