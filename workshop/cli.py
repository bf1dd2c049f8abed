"""``rosetta workshop``: list the labs, start one, check the learner's work, serve a server for labs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workshop.checking import LabContext, Outcome, Report, run_checks
from workshop.labs import STATUS_FILE, Lab, all_labs, find_lab, status, working_folder
from workshop.server import RunningServer, lab_server


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rosetta workshop", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="the labs, how long each takes, and how far you got")
    start = sub.add_parser("start", help="copy a lab's starter into your working folder")
    start.add_argument("lab", help="number (1) or name (01-six-styles)")
    start.add_argument("--force", action="store_true", help="replace a working folder that exists")
    chk = sub.add_parser("check", help="run a lab's checker against your work and a real server")
    chk.add_argument("lab", help="number (1) or name (01-six-styles)")
    chk.add_argument("--path", type=Path, help="your work (default: the lab's working folder)")
    chk.add_argument(
        "--server", help="a running Rosetta, e.g. http://127.0.0.1:8000 (default: one started for the check)"
    )
    chk.add_argument("--grpc", help="its gRPC address (default: the port its /healthz reports)")
    chk.add_argument("--api-key", default=os.environ.get("ROSETTA_API_KEY"), help="ROSETTA_API_KEY")
    sub.add_parser(
        "serve", help="`rosetta serve --workshop`: fault injector on, fast webhook retries", add_help=False
    )
    return p


def main(argv: Sequence[str], console: Console | None = None) -> int:
    argv = list(argv)
    if argv[:1] == ["serve"]:
        from gateway.cli import main as rosetta_main

        return rosetta_main(["serve", "--workshop", *argv[1:]])
    args = parser().parse_args(argv)
    console = console or Console(highlight=False)
    try:
        if args.action == "list":
            return list_labs(console)
        lab = find_lab(args.lab)
    except LookupError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        return 2
    if args.action == "start":
        return start(lab, args.force, console)
    return check(lab, args.path, args.server, args.grpc, args.api_key, console)


def list_labs(console: Console) -> int:
    table = Table(title="Rosetta workshop labs", title_justify="left")
    table.add_column("lab", style="bold")
    table.add_column("what you build")
    table.add_column("time", justify="right")
    table.add_column("status")
    colours = {"passed": "green", "not started": "dim"}
    for lab in all_labs():
        state = status(lab)
        table.add_row(
            lab.name,
            lab.title,
            f"{lab.minutes} min",
            f"[{colours.get(state, 'yellow')}]{state}[/]",
        )
    console.print(table)
    console.print(f"start one with [bold]rosetta workshop start 1[/bold]; working folders go to {_where()}")
    return 0


def _where() -> str:
    return str(working_folder(all_labs()[0]).parent)


def start(lab: Lab, force: bool, console: Console) -> int:
    target = working_folder(lab)
    if target.exists():
        if not force:
            console.print(
                f"[yellow]{target} exists already[/yellow]: keep working there, "
                f"or start afresh with --force (it replaces your work)"
            )
            return 1
        shutil.rmtree(target)
    asyncio.run(lab.materialize(target))
    console.print(f"[green]✓[/green] {lab.name}: the starter is in [bold]{target}[/bold]")
    console.print(f"  read {lab.folder / 'README.md'}")
    console.print(f"  first step: {escape(lab.first_step())}")
    console.print(f"  check your work with [bold]rosetta workshop check {lab.number}[/bold]")
    return 0


@contextmanager
def _server(url: str | None, grpc: str | None, console: Console) -> Iterator[RunningServer]:
    if url is None:
        with console.status("starting a server for the check (fresh in-memory store, workshop mode)"):
            context = lab_server()
            running = context.__enter__()
        try:
            yield running
        finally:
            context.__exit__(None, None, None)
        return
    url = url.rstrip("/")
    if grpc is None:
        try:
            health = httpx.get(f"{url}/healthz", timeout=5).json()
        except (httpx.HTTPError, ValueError) as error:
            raise ConnectionError(f"{url} does not answer /healthz ({error})") from None
        port = health.get("grpcPort")
        grpc = f"{urlsplit(url).hostname}:{port}" if port else None
    yield RunningServer(url, grpc)


def check(
    lab: Lab, path: Path | None, url: str | None, grpc: str | None, api_key: str | None, console: Console
) -> int:
    work = path or working_folder(lab)
    if not work.is_dir():
        console.print(
            f"[red]✗[/red] {work} does not exist: run [bold]rosetta workshop start {lab.number}[/bold]"
        )
        return 1
    checks = lab.checks()
    console.print(f"[bold]{lab.name}[/bold] · {lab.title} · checking {work} ({len(checks)} checks)")

    def progress(outcome: Outcome) -> None:
        if outcome.passed:
            seen = f" [dim]— {escape(outcome.detail)}[/dim]" if outcome.detail else ""
            console.print(f"  [green]✓[/green] {escape(outcome.title)}{seen}")
        else:
            console.print(f"  [red]✗ {escape(outcome.title)}[/red]")
            console.print(f"    [yellow]hint:[/yellow] {escape(outcome.detail)}")

    try:
        with _server(url, grpc, console) as server:
            context = LabContext(server.base_url, server.grpc_target, work, api_key)
            report: Report = asyncio.run(run_checks(checks, context, progress, keep_going=lab.independent))
    except ConnectionError as error:
        console.print(f"[red]✗[/red] {escape(str(error))}")
        return 1
    for title in report.not_run:
        console.print(f"  [dim]· {escape(title)} (not run: fix the one above first)[/dim]")
    done = sum(outcome.passed for outcome in report.outcomes)
    total = len(checks)
    if path is None:  # progress for `list`, kept only in the learner's own working folder
        (work / STATUS_FILE).write_text(json.dumps({"passed": report.passed, "done": done, "total": total}))
    if report.passed:
        console.print(f"[bold green]{lab.name}: all {total} checks passed[/bold green]")
        return 0
    console.print(f"[bold red]{lab.name}: {done}/{total} checks passed[/bold red]")
    return 1
