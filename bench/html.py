"""``bench.html``: one self-contained page (inline SVG charts, no script, no network) people open.

The charts are drawn here as SVG (a few dozen lines, no plotting library needed), so the report
works where matplotlib is not installed.

Size: ``render`` is over 80 lines: the report page is one template filled in order.
"""

from __future__ import annotations

import datetime
import html
import math
from typing import Any

COLORS = {
    "rest": "#1f77b4",
    "graphql": "#e377c2",
    "grpc": "#2ca02c",
    "soap": "#ff7f0e",
    "websocket": "#9467bd",
}
STYLE_ORDER = ("rest", "graphql", "grpc", "soap", "websocket")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _log_ticks(low: float, high: float) -> list[float]:
    ticks = []
    exponent = math.floor(math.log10(max(low, 1e-9)))
    while 10**exponent <= high * 1.0001:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if low <= value <= high:
                ticks.append(value)
        exponent += 1
    return ticks


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def throughput_svg(rows: list[dict[str, Any]]) -> str:
    """Styles side by side per mix, as bars; each style's floor for the same mix as a black marker."""
    styles = [r for r in rows if r["kind"] in ("style", "edge")]
    if not styles:
        return ""
    floors = {(r["name"], r["mix"]): r for r in rows if r["kind"] == "floor"}
    values = [r["ops_per_s"] for r in styles if r["ops_per_s"]]
    values += [r["ops_per_s"] for r in floors.values() if r["ops_per_s"]]
    low, high = min(values) / 1.5, max(values) * 1.5
    width, left, bar, gap = 760, 170, 16, 6
    height = 40 + len(styles) * (bar + gap) + 30

    def x(value: float) -> float:
        return left + (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low)) * (
            width - left - 20
        )

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']
    for tick in _log_ticks(low, high):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="25" x2="{x(tick):.1f}" y2="{height - 25}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 10}" text-anchor="middle">{_fmt(tick)}</text>')
    parts.append(
        f'<text x="{left}" y="14">operations/s (log scale, median of rounds) — ◆ the style\'s floor</text>'
    )
    y = 30
    for row in styles:
        color = COLORS.get(row["name"], "#777")
        flagged = row.get("contended") or row.get("noisy") or row.get("generator_saturated")
        label = f"{row['name']} {row['mix']}" + (" ⚑" if flagged else "")
        parts.append(f'<text x="{left - 6}" y="{y + bar - 4}" text-anchor="end">{_e(label)}</text>')
        if row["ops_per_s"]:
            opacity = "0.45" if flagged else "0.9"
            parts.append(
                f'<rect x="{left}" y="{y}" width="{max(1.0, x(row["ops_per_s"]) - left):.1f}" height="{bar}" '
                f'fill="{color}" fill-opacity="{opacity}"><title>{row["ops_per_s"]:,.0f} ops/s</title></rect>'
            )
            parts.append(
                f'<text x="{x(row["ops_per_s"]) + 4:.1f}" y="{y + bar - 4}">{row["ops_per_s"]:,.0f}</text>'
            )
        floor = floors.get((row["floor"], row["floor_mix"])) if row.get("floor") else None
        if floor and floor["ops_per_s"]:
            fx, mid = x(floor["ops_per_s"]), y + bar / 2
            parts.append(
                f'<path d="M{fx:.1f},{mid - 7} l6,7 l-6,7 l-6,-7 z" fill="#111">'
                f"<title>floor {_e(floor['name'])} {_e(floor['mix'])}: {floor['ops_per_s']:,.0f} ops/s"
                "</title></path>"
            )
        y += bar + gap
    parts.append("</svg>")
    return "".join(parts)


def sweep_svg(sweep: dict[str, list[dict[str, Any]]], slo_ms: float) -> str:
    """Latency against achieved throughput, one colour per style: p50 dotted, p99 solid, p99.9 dashed."""
    points = [p for curve in sweep.values() for p in curve if p["ops_per_s"] > 0]
    if not points:
        return ""
    width, height, left, bottom, top = 760, 420, 60, 40, 30
    xs = [p["ops_per_s"] for p in points]
    ys = [max(0.05, p["latency_ms"][k]) for p in points for k in ("p50", "p99", "p99.9")] + [slo_ms]
    x_low, x_high = min(xs) / 1.3, max(xs) * 1.3
    y_low, y_high = min(ys) / 1.5, max(ys) * 1.5

    def scale(value: float, low: float, high: float, size: float) -> float:
        return (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low)) * size

    def px(value: float) -> float:
        return left + scale(value, x_low, x_high, width - left - 20)

    def py(value: float) -> float:
        return height - bottom - scale(max(value, 0.05), y_low, y_high, height - bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']
    for tick in _log_ticks(x_low, x_high):
        parts.append(
            f'<line x1="{px(tick):.1f}" y1="{top}" x2="{px(tick):.1f}" y2="{height - bottom}" stroke="#eee"/>'
        )
        parts.append(
            f'<text x="{px(tick):.1f}" y="{height - bottom + 14}" text-anchor="middle">{_fmt(tick)}</text>'
        )
    for tick in _log_ticks(y_low, y_high):
        parts.append(
            f'<line x1="{left}" y1="{py(tick):.1f}" x2="{width - 20}" y2="{py(tick):.1f}" stroke="#eee"/>'
        )
        parts.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    parts.append(
        f'<line x1="{left}" y1="{py(slo_ms):.1f}" x2="{width - 20}" y2="{py(slo_ms):.1f}" stroke="#c00" '
        f'stroke-dasharray="2,2"/><text x="{width - 22}" y="{py(slo_ms) - 4:.1f}" text-anchor="end" '
        f'fill="#c00">SLO p99 {slo_ms:g} ms</text>'
    )
    parts.append(
        f'<text x="{(left + width) / 2}" y="{height - 8}" text-anchor="middle">completed operations/s '
        "(log)</text>"
    )
    parts.append(f'<text x="12" y="{top - 10}">latency ms (log), from the intended send time</text>')
    dashes = {"p50": "1,3", "p99": "", "p99.9": "6,3"}
    legend_y = top + 6
    for style in [s for s in STYLE_ORDER if s in sweep] + [s for s in sweep if s not in STYLE_ORDER]:
        curve = [p for p in sweep[style] if p["ops_per_s"] > 0]
        color = COLORS.get(style, "#777")
        for key, dash in dashes.items():
            path = " ".join(f"{px(p['ops_per_s']):.1f},{py(p['latency_ms'][key]):.1f}" for p in curve)
            if path:
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6" '
                    f'stroke-dasharray="{dash}"/>'
                )
        for p in curve:
            flagged = (p.get("contention") or {}).get("contended") or p.get("generator_saturated")
            fill = "white" if flagged else color
            parts.append(
                f'<circle cx="{px(p["ops_per_s"]):.1f}" cy="{py(p["latency_ms"]["p99"]):.1f}" r="3" '
                f'fill="{fill}" stroke="{color}"><title>{_e(style)} offered {p["intended_rate"]:g}/s: '
                f"{p['ops_per_s']:,.0f}/s done, p99 {p['latency_ms']['p99']:.1f} ms"
                f"{' (flagged)' if flagged else ''}</title></circle>"
            )
        parts.append(
            f'<rect x="{width - 150}" y="{legend_y}" width="10" height="10" fill="{color}"/>'
            f'<text x="{width - 135}" y="{legend_y + 9}">{_e(style)}</text>'
        )
        legend_y += 14
    parts.append(
        f'<text x="{width - 150}" y="{legend_y + 12}">··· p50  — p99  - - p99.9</text>'
        f'<text x="{width - 150}" y="{legend_y + 26}">○ flagged point</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:right}td:first-child,th:first-child,td:nth-child(2){text-align:left}caption{text-align:left}
.note{color:#555;font-size:13px}figure{margin:1em 0}figcaption{font-size:12px;color:#555}
"""


def render(document: dict[str, Any], markdown_rows: tuple[list[str], list[list[str]]]) -> str:  # pylint: disable=function-too-long
    """The whole page from the JSON document the run wrote (so ``compare`` and this agree)."""
    env = document.get("environment", {})
    machine = env.get("machine", {})
    settings = document.get("settings", {})
    started = datetime.datetime.fromtimestamp(document.get("started", 0), datetime.UTC)
    caption = (
        f"{machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs, {machine.get('platform', '')}; "
        f"Python {env.get('python', '').split()[0] if env.get('python') else '?'}; "
        f"{started:%Y-%m-%d %H:%M} UTC; commit {str(env.get('git_commit') or '?')[:10]}; "
        f"{settings.get('connections')} connections, {settings.get('duration')} s × {settings.get('rounds')} "
        f"round(s); {document.get('placement', {}).get('note', '')}"
    )
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>rosetta bench</title>",
        f"<style>{CSS}</style></head><body><h1>rosetta bench</h1>",
        f"<p class=note>{_e(caption)}</p>",
    ]
    summary = document.get("summary", [])
    if summary:
        out.append("<h2>Throughput per style, beside its floor</h2>")
        out.append(f"<figure>{throughput_svg(summary)}<figcaption>{_e(caption)}. Bars: styles; ◆: the bare "
                   "library the style is built on, serving the same mix (fixed answers). ⚑ / faded bar: a "
                   "flagged figure (contended, noisy or generator-bound) — shown, never used for a verdict."
                   "</figcaption></figure>")  # fmt: skip
        headers, rows = markdown_rows
        out.append(_table(headers, rows))
    if document.get("sweep"):
        slo = settings.get("slo_ms", 50)
        out.append("<h2>Latency under a fixed arrival rate (open loop)</h2>")
        out.append(f"<figure>{sweep_svg(document['sweep'], slo)}<figcaption>{_e(caption)}. Each point is "
                   "one window at a fixed offered rate; latency counts from when each request should have "
                   "been sent, so queueing behind a slow answer shows (no coordinated omission). A curve "
                   "turning up is the style's saturation.</figcaption></figure>")  # fmt: skip
        rows = []
        for style, verdict in document.get("slo", {}).items():
            rate = verdict.get("max_rate")
            rows.append(
                [
                    style,
                    f"{rate:,.0f}" if rate else "none",
                    "yes" if verdict.get("never_saturated") else "",
                    f"{verdict.get('saturated_at') or '–'}",
                    f"{verdict.get('clean_points')}/{verdict.get('points')}",
                ]
            )
        out.append(
            _table(
                [
                    "style",
                    f"highest rate, p99 < {slo:g} ms",
                    "never saturated",
                    "saturated at",
                    "clean points",
                ],
                rows,
            )
        )
    scenarios = document.get("scenarios") or {}
    if scenarios.get("fan_out"):
        from bench.report import FAN_OUT_HEADERS, fan_out_rows

        out.append("<h2>Fan-out: one event, many subscribers</h2>")
        out.append(_table(FAN_OUT_HEADERS, fan_out_rows(scenarios["fan_out"])))
    if scenarios.get("results"):
        out.append("<h2>Scenarios</h2><ul class=note>")
        for name, text in scenarios.get("described", {}).items():
            out.append(f"<li><b>{_e(name)}</b>: {_e(text)}</li>")
        same = "yes" if scenarios.get("same_result") else f"NO: {scenarios.get('mismatches')}"
        out.append(f"<li>every style returned the same data before measuring: {_e(same)}</li></ul>")
        rows = []
        for r in scenarios["results"]:
            per_item = r["bytes_to_client"] / r["items"] if r.get("items") else None
            rows.append(
                [
                    r["style"],
                    r["step"],
                    str(r["round_trips"]),
                    f"{r['bytes_to_server']:,.0f}",
                    f"{r['bytes_to_client']:,.0f}",
                    f"{per_item:,.0f}" if per_item else "–",
                    f"{r['server_cpu_ms']:.3f}" if r.get("server_cpu_ms") is not None else "–",
                    f"{r['latency_ms']['p50']:.2f}",
                    f"{r['latency_ms']['p99']:.2f}",
                    "; ".join((r.get("contention") or {}).get("reasons", [])) or r.get("note", ""),
                ]
            )
        out.append(
            _table(
                ["style", "step", "round trips", "B →", "B ←", "B ← / item", "server CPU ms", "p50 ms",
                 "p99 ms", "flags / notes"],
                rows,
            )
        )  # fmt: skip
    out.append("<h2>How to read this</h2><ul class=note>")
    for line in document.get("notes", []):
        out.append(f"<li>{_e(line)}</li>")
    out.append("</ul></body></html>")
    return "\n".join(out)
