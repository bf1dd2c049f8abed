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
    assert styles["grpc"]["floor"] in ("grpc-aio", "grpc-sync")
    assert styles["rest"]["ratio_to_floor"] > 0


def test_mixed_runs_reads_lists_and_writes(report: Path) -> None:
    document = json.loads((report / "bench.json").read_text())
    mixed = [m for m in document["measurements"] if m["mix"] == "mixed" and m["name"] == "rest"]
    assert set(mixed[0]["per_operation"]) >= {"get", "list"}


def test_markdown_table_has_a_row_per_figure(report: Path) -> None:
    text = (report / "bench.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| style / floor"))
    assert "ops/s" in header and "× floor" in header and "CPU ms/op" in header and "B/op" in header
    rows = [line for line in text.splitlines() if line.startswith("| rest ") or line.startswith("| grpc ")]
    assert len(rows) == 4
    assert "placement:" in text
    assert f"Python {platform.python_version()} " in text  # which interpreter the figures are for
