"""``rosetta bench``: the same operation mix through every style, beside each protocol's bare floor.

``rosetta bench compare A.json B.json``: what changed between two runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

from bench import auth as bench_auth
from bench.runner import Settings, execute, plan_steps
from bench.scenarios import NOT_BUILT, SCENARIOS
from bench.workload import MIXES, STYLES


@dataclass(frozen=True)
class Preset:
    """What a run measures when no option says otherwise."""

    duration: float
    warmup: float
    rounds: int
    mixes: str
    wire_ops: int
    iterations: int


QUICK = Preset(duration=1.5, warmup=0.5, rounds=1, mixes="get,list,write", wire_ops=20, iterations=10)
DEFAULTS = Preset(duration=3.0, warmup=1.0, rounds=3, mixes=",".join(MIXES), wire_ops=40, iterations=50)
QUICK_SWEEP = dataclasses.replace(QUICK, duration=1.0, warmup=0.3)


def _names(value: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    names = [part.strip() for part in value.split(",") if part.strip()]
    if names == ["all"]:
        return list(allowed)
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rosetta bench", description=__doc__)
    p.add_argument(
        "--quick", action="store_true", help="one round of get, list and write, 1.5 s per run (about 2 min)"
    )
    p.add_argument(
        "--styles", default="all", help=f"comma-separated subset of {','.join(STYLES)} (default all)"
    )
    p.add_argument("--mixes", help=f"comma-separated subset of {','.join(MIXES)} (default all; quick: get)")
    p.add_argument("--duration", type=float, help="measured seconds per run (default 3; quick 2)")
    p.add_argument(
        "--warmup", type=float, help="warm-up seconds before each measured window (default 1; quick 0.7)"
    )
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    p.add_argument("--rounds", type=int, help="rounds, styles interleaved in each (default 3; quick 1)")
    p.add_argument("--no-floors", action="store_true", help="skip the bare-library floors")
    p.add_argument(
        "--generator-processes", type=int, default=0, help="load processes (default: one per load CPU)"
    )
    p.add_argument("--wire-ops", type=int, help="operations in the bytes-on-the-wire pass")
    p.add_argument(
        "--output", "-o", default="bench-results", help="output directory (default ./bench-results)"
    )
    p.add_argument("--target-http", help="drive an existing deployment: http://host:port (no server started)")
    p.add_argument("--target-grpc", help="gRPC address of that deployment: host:port")
    p.add_argument(
        "--grpc-generator",
        choices=("auto", "asyncio", "h2load"),
        default="auto",
        help="gRPC get/list load: h2load when installed (auto), or the asyncio generator",
    )
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.add_argument(
        "--auth",
        choices=bench_auth.MODES,
        default=bench_auth.DEFAULT,
        help="servers' authentication and what the clients send: off, apikey (the demo client's key; "
        "default) or jwt (its access token); see bench/auth.py",
    )
    load = p.add_argument_group("open loop (latency at a fixed arrival rate; coordinated omission corrected)")
    load.add_argument(
        "--rate", type=float, help="offer this many operations/s to every style and floor (open loop)"
    )
    load.add_argument(
        "--rate-sweep",
        nargs="?",
        const="auto",
        metavar="R1,R2,…",
        help="each style from a low rate to past saturation (auto: 100/s ×1.5 per step), first mix only",
    )
    load.add_argument(
        "--slo", default="50ms", help="p99 target for the sweep's verdict, e.g. 50ms or 0.2s (default 50ms)"
    )
    load.add_argument(
        "--drain", type=float, default=2.0, help="seconds a late answer may still arrive (default 2)"
    )
    more = p.add_argument_group("scenarios and topology")
    more.add_argument(
        "--scenario",
        help="comma-separated scenarios instead of the mixes: " + ", ".join(SCENARIOS) + " (or all)",
    )
    more.add_argument("--iterations", type=int, help="repetitions per scenario step (default 50; quick 10)")
    more.add_argument(
        "--topology",
        choices=("direct", "edge"),
        default="direct",
        help="edge: also through the compose topology's nginx, the extra hop's cost per style",
    )
    return p


def _scenarios(text: str | None) -> list[str]:
    if not text:
        return []
    for name in text.split(","):
        if name.strip() in NOT_BUILT:
            raise argparse.ArgumentTypeError(f"scenario {name.strip()}: {NOT_BUILT[name.strip()]}")
    return _names(text, list(SCENARIOS), "scenario")


def duration_ms(text: str) -> float:
    """``50ms``, ``0.2s`` or a bare number of milliseconds."""
    value = text.strip().lower()
    try:
        if value.endswith("ms"):
            return float(value[:-2])
        if value.endswith("s"):
            return float(value[:-1]) * 1000
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 50ms or 0.2s)") from None


def rates(text: str) -> list[float]:
    if text == "auto":
        return []
    try:
        found = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of rates: {text!r} (try 100,200,400)") from None
    if not found or any(rate <= 0 for rate in found):
        raise argparse.ArgumentTypeError(f"rates must be positive: {text!r}")
    return found


def settings_from(args: argparse.Namespace) -> Settings:
    sweeping = args.rate_sweep is not None
    base = (QUICK_SWEEP if sweeping else QUICK) if args.quick else DEFAULTS
    if args.rate is not None and args.rate <= 0:
        raise argparse.ArgumentTypeError("--rate must be positive")
    if sweeping and args.rate is not None:
        raise argparse.ArgumentTypeError("--rate and --rate-sweep exclude each other")
    styles = _names(args.styles, STYLES, "style")
    if args.target_http or args.target_grpc:
        from bench import capture

        capture.SEED_YEAR = random.randrange(2100, 2900)  # an existing deployment keeps earlier seeds
        if not args.target_grpc:
            styles = [s for s in styles if s != "grpc"]
        if not args.target_http:
            styles = [s for s in styles if s == "grpc"]
    return Settings(
        styles=styles,
        mixes=_names(args.mixes or base.mixes, list(MIXES), "mix"),
        duration=args.duration if args.duration is not None else base.duration,
        warmup=args.warmup if args.warmup is not None else base.warmup,
        connections=args.connections,
        rounds=args.rounds if args.rounds is not None else base.rounds,
        floors=not args.no_floors and not (args.target_http or args.target_grpc),
        wire_ops=args.wire_ops if args.wire_ops is not None else base.wire_ops,
        generator_processes=args.generator_processes,
        target_http=args.target_http,
        target_grpc=args.target_grpc,
        grpc_generator=args.grpc_generator,
        rate=args.rate,
        rate_sweep=rates(args.rate_sweep) if sweeping else None,
        slo_ms=duration_ms(args.slo),
        drain=args.drain,
        scenarios=_scenarios(args.scenario),
        scenario_iterations=args.iterations if args.iterations is not None else base.iterations,
        topology=args.topology,
        auth=args.auth,
        server_env=bench_auth.server_env(args.auth),
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["compare"]:
        from bench.compare import main as compare_main

        return compare_main(argv[1:])
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from bench.report import print_table, write_all

    p = parser()
    args = p.parse_args(argv)
    try:
        settings = settings_from(args)
    except argparse.ArgumentTypeError as error:
        p.error(str(error))
    console = Console(width=None if Console().is_terminal else 200)
    total = plan_steps(settings)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs"),
        TimeElapsedColumn(),
        console=console,
        disable=args.no_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=total)

        def report(what: str, done: float) -> None:
            progress.update(task, description=what, completed=done)

        outcome = execute(settings, report)
    paths = write_all(outcome, Path(args.output))
    from bench.runner import summarize

    print_table(outcome, summarize(outcome), console)
    console.print(f"  written: {', '.join(str(path) for path in paths.values())}")
    scenarios = outcome.scenarios
    measured = (
        outcome.measurements
        or any(outcome.sweep.values())
        or scenarios.get("results")
        or scenarios.get("fan_out")
    )
    return 0 if measured else 1
