"""pylint plugin for the house size rule's second half: no function longer than 80 lines.

pylint itself counts a module's lines (``too-many-lines``, ``max-module-lines = 500`` in
pyproject.toml) but not a function's; this checker adds ``function-too-long``
(``max-function-lines``, counted from the first decorator to the last line). A function that must
be longer disables it on its ``def`` line, and its module docstring says why.
"""

from __future__ import annotations

from astroid import nodes
from pylint.checkers import BaseChecker
from pylint.lint import PyLinter


class FunctionLengthChecker(BaseChecker):
    name = "function-length"
    msgs = {
        "C9801": (
            "%s has %d lines (more than %d)",
            "function-too-long",
            "A function longer than max-function-lines: split it, or say in the module docstring why not.",
        )
    }
    options = (
        (
            "max-function-lines",
            {"default": 80, "type": "int", "metavar": "<int>", "help": "Most lines in one function."},
        ),
    )

    def visit_functiondef(self, node: nodes.FunctionDef) -> None:
        lines = (node.end_lineno or node.lineno) - node.fromlineno + 1
        limit: int = self.linter.config.max_function_lines
        if lines > limit:
            self.add_message("function-too-long", node=node, args=(node.name, lines, limit))

    visit_asyncfunctiondef = visit_functiondef


def register(linter: PyLinter) -> None:
    linter.register_checker(FunctionLengthChecker(linter))
