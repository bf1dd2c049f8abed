"""The benchmark's outputs: a terminal table (rich), JSON with every raw figure, Markdown and a chart."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.runner import Outcome, row_flags, slo_verdicts, summarize, targets

LIBRARIES = (
    "uvicorn", "uvloop", "httptools", "fastapi", "starlette", "strawberry-graphql", "graphql-core", "spyne",
    "a2wsgi", "lxml", "grpcio", "protobuf", "websockets", "httpx", "zeep",
)  # fmt: skip


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
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
    own = {key: value for key, value in row.items() if key != "floor_flags"}
    notes = row_flags(own)
    dropped = row.get("rounds", 0) - row.get("rounds_used", row.get("rounds", 0))
    if dropped and not row.get("contended"):  # a note, not a flag: the row still decides its verdicts
        reasons = "; ".join(row.get("contention_reasons") or [])
        notes.append(f"{dropped} contended round(s) left out: {reasons}")
    return ", ".join(notes)


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
    name = f"floor: {row['name']}" if row["kind"] == "floor" else row["name"]
    ratio = "–"
    if row["ratio_to_floor"] is not None:
        # The floor is named once per style (its get row); a list row compared with the floor's get says so.
        same = row["floor_mix"] == row["mix"]
        ratio = f"{row['ratio_to_floor']:.2f}" + ("" if same else f" (vs {row['floor_mix']})")
        if row["mix"] == "get":
            ratio += f" ({row['floor']})"
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
        what = f"target {t['style']} {t['mix']} >= {t['target']:g}x {t['floor']} {t['mix']}"
        extra = t["cpu_over_floor_us"]
        cost = "" if extra is None else f"; {extra:+.0f} µs of server CPU per operation against the floor"
        if t["ratio"] is None:
            lines.append(f"{what}: no like-for-like floor figure (floor not measured for this mix)")
        elif not t["trustworthy"]:
            lines.append(
                f"{what}: {t['ratio']:.2f}x, NO VERDICT (flagged: {'; '.join(t['flags'])}); re-run on a "
                f"quiet machine{cost}"
            )
        elif t["met"]:
            lines.append(f"{what}: {t['ratio']:.2f}x, met{cost}")
        else:
            lines.append(
                f"{what}: {t['ratio']:.2f}x, NOT met: the adapter and core cost more than the target allows "
                f"on top of bare {t['floor']} ({(1 - t['ratio']) * 100:.0f} % of the library's throughput "
                f"lost{cost})"
            )
    return lines


def slo_lines(outcome: Outcome) -> list[str]:
    lines = []
    for style, verdict in slo_verdicts(outcome).items():
        slo = f"p99 < {verdict['slo_ms']:g} ms"
        if verdict["max_rate"] is None:
            text = f"{style}: no clean rate kept {slo}"
        else:
            bound = "at least " if verdict["never_saturated"] else ""
            text = f"{style}: highest rate with {slo}: {bound}{verdict['max_rate']:,.0f} ops/s"
        text += f" ({verdict['clean_points']}/{verdict['points']} points unflagged"
        if verdict["saturated_at"]:
            text += f"; saturated at {verdict['saturated_at']:,.0f}/s"
        text += ")"
        if verdict["flagged_higher"]:
            text += f"; a flagged point at {verdict['flagged_higher']:,.0f}/s also kept it (not counted)"
        lines.append(text)
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
        "contended (…): the server's core was not the server's alone in that window: other processes "
        "used > 15 % of it, or the hypervisor stole > 5 %, or a fixed CPU probe pinned to it ran > 15 % "
        "slower than usual in this run (before and after the window, averaged); a row takes its figures from "
        "its clean rounds when they are the majority, and is flagged otherwise; flagged rows never decide a "
        "target",
        "bytes per operation measured on the connection through a counting relay (headers and framing "
        "included; connection setup excluded)",
        "servers: rosetta serve --db memory:// (access log off, WebSocket rate limit off); floors serve one "
        "fixed reservation and (fastapi, strawberry, spyne, grpc-aio, grpc-sync, websockets) one fixed page "
        "of 20; × floor: throughput / the style's one floor (named on its get row) for the same mix, "
        "'(vs get)' where that floor has no such mix",
    ]
    if s.topology == "edge":
        lines.append(
            "NAME+edge rows (--topology edge): the same server and mix through the compose edge's nginx "
            "(gateway/nginx/nginx.conf, one worker on the server's core, access log off); the × column "
            "compares with the style direct, CPU ms/op counts server and nginx"
        )
    verification = outcome.verification
    if verification:
        same = "yes" if verification.get("same_result") else f"NO: {verification.get('mismatches')}"
        lines.append(f"every style returned the same normalized get and list (via its client): {same}")
        if verification.get("replay_errors"):
            lines.append(f"replayed requests failed: {verification['replay_errors']}")
    if s.rate:
        lines.append(
            f"open loop at {s.rate:g} ops/s offered: latency from each operation's intended send time "
            "(queueing counted), percentiles from an HDR histogram; ops/s is what completed in the window"
        )
    if outcome.probe_usual_ms:
        lines.append(
            "CPU probe (a fixed loop in a process pinned to the server core): "
            f"{outcome.probe_usual_ms:.0f} ms usually this run (the median of its probes)"
        )
    if outcome.sweep:
        lines.append(
            f"open-loop sweep ({s.mixes[0]}): each point a {s.duration:g} s window at a fixed offered rate "
            "after "
            f"{s.warmup:g} s at that rate; latency from each operation's intended send time, HDR histogram "
            f"(hdrhistogram); past saturation the sweep stops; answers later than {s.drain:g} s after the "
            "window are 'unfinished' and recorded at that bound"
        )
    if outcome.scenarios.get("fan_out"):
        lines.append(
            "fan-out: one connection per subscriber through each style's client (webhooks: one subscription "
            "each to a local receiver); a writer creates the events one after another; lag from the create's "
            "answer to each subscriber's receipt (0 when the push overtook the answer); missing must be 0"
        )
    if outcome.scenarios.get("results"):
        lines.append(
            "scenarios: through each style's real client; bytes counted on the connection through a relay, "
            "latency (client wall time of the whole step, decoding included) and server CPU (the server "
            "process's own) on a direct connection; round trips are calls per step (contracts: room-page is "
            "one GraphQL document, getRoom + listReservations elsewhere; pageSize is at most 100, so a page "
            "of 500 takes 5 calls in every style)"
        )
    lines.extend(target_lines(summarize(outcome)))
    lines.extend(slo_lines(outcome))
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
    if not rows:
        lines.extend(sweep_markdown(outcome) + scenario_markdown(outcome))
        lines.append("")
        lines.extend(f"- {line}" for line in notes(outcome))
        return "\n".join(lines) + "\n"
    lines.append("| " + " | ".join(header for header, _ in COLUMNS) + " |")
    lines.append(
        "|"
        + "|".join("---" if key in ("name", "mix", "flags", "ratio") else "---:" for _, key in COLUMNS)
        + "|"
    )
    for row in rows:
        cells = table_cells(row)
        lines.append("| " + " | ".join(cells[key] for _, key in COLUMNS) + " |")
    lines.extend(sweep_markdown(outcome) + scenario_markdown(outcome))
    lines.append("")
    lines.extend(f"- {line}" for line in notes(outcome))
    lines.append("")
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    """bench.png (matplotlib, optional): styles side by side per mix, each floor as a marker."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.html import COLORS

    styles = [r for r in rows if r["kind"] == "style"]
    if not styles:
        return False
    floors = {(r["name"], r["mix"]): r for r in rows if r["kind"] == "floor"}
    figure, axis = plt.subplots(figsize=(9, 0.32 * len(styles) + 1.5), constrained_layout=True)
    positions = list(range(len(styles)))[::-1]
    axis.barh(
        positions,
        [r["ops_per_s"] for r in styles],
        color=[COLORS.get(r["name"], "gray") for r in styles],
        alpha=0.85,
    )
    marked = False
    for y, row in zip(positions, styles, strict=True):
        floor = floors.get((row["floor"], row["floor_mix"])) if row.get("floor") else None
        if floor:
            axis.plot(floor["ops_per_s"], y, "kD", markersize=6, label=None if marked else "floor (same mix)")
            marked = True
    axis.set_yticks(positions)
    axis.set_yticklabels([f"{r['name']} {r['mix']}" + (" (flagged)" if row_flags(r) else "") for r in styles])
    axis.set_xscale("log")
    axis.set_xlabel("operations/s (median of rounds, log scale)")
    axis.grid(axis="x", alpha=0.3)
    if marked:
        axis.legend(loc="lower right")
    env = environment()
    axis.set_title(
        f"rosetta bench — {env['machine']['cpu']}, {env['machine']['cpus']} CPUs — "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        fontsize=9,
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def sweep_markdown(outcome: Outcome) -> list[str]:
    if not outcome.sweep:
        return []
    lines = ["", "## Open loop: latency at fixed offered rates", ""]
    lines.append("| style | offered/s | done/s | p50 ms | p99 ms | p99.9 ms | unfinished | errors | flags |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for style, curve in outcome.sweep.items():
        for p in curve:
            latency = p["latency_ms"]
            flags = "; ".join((p.get("contention") or {}).get("reasons", []))
            lines.append(
                f"| {style} | {p['intended_rate']:,.0f} | {p['ops_per_s']:,.0f} | {latency['p50']:.2f} | "
                f"{latency['p99']:.2f} | {latency['p99.9']:.2f} | {p['unfinished']} | {p['errors']} | "
                f"{flags} |"
            )
    lines.append("")
    lines.extend(f"- {line}" for line in slo_lines(outcome))
    return lines


def fan_out_rows(found: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in found:
        cpu = r["server_cpu_ms_per_delivery"]
        rows.append(
            [
                r["push"],
                str(r["subscribers"]),
                str(r["events"]),
                f"{r['deliveries']:,}",
                str(r["missing"]),
                f"{r['delivered_per_s']:,.0f}",
                f"{r['lag_ms']['p50']:.1f}",
                f"{r['lag_ms']['p99']:.1f}",
                f"{cpu:.3f}" if cpu is not None else "–",
            ]
        )
    return rows


FAN_OUT_HEADERS = [
    "push", "subscribers", "events", "deliveries", "missing", "delivered/s", "lag p50 ms", "lag p99 ms",
    "server CPU ms / delivery",
]  # fmt: skip


def scenario_markdown(outcome: Outcome) -> list[str]:
    found = outcome.scenarios
    lines = []
    if found.get("fan_out"):
        lines += ["", "## Fan-out: events pushed to 1, 10 and 100 subscribers", ""]
        lines.append("| " + " | ".join(FAN_OUT_HEADERS) + " |")
        lines.append("|---|" + "---:|" * (len(FAN_OUT_HEADERS) - 1))
        lines.extend("| " + " | ".join(row) + " |" for row in fan_out_rows(found["fan_out"]))
    if not found.get("results"):
        return lines
    lines += ["", "## Scenarios", ""]
    lines.extend(f"- **{name}**: {text}" for name, text in found["described"].items())
    lines.append(f"- same data in every style before measuring: {'yes' if found['same_result'] else 'NO'}")
    lines.append("")
    lines.append(
        "| style | step | round trips | B → | B ← | B ← / item | server CPU ms | p50 ms | p99 ms | notes |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in found["results"]:
        per_item = f"{r['bytes_to_client'] / r['items']:,.0f}" if r["items"] else "–"
        cpu = f"{r['server_cpu_ms']:.3f}" if r["server_cpu_ms"] is not None else "–"
        notes_text = "; ".join((r.get("contention") or {}).get("reasons", [])) or r["note"]
        lines.append(
            f"| {r['style']} | {r['step']} | {r['round_trips']} | {r['bytes_to_server']:,.0f} | "
            f"{r['bytes_to_client']:,.0f} | {per_item} | {cpu} | {r['latency_ms']['p50']:.2f} | "
            f"{r['latency_ms']['p99']:.2f} | {notes_text} |"
        )
    return lines


def write_all(outcome: Outcome, out_dir: Path) -> dict[str, Path]:
    from bench.html import render

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = summarize(outcome)
    paths = {
        "json": out_dir / "bench.json",
        "markdown": out_dir / "bench.md",
        "html": out_dir / "bench.html",
    }
    if rows and importlib.util.find_spec("matplotlib") is None:
        outcome.skipped["bench.png"] = (
            "matplotlib is not installed (pip install 'rosetta[chart]'); bench.html has charts"
        )
    document = {
        "environment": environment(),
        **outcome.to_json(),
        "summary": rows,
        "targets": targets(rows),
        "notes": notes(outcome),
    }
    paths["json"].write_text(json.dumps(document, indent=2, default=str))
    paths["markdown"].write_text(markdown(outcome, rows))
    headers = [header for header, _ in COLUMNS]
    cells = [[table_cells(row)[key] for _, key in COLUMNS] for row in rows]
    paths["html"].write_text(render(json.loads(json.dumps(document, default=str)), (headers, cells)))
    if rows and chart(rows, out_dir / "bench.png"):
        paths["chart"] = out_dir / "bench.png"
    return paths
