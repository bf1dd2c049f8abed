"""The mutation score per module after `mutmut run` (`make mutation`), and every mutant that survived.

Reads `mutmut results --all true` (one ``name: status`` line per mutant) and groups the mutants by the
module they mutate. A mutant counts as killed when a test failed (``killed``), ran out of time
(``timeout``: the mutant hung the code) or crashed the test process (``segfault``); ``survived`` and
``no tests`` (no selected test reached the function) count against the score.
Usage: python scripts/mutation_report.py [--markdown]
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def modules() -> list[str]:
    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    return [path.removesuffix(".py").replace("/", ".") for path in config["only_mutate"]]


def main(argv: list[str]) -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    listing = subprocess.run(
        [str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True
    )
    names = sorted(modules(), key=len, reverse=True)
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for line in listing.stdout.splitlines():
        mutant, _, status = line.strip().rpartition(": ")
        if not mutant:
            continue
        module = next((name for name in names if mutant.startswith(name + ".")), "other")
        statuses[module][status] += 1
        if status not in KILLED:
            survivors[module].append(f"{mutant} ({status})")
    markdown = "--markdown" in argv
    if markdown:
        print("| module | mutants | killed | survived | no tests | score |")
        print("|---|---:|---:|---:|---:|---:|")
    total: Counter[str] = Counter()
    for module in sorted(statuses):
        counts = statuses[module]
        total.update(counts)
        print(_row(module, counts, markdown))
    print(_row("all", total, markdown))
    if not markdown:
        for module in sorted(survivors):
            print(f"\nsurvivors in {module} (`.venv/bin/mutmut show NAME` shows the change):")
            for name in survivors[module]:
                print(f"  {name}")
    return 0


def _row(module: str, counts: Counter[str], markdown: bool) -> str:
    mutants = sum(counts.values())
    killed = sum(counts[status] for status in KILLED)
    score = f"{100 * killed / mutants:.1f} %" if mutants else "-"
    if markdown:
        return (
            f"| `{module}` | {mutants} | {killed} | {counts['survived']} | {counts['no tests']} | {score} |"
        )
    return (
        f"{module:40} {mutants:5} mutants  {killed:5} killed  {counts['survived']:4} survived  "
        f"{counts['no tests']:4} no tests  score {score}"
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
