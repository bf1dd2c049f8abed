"""``rosetta bench``: the same operation mix through every style, beside each protocol's bare floor."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from bench.runner import Settings, execute, plan_steps
from bench.workload import MIXES, STYLES

QUICK = {"duration": 2.0, "warmup": 0.7, "rounds": 1, "mixes": "get", "wire_ops": 20}
DEFAULTS = {"duration": 3.0, "warmup": 1.0, "rounds": 3, "mixes": ",".join(MIXES), "wire_ops": 40}


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
    p.add_argument("--quick", action="store_true", help="one round, get only, 2 s per run (under 90 s)")
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
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else DEFAULTS
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
        mixes=_names(args.mixes or base["mixes"], list(MIXES), "mix"),
        duration=args.duration if args.duration is not None else base["duration"],
        warmup=args.warmup if args.warmup is not None else base["warmup"],
        connections=args.connections,
        rounds=args.rounds if args.rounds is not None else base["rounds"],
        floors=not args.no_floors and not (args.target_http or args.target_grpc),
        wire_ops=args.wire_ops if args.wire_ops is not None else base["wire_ops"],
        generator_processes=args.generator_processes,
        target_http=args.target_http,
        target_grpc=args.target_grpc,
        grpc_generator=args.grpc_generator,
    )


def main(argv: list[str]) -> int:
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
    if "chart" not in paths:
        from bench.report import CHART_HINT

        console.print(f"  {CHART_HINT}")
    return 0 if outcome.measurements else 1
