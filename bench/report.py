"""The benchmark's outputs: a terminal table (rich), JSON with every raw figure, Markdown and a chart."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.runner import Outcome, summarize, targets

LIBRARIES = (
    "uvicorn", "uvloop", "httptools", "fastapi", "starlette", "strawberry-graphql", "graphql-core", "spyne",
    "a2wsgi", "lxml", "grpcio", "protobuf", "websockets", "httpx", "zeep",
)  # fmt: skip


CONTENDED = 0.15  # other processes used more than this share of the server's CPU in a window


def environment() -> dict[str, Any]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
            ).stdout.strip()
            or None
        )
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "machine": {
            "platform": platform.platform(),
            "cpu": cpu_model or platform.processor(),
            "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "python": sys.version,
        "python_version": platform.python_version(),  # servers, floors and generator all run on it
        "libraries": versions,
        "git_commit": commit,
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _flags(row: dict[str, Any]) -> str:
    flags = []
    if row["generator_saturated"]:
        flags.append("GEN-BOUND")
    if row["noisy"]:
        flags.append("noisy")
    if (row.get("others_on_server_cpus") or 0) > CONTENDED:
        flags.append(f"contended {row['others_on_server_cpus'] * 100:.0f}%")
    if row["errors"]:
        flags.append(f"{row['errors']} errors")
    return ", ".join(flags)


COLUMNS = (
    ("style / floor", "name"),
    ("mix", "mix"),
    ("ops/s (median)", "ops"),
    ("min–max", "spread"),
    ("× floor", "ratio"),
    ("p50 ms", "p50"),
    ("p90 ms", "p90"),
    ("p99 ms", "p99"),
    ("max ms", "max"),
    ("CPU ms/op", "cpu"),
    ("RSS MB", "rss"),
    ("B/op →", "up"),
    ("B/op ←", "down"),
    ("gen CPU", "gen"),
    ("flags", "flags"),
)


def table_cells(row: dict[str, Any]) -> dict[str, str]:
    name = row["name"] if row["kind"] == "style" else f"floor: {row['name']}"
    ratio = f"{row['ratio_to_floor']:.2f} ({row['floor']})" if row["ratio_to_floor"] is not None else "–"
    return {
        "name": name,
        "mix": row["mix"],
        "ops": _fmt(row["ops_per_s"]),
        "spread": f"{_fmt(row['ops_per_s_min'])}–{_fmt(row['ops_per_s_max'])}",
        "ratio": ratio,
        "p50": _fmt(row["p50_ms"], 2),
        "p90": _fmt(row["p90_ms"], 2),
        "p99": _fmt(row["p99_ms"], 2),
        "max": _fmt(row["max_ms"], 1),
        "cpu": _fmt(row["server_cpu_ms_per_op"], 3),
        "rss": _fmt(row["server_peak_rss_mb"], 0),
        "up": _fmt(row["bytes_to_server_per_op"]),
        "down": _fmt(row["bytes_to_client_per_op"]),
        "gen": f"{row['generator_cpu_share'] * 100:.0f}%",
        "flags": _flags(row),
    }


def target_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for t in targets(rows):
        if t["ratio"] is None:
            lines.append(f"target {t['style']} get >= {t['target']:g}x {t['floor']}: floor not measured")
            continue
        verdict = "met" if t["met"] else "NOT met"
        caveat = "" if t["trustworthy"] else " (figure flagged: see flags)"
        lines.append(
            f"target {t['style']} get >= {t['target']:g}x {t['floor']}: {t['ratio']:.2f}x, {verdict}{caveat}"
        )
    return lines


def notes(outcome: Outcome) -> list[str]:
    s = outcome.settings
    lines = [
        f"Python {platform.python_version()} ({platform.python_implementation()}) for every server, floor "
        "and load generator",
        f"placement: {outcome.placement.note}",
        f"{s.connections} connections, warm-up {s.warmup:g} s, {s.duration:g} s measured, "
        f"{s.rounds} round(s) (styles and floors interleaved per round); figures are medians over rounds",
        "load: the project's asyncio generator (raw HTTP/1.1 and WebSocket sockets replaying the captured "
        "client requests; grpc.aio generic calls), gRPC get/list by h2load when installed "
        "(--grpc-generator); each in its own process",
        "an operation is one request/response; the write mix is create then cancel (two operations)",
        "GEN-BOUND: the load generator used >= 90 % of its CPU(s): that figure is the generator's limit, "
        "not the server's",
        f"noisy: (max - min) / median > {s.noisy_spread:.0%} over the rounds",
        f"contended N%: other processes used N % of the server's CPU during a window (> {CONTENDED:.0%}): "
        "the server did not have its core to itself",
        "bytes per operation measured on the connection through a counting relay (headers and framing "
        "included; connection setup excluded)",
        "servers: rosetta serve --db memory:// (access log off, WebSocket rate limit off); "
        "floors serve one fixed reservation (getReservation only), × floor compares with the floor's get",
    ]
    verification = outcome.verification
    if verification:
        same = "yes" if verification.get("same_result") else f"NO: {verification.get('mismatches')}"
        lines.append(f"every style returned the same normalized get and list (via its client): {same}")
        if verification.get("replay_errors"):
            lines.append(f"replayed requests failed: {verification['replay_errors']}")
    lines.extend(target_lines(summarize(outcome)))
    for what, why in outcome.skipped.items():
        lines.append(f"skipped {what}: {why}")
    return lines


def print_table(outcome: Outcome, rows: list[dict[str, Any]], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=200)
    table = Table(title="rosetta bench", show_lines=False)
    for header, _ in COLUMNS:
        table.add_column(
            header, justify="left" if header in ("style / floor", "mix", "flags", "× floor") else "right"
        )
    for row in rows:
        cells = table_cells(row)
        style = "dim" if row["kind"] == "floor" else None
        table.add_row(*(cells[key] for _, key in COLUMNS), style=style)
    console.print(table)
    for line in notes(outcome):
        console.print(f"  {line}")


def markdown(outcome: Outcome, rows: list[dict[str, Any]]) -> str:
    lines = ["# rosetta bench", ""]
    lines.append("| " + " | ".join(header for header, _ in COLUMNS) + " |")
    lines.append(
        "|"
        + "|".join("---" if key in ("name", "mix", "flags", "ratio") else "---:" for _, key in COLUMNS)
        + "|"
    )
    for row in rows:
        cells = table_cells(row)
        lines.append("| " + " | ".join(cells[key] for _, key in COLUMNS) + " |")
    lines.append("")
    lines.extend(f"- {line}" for line in notes(outcome))
    lines.append("")
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [
        f"{r['name']}\n{r['mix']}" if r["kind"] == "style" else f"[{r['name']}]\n{r['mix']}" for r in rows
    ]
    colors = ["tab:blue" if r["kind"] == "style" else "tab:gray" for r in rows]
    figure, axes = plt.subplots(4, 1, figsize=(max(8, len(rows) * 0.75), 14), constrained_layout=True)
    panels = (
        ("throughput (ops/s, median; error bar: min–max)", "ops_per_s"),
        ("p99 latency (ms)", "p99_ms"),
        ("server CPU per operation (ms)", "server_cpu_ms_per_op"),
        ("bytes per operation (to server + to client)", None),
    )
    positions = list(range(len(rows)))
    for axis, (title, key) in zip(axes, panels, strict=True):
        if key is None:
            up = [r["bytes_to_server_per_op"] or 0 for r in rows]
            down = [r["bytes_to_client_per_op"] or 0 for r in rows]
            axis.bar(positions, up, color="tab:orange", label="to server")
            axis.bar(positions, down, bottom=up, color="tab:green", label="to client")
            axis.legend(loc="upper right")
        else:
            values = [r[key] or 0 for r in rows]
            errors = None
            if key == "ops_per_s":
                errors = [
                    [r["ops_per_s"] - r["ops_per_s_min"] for r in rows],
                    [r["ops_per_s_max"] - r["ops_per_s"] for r in rows],
                ]
            axis.bar(positions, values, color=colors, yerr=errors, capsize=2)
        axis.set_title(title)
        axis.set_xticks(positions)
        axis.set_xticklabels(labels, fontsize=7)
        axis.grid(axis="y", alpha=0.3)
    figure.suptitle("rosetta bench (gray: floors)")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_all(outcome: Outcome, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = summarize(outcome)
    paths = {
        "json": out_dir / "bench.json",
        "markdown": out_dir / "bench.md",
        "chart": out_dir / "bench.png",
    }
    document = {
        "environment": environment(),
        **outcome.to_json(),
        "summary": rows,
        "targets": targets(rows),
        "notes": notes(outcome),
    }
    paths["json"].write_text(json.dumps(document, indent=2, default=str))
    paths["markdown"].write_text(markdown(outcome, rows))
    chart(rows, paths["chart"])
    return paths
