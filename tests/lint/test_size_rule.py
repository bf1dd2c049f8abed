"""The size rule `make lint` enforces (scripts/pylint_size.py with the settings in pyproject.toml):
a function of 80 lines passes, one of 81 is named; a module over 500 lines is named too."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

from pylint.lint import Run
from pylint.reporters.text import TextReporter

ROOT = Path(__file__).resolve().parents[2]
_files = itertools.count()  # a new name each time: pylint keeps the modules it has read


def lint(tmp_path: Path, source: str) -> str:
    """pylint with the project's configuration on one file; its messages."""
    target = tmp_path / f"subject_{next(_files)}.py"
    target.write_text(source)
    out = io.StringIO()
    Run([f"--rcfile={ROOT / 'pyproject.toml'}", str(target)], reporter=TextReporter(out), exit=False)
    return out.getvalue()


def function(lines: int) -> str:
    """A function of exactly ``lines`` lines (its def line included)."""
    body = "".join(f"    x{n} = {n}\n" for n in range(lines - 2))
    return f"def subject() -> int:\n{body}    return 0\n"


def test_a_function_of_80_lines_passes_and_one_of_81_is_named(tmp_path: Path) -> None:
    assert "function-too-long" not in lint(tmp_path, '"""Doc."""\n\n\n' + function(80))
    report = lint(tmp_path, '"""Doc."""\n\n\n' + function(81))
    assert "subject has 81 lines (more than 80) (function-too-long)" in report


def test_a_longer_function_passes_where_it_says_so(tmp_path: Path) -> None:
    source = '"""Doc. Size: subject is long on purpose."""\n\n\n' + function(90)
    source = source.replace(
        "def subject() -> int:", "def subject() -> int:  # pylint: disable=function-too-long"
    )
    assert "function-too-long" not in lint(tmp_path, source)


def test_a_module_over_500_lines_is_named(tmp_path: Path) -> None:
    constants = "".join(f"C{n} = {n}\n" for n in range(505))
    assert "(too-many-lines)" in lint(tmp_path, '"""Doc."""\n\n' + constants)
