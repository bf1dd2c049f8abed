"""``rosetta bench compare A.json B.json``: what changed between two runs, and whether beyond the noise.

A row's noise in one run is its spread over the rounds, (max - min) / median (unknown with one
round: then ``--noise``, 10 % by default, stands in). A change counts as a regression (or an
improvement) only when it exceeds the larger noise of the two runs and 5 %; the ratio to the floor
is judged the same way, with the floor's noise added (it cancels most of a machine's speed, so it
is the fairer figure between machines). A row flagged in either run (contended, noisy,
generator-bound) is shown but not judged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

MIN_CHANGE = 0.05


def load(path: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"rosetta bench compare: cannot read {path}: {error}") from None
    if not isinstance(document, dict) or "summary" not in document:
        raise SystemExit(f"rosetta bench compare: {path} is not a bench.json written by rosetta bench")
    return document


def spread(row: dict[str, Any], default: float) -> float:
    if row.get("rounds", 1) < 2 or not row.get("ops_per_s"):
        return default
    return float((row["ops_per_s_max"] - row["ops_per_s_min"]) / row["ops_per_s"])


def flagged(row: dict[str, Any]) -> bool:
    return bool(
        row.get("contended") or row.get("noisy") or row.get("generator_saturated") or row.get("errors")
    )


def verdict(change: float, noise: float, judged: bool) -> str:
    if not judged:
        return "not judged (flagged)"
    limit = max(noise, MIN_CHANGE)
    if change < -limit:
        return "REGRESSION"
    if change > limit:
        return "improved"
    return "within noise"


def compare(a: dict[str, Any], b: dict[str, Any], default_noise: float) -> list[dict[str, Any]]:
    rows_a = {(r["name"], r["mix"]): r for r in a["summary"]}
    rows_b = {(r["name"], r["mix"]): r for r in b["summary"]}
    found = []
    for key in [k for k in rows_a if k in rows_b]:
        ra, rb = rows_a[key], rows_b[key]
        noise = max(spread(ra, default_noise), spread(rb, default_noise))
        judged = not (flagged(ra) or flagged(rb))
        change = rb["ops_per_s"] / ra["ops_per_s"] - 1 if ra["ops_per_s"] else 0.0
        entry: dict[str, Any] = {
            "name": key[0],
            "mix": key[1],
            "ops_a": ra["ops_per_s"],
            "ops_b": rb["ops_per_s"],
            "ops_change": change,
            "noise": noise,
            "ops_verdict": verdict(change, noise, judged),
            "ratio_a": ra.get("ratio_to_floor"),
            "ratio_b": rb.get("ratio_to_floor"),
            "ratio_verdict": None,
        }
        if entry["ratio_a"] and entry["ratio_b"] and ra.get("floor") == rb.get("floor"):
            floor_a = rows_a.get((ra["floor"], ra.get("floor_mix") or "get"))
            floor_b = rows_b.get((rb["floor"], rb.get("floor_mix") or "get"))
            floor_noise = max(
                spread(floor_a, default_noise) if floor_a else default_noise,
                spread(floor_b, default_noise) if floor_b else default_noise,
            )
            floor_flagged = any(flagged(f) for f in (floor_a, floor_b) if f)
            ratio_change = entry["ratio_b"] / entry["ratio_a"] - 1
            entry["ratio_change"] = ratio_change
            entry["ratio_verdict"] = verdict(ratio_change, noise + floor_noise, judged and not floor_flagged)
        found.append(entry)
    return found


def slo_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    lines = []
    for style, va in (a.get("slo") or {}).items():
        vb = (b.get("slo") or {}).get(style)
        if vb is None:
            continue
        ra, rb = va.get("max_rate"), vb.get("max_rate")
        lines.append(
            f"{style}: highest rate with p99 < {vb.get('slo_ms'):g} ms: {ra or 'none'} -> {rb or 'none'}"
        )
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rosetta bench compare", description=__doc__)
    parser.add_argument("a", help="the earlier bench.json")
    parser.add_argument("b", help="the later bench.json")
    parser.add_argument(
        "--noise", type=float, default=0.10, help="noise assumed for one-round rows (default 0.10)"
    )
    args = parser.parse_args(argv)
    a, b = load(args.a), load(args.b)
    rows = compare(a, b, args.noise)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 160)
    table = Table(title=f"rosetta bench compare: {args.a} -> {args.b}")
    headers = ("style / floor", "mix", "ops/s A", "ops/s B", "change", "noise", "verdict", "× floor A → B")
    for header in (*headers, "× floor verdict"):
        table.add_column(header, justify="right" if header.startswith(("ops", "change", "noise")) else "left")
    regressions = 0
    for r in rows:
        regressions += "REGRESSION" in (r["ops_verdict"], r["ratio_verdict"])
        ratio = f"{r['ratio_a']:.2f} → {r['ratio_b']:.2f}" if r["ratio_a"] and r["ratio_b"] else "–"
        table.add_row(
            r["name"],
            r["mix"],
            f"{r['ops_a']:,.0f}",
            f"{r['ops_b']:,.0f}",
            f"{r['ops_change']:+.0%}",
            f"±{r['noise']:.0%}",
            r["ops_verdict"],
            ratio,
            r["ratio_verdict"] or "–",
        )
    console.print(table)
    for line in slo_changes(a, b):
        console.print(f"  {line}")
    only_a = {(r["name"], r["mix"]) for r in a["summary"]} - {(r["name"], r["mix"]) for r in b["summary"]}
    if only_a:
        console.print(f"  only in A: {', '.join(f'{n}/{m}' for n, m in sorted(only_a))}")
    console.print(
        f"  {regressions} regression(s) beyond the noise of both runs"
        + ("" if regressions else " (exit status 0)")
    )
    return 1 if regressions else 0
