"""What a lab's checker is made of: checks that call the learner's code against a real server.

A lab's ``check.py`` lists ``CHECKS``: async functions decorated with :func:`check`. Each calls the
learner's work (loaded from the working folder) with real requests and either returns what it saw, or
raises :class:`Hint` saying what went wrong and where to look — never the answer.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import secrets
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

CheckFunction = Callable[["LabContext"], Awaitable[str | None]]


class Hint(Exception):
    """A check failed; the message tells the learner where to look."""


def check(title: str, hint: str) -> Callable[[CheckFunction], CheckFunction]:
    """Name a check and give the hint shown when the learner's code raises instead of answering."""

    def decorate(function: CheckFunction) -> CheckFunction:
        # Carried on the function itself (read back with getattr by run_checks).
        function.title = title  # type: ignore[attr-defined]
        function.hint = hint  # type: ignore[attr-defined]
        return function

    return decorate


@dataclass
class LabContext:
    """Where the server is, where the learner's work is, and the credential (one setting)."""

    base_url: str  # http://127.0.0.1:8000
    grpc_target: str | None  # 127.0.0.1:50051
    work: Path
    api_key: str | None = None
    state: dict[str, Any] = field(default_factory=dict)  # what one check leaves for the next
    cleanup: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _modules: dict[str, ModuleType] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/ws"

    def headers(self) -> dict[str, str]:
        # An API key travels in X-Api-Key (a Bearer credential is an OAuth access token: refused as a key)
        return {"X-Api-Key": self.api_key} if self.api_key else {}

    def load(self, name: str) -> ModuleType:
        """The learner's ``<work>/<name>.py``, imported afresh (its folder on sys.path meanwhile)."""
        if name in self._modules:
            return self._modules[name]
        path = self.work / f"{name}.py"
        if not path.is_file():
            raise Hint(f"{path} is missing: run `rosetta workshop start` for this lab, or pass --path")
        unique = f"_rosetta_lab_{abs(hash(str(path)))}_{name}"
        spec = importlib.util.spec_from_file_location(unique, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module  # dataclass and strawberry look their module up by name
        sys.path.insert(0, str(self.work))
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[unique]
            raise Hint(f"{path.name} does not import: {type(error).__name__}: {error}") from error
        finally:
            sys.path.remove(str(self.work))
        self._modules[name] = module
        return module


@dataclass
class Outcome:
    title: str
    passed: bool
    detail: str  # what was seen (passed) or the hint (failed)


@dataclass
class Report:
    outcomes: list[Outcome]
    not_run: list[str]

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes) and not self.not_run

    @property
    def hints(self) -> list[str]:
        return [outcome.detail for outcome in self.outcomes if not outcome.passed]


async def run_checks(
    checks: Sequence[CheckFunction],
    context: LabContext,
    progress: Callable[[Outcome], Any] | None = None,
    *,
    keep_going: bool = False,
) -> Report:
    """Run the checks in order. Usually the first failure stops the rest (they build on each other);
    ``keep_going`` runs every check, for labs whose checks are independent (lab 01's five styles)."""
    async with context.cleanup:  # servers the checks started, subscriptions, faults: undone at the end
        return await _run(checks, context, progress, keep_going)


async def _run(
    checks: Sequence[CheckFunction],
    context: LabContext,
    progress: Callable[[Outcome], Any] | None,
    keep_going: bool,
) -> Report:
    outcomes: list[Outcome] = []
    for index, function in enumerate(checks):
        title: str = getattr(function, "title", function.__name__)
        try:
            seen = await function(context)
            outcome = Outcome(title, True, seen or "")
        except Hint as hint:
            outcome = Outcome(title, False, str(hint))
        except Exception as error:  # the learner's code raised: say what, then where to look
            where = traceback.extract_tb(error.__traceback__)[-1]
            raised = f"{type(error).__name__}: {error}".strip()
            at = f" ({Path(where.filename).name}, line {where.lineno})"
            outcome = Outcome(title, False, f"{raised}{at}. {getattr(function, 'hint', '')}".strip())
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
        if not outcome.passed and not keep_going:
            rest = [getattr(f, "title", f.__name__) for f in checks[index + 1 :]]
            return Report(outcomes, rest)
    return Report(outcomes, [])


def unique_date() -> str:
    """A date no other check (or run against the same server) is likely to have used."""
    day = secrets.randbelow(3650)
    return (datetime.date(2031, 1, 1) + datetime.timedelta(days=day)).isoformat()
