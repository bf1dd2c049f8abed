"""``rosetta bench`` end to end in a tiny configuration: real servers, real load, every output written.

Asserts the report's structure only, never a speed. Uses the project's own asyncio load generator,
so nothing beyond the Python dependencies is needed.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pytest

from bench.cli import main

SUMMARY_KEYS = {
    "name", "kind", "protocol", "mix", "rounds", "ops_per_s", "ops_per_s_min", "ops_per_s_max", "noisy",
    "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "server_cpu_ms_per_op", "server_peak_rss_mb",
    "generator_cpu_share", "generator_saturated", "floor", "ratio_to_floor",
    "bytes_to_server_per_op", "bytes_to_client_per_op",
}  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    argv = ["--styles", "rest,grpc", "--mixes", "get,mixed", "--duration", "1", "--warmup", "0.3"]
    argv += ["--rounds", "1", "--connections", "4", "--wire-ops", "10", "--output", str(out), "--no-progress"]
    assert main(argv) == 0
    return out


def test_every_output_is_written(report: Path) -> None:
    assert (report / "bench.json").stat().st_size > 0
    assert (report / "bench.md").stat().st_size > 0
    page = (report / "bench.html").read_text()
    assert "<svg" in page and "rest get" in page and "<script" not in page
    assert (report / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_holds_environment_settings_and_every_figure(report: Path) -> None:
    document = json.loads((report / "bench.json").read_text())
    assert {"environment", "settings", "placement", "measurements", "wire", "summary", "verification"} <= set(
        document
    )
    environment = document["environment"]
    assert environment["python"] == sys.version and environment["python_version"] == platform.python_version()
    assert environment["libraries"]["grpcio"]
    assert "git_commit" in environment
    assert document["settings"]["styles"] == ["rest", "grpc"]
    assert document["verification"]["same_result"] is True
    assert document["verification"]["replay_errors"] == {}

    names = {(row["name"], row["mix"]) for row in document["summary"]}
    assert {("rest", "get"), ("rest", "mixed"), ("grpc", "get"), ("grpc", "mixed")} <= names
    assert {("asgi", "get"), ("fastapi", "get"), ("grpc-aio", "get"), ("grpc-sync", "get")} <= names
    for row in document["summary"]:
        assert SUMMARY_KEYS <= set(row)
        assert row["errors"] == 0, row
        assert row["ops_per_s"] > 0
        assert row["server_cpu_ms_per_op"] > 0
        assert row["bytes_to_server_per_op"] > 0 and row["bytes_to_client_per_op"] > 0
    styles = {
        row["name"]: row for row in document["summary"] if row["kind"] == "style" and row["mix"] == "get"
    }
    assert styles["rest"]["floor"] == "fastapi"
    assert styles["grpc"]["floor"] == "grpc-aio"  # one baseline per style, the one its target names
    assert styles["rest"]["ratio_to_floor"] > 0
    for measurement in document["measurements"]:  # every window was watched for contention
        assert {"others_share", "steal_share", "probe_ms", "contended"} <= set(measurement["contention"])


def test_mixed_runs_reads_lists_and_writes(report: Path) -> None:
    document = json.loads((report / "bench.json").read_text())
    for style in ("rest", "grpc"):
        (mixed,) = [m for m in document["measurements"] if m["mix"] == "mixed" and m["name"] == style]
        operations = mixed["per_operation"]
        # A write is a create, then a cancel of what it created (timed apart).
        assert set(operations) == {"get", "list", "create", "cancel"}, (
            f"{style} mixed ran {sorted(operations)}"
        )
        counts = {name: operations[name]["count"] for name in operations}
        # 80/15/5: writes ran, each create followed by its cancel (one may straddle the window's end),
        # and fewer than reads; none failed.
        assert counts["create"] >= 1, f"{style}'s mixed run made no write: {counts}"
        assert abs(counts["create"] - counts["cancel"]) <= 4, f"{style}: creates without cancels: {counts}"
        assert counts["get"] > counts["list"] >= 1 and counts["get"] > counts["create"], counts
        (row,) = [r for r in document["summary"] if r["mix"] == "mixed" and r["name"] == style]
        assert row["errors"] == 0, f"{style}'s mixed run had failed operations: {row['errors']}"


def test_markdown_table_has_a_row_per_figure(report: Path) -> None:
    text = (report / "bench.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| style / floor"))
    assert "ops/s" in header and "× floor" in header and "CPU ms/op" in header and "B/op" in header
    rows = [line for line in text.splitlines() if line.startswith("| rest ") or line.startswith("| grpc ")]
    assert len(rows) == 4
    assert "placement:" in text
    assert f"Python {platform.python_version()} " in text  # which interpreter the figures are for


def test_a_rate_sweep_draws_a_curve_and_states_the_slo_verdict(tmp_path: Path) -> None:
    argv = ["--styles", "rest", "--rate-sweep", "20,60", "--duration", "0.6", "--warmup", "0.2"]
    argv += ["--connections", "4", "--slo", "2s", "--output", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    document = json.loads((tmp_path / "bench.json").read_text())
    curve = document["sweep"]["rest"]
    assert [p["intended_rate"] for p in curve] == [20, 60]
    for p in curve:
        assert p["ops_per_s"] > 0 and p["errors"] == 0
        assert p["latency_ms"]["p50"] <= p["latency_ms"]["p99"] <= p["latency_ms"]["p99.9"]
    verdict = document["slo"]["rest"]
    assert verdict["slo_ms"] == 2000 and verdict["points"] == 2
    page = (tmp_path / "bench.html").read_text()
    assert "Latency under a fixed arrival rate" in page and "<polyline" in page
    text = (tmp_path / "bench.md").read_text()
    if verdict["max_rate"] is None:  # every point flagged on a busy machine: said so, not hidden
        assert "rest: no clean rate kept p99 < 2000 ms" in text
    else:
        assert "rest: highest rate with p99 < 2000 ms" in text


def test_scenarios_check_the_same_data_in_every_style_then_measure(tmp_path: Path) -> None:
    argv = ["--styles", "rest,graphql", "--scenario", "room-page,sparse,cold-call", "--iterations", "2"]
    argv += ["--output", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    document = json.loads((tmp_path / "bench.json").read_text())
    found = document["scenarios"]
    assert found["same_result"] is True, found["mismatches"]
    steps = {(r["style"], r["step"]): r for r in found["results"]}
    assert steps[("graphql", "room-page")]["round_trips"] == 1
    assert steps[("rest", "room-page")]["round_trips"] == 2
    # The client that needs two fields: GraphQL's answer carries far fewer bytes than REST's full page.
    assert steps[("graphql", "sparse")]["bytes_to_client"] < steps[("rest", "sparse")]["bytes_to_client"] / 3
    for r in found["results"]:
        assert r["bytes_to_server"] > 0 and r["bytes_to_client"] > 0
        assert r["latency_ms"]["p50"] > 0
    assert "Scenarios" in (tmp_path / "bench.html").read_text()


def test_the_edge_topology_measures_each_style_direct_and_through_nginx(tmp_path: Path) -> None:
    argv = [
        "--styles",
        "rest,grpc",
        "--mixes",
        "get",
        "--topology",
        "edge",
        "--no-floors",
        "--duration",
        "0.5",
    ]
    argv += ["--warmup", "0.2", "--rounds", "1", "--connections", "4", "--wire-ops", "5"]
    assert main([*argv, "--output", str(tmp_path), "--no-progress"]) == 0
    document = json.loads((tmp_path / "bench.json").read_text())
    assert document["skipped"] == {}
    rows = {(r["name"], r["mix"]): r for r in document["summary"]}
    for style in ("rest", "grpc"):
        edge = rows[(f"{style}+edge", "get")]
        errors = [m["error_samples"] for m in document["measurements"] if m["name"] == f"{style}+edge"]
        assert edge["kind"] == "edge" and edge["errors"] == 0 and edge["ops_per_s"] > 0, errors
        assert edge["floor"] == style and edge["ratio_to_floor"] > 0  # compared with the style direct
    # nginx's own headers cross the wire: the edge's response is not byte-for-byte the server's.
    assert (
        rows[("rest+edge", "get")]["bytes_to_client_per_op"]
        != rows[("rest", "get")]["bytes_to_client_per_op"]
    )


def test_the_edge_config_is_the_compose_one_with_local_upstreams(tmp_path: Path) -> None:
    from bench.edge import CONF, render

    text = render(8001, 50001, 9001, 9002, tmp_path)
    assert "set $rest 127.0.0.1:8001;" in text and "set $grpc 127.0.0.1:50001;" in text
    assert "limit_req zone" not in text and "limit_conn edge_conn" not in text
    assert "listen 127.0.0.1:9001;" in text and "listen 127.0.0.1:9002 http2;" in text
    assert ":8000;" not in text and "access_log off;" in text
    # Everything else (routes, proxy headers, timeouts) is the compose edge's own.
    assert text.count("location") == CONF.read_text().count("location")


def test_fan_out_delivers_every_event_to_every_subscriber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import fanout

    monkeypatch.setattr(fanout, "FAN", (1, 3))
    argv = ["--styles", "rest,websocket,soap", "--scenario", "fan-out", "--iterations", "5"]
    assert main([*argv, "--output", str(tmp_path), "--no-progress"]) == 0
    document = json.loads((tmp_path / "bench.json").read_text())
    found = {(r["style"], r["subscribers"]): r for r in document["scenarios"]["fan_out"]}
    # SSE (REST), WebSocket and webhooks (with REST); SOAP has no push and says so.
    assert set(found) == {(s, n) for s in ("rest", "websocket", "webhooks") for n in (1, 3)}
    assert "SOAP has no push" in document["skipped"]["fan-out soap"]
    for (_, subscribers), r in found.items():
        assert r["missing"] == 0 and r["deliveries"] == subscribers * r["events"] == subscribers * 20
        assert r["delivered_per_s"] > 0 and r["lag_ms"]["p99"] >= r["lag_ms"]["p50"] >= 0
    assert "Fan-out" in (tmp_path / "bench.html").read_text()
