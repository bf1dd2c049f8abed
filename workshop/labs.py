"""The labs on disk: ``workshop/labs/NN-name/`` with README.md, starter/, solution/ and check.py."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from workshop.checking import CheckFunction

LABS_DIR = Path(__file__).resolve().parent / "labs"
STATUS_FILE = ".rosetta-lab.json"  # in a working folder: the last check's result


@dataclass(frozen=True)
class Lab:
    folder: Path

    @property
    def name(self) -> str:  # 01-six-styles
        return self.folder.name

    @property
    def number(self) -> int:
        return int(self.name.split("-", 1)[0])

    @property
    def readme(self) -> str:
        return (self.folder / "README.md").read_text(encoding="utf-8")

    @property
    def title(self) -> str:
        first = self.readme.splitlines()[0]
        return re.sub(r"^#\s*(Lab\s*)?\d+\s*[·:—-]\s*", "", first).strip()

    @property
    def minutes(self) -> int:
        found = re.search(r"^\*\*Time:\*\*\s*(\d+)", self.readme, re.MULTILINE)
        return int(found.group(1)) if found else 0

    @property
    def starter(self) -> Path:
        return self.folder / "starter"

    @property
    def solution(self) -> Path:
        return self.folder / "solution"

    def first_step(self) -> str:
        """The first numbered item under ``## Steps``."""
        steps = self.readme.split("## Steps", 1)[-1]
        found = re.search(r"^1\.\s+(.+?)(?=^\d+\.\s|^##|\Z)", steps, re.MULTILINE | re.DOTALL)
        return " ".join(found.group(1).split()) if found else "read README.md"

    def _checker(self) -> ModuleType:
        name = f"_rosetta_check_{self.number:02d}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, self.folder / "check.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules[name]

    def checks(self) -> list[CheckFunction]:
        return list(self._checker().CHECKS)

    @property
    def independent(self) -> bool:
        """The checker's checks do not build on each other: run them all, report every hint."""
        return bool(getattr(self._checker(), "INDEPENDENT", False))

    async def materialize(self, target: Path, *, solved: bool = False) -> None:
        """The learner's starting point in ``target`` (or, ``solved``, the reference answer).

        Most labs copy starter/ (or solution/). A lab whose starting point is today's project files (lab 04)
        has a ``PREPARE`` hook in its checker, and its solution is a script (``apply(folder)``) run on it.
        """
        script = self.solution / "add_field.py"
        scripted = solved and script.exists()
        source = self.solution if solved and not scripted else self.starter
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
        prepare = getattr(self._checker(), "PREPARE", None)
        if prepare is not None:
            await prepare(target)
        if scripted:
            shutil.copytree(self.solution, target, ignore=ignore, dirs_exist_ok=True)
            spec = importlib.util.spec_from_file_location(f"_rosetta_solution_{self.number:02d}", script)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.apply(target)


def all_labs() -> list[Lab]:
    return sorted(
        (Lab(path) for path in LABS_DIR.iterdir() if path.is_dir() and re.match(r"\d\d-", path.name)),
        key=lambda lab: lab.number,
    )


def find_lab(key: str) -> Lab:
    """By number (``1``, ``01``), full name or a unique part of the name."""
    labs = all_labs()
    if key.isdigit():
        matches = [lab for lab in labs if lab.number == int(key)]
    else:
        matches = [lab for lab in labs if lab.name == key] or [lab for lab in labs if key in lab.name]
    if len(matches) != 1:
        names = ", ".join(lab.name for lab in labs)
        raise LookupError(f"no single lab matches {key!r}; the labs are: {names}")
    return matches[0]


def workspace() -> Path:
    """Where `start` puts working folders: ROSETTA_WORKSHOP_DIR, else ./rosetta-workshop."""
    return Path(os.environ.get("ROSETTA_WORKSHOP_DIR", "rosetta-workshop"))


def working_folder(lab: Lab) -> Path:
    return workspace() / lab.name


def status(lab: Lab) -> str:
    folder = working_folder(lab)
    if not folder.is_dir():
        return "not started"
    try:
        last = json.loads((folder / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return "started"
    return "passed" if last.get("passed") else f"started, {last.get('done', 0)}/{last.get('total', 0)} checks"
