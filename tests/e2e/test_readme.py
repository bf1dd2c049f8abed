"""The README's examples, run as printed against a live server: each must give the output shown.

``console`` blocks hold shell commands (``$ …``, continued with a trailing backslash) and the
output each prints; a ``websocket`` block holds frames sent (``→``) and expected (``←``) on one
connection; a ``python`` block is a script that ends with what it prints, as comments after
``# prints:``. Values that differ on every run (ids, timestamps, request ids) are normalized.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.support.server import LiveServer, live_server
from tests.support.subprotocols import ROSETTA_V1

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOC_BASE = "http://127.0.0.1:8000"
DOC_GRPC = "127.0.0.1:50051"
VOLATILE = [
    (re.compile(r"rsv_[a-z2-7]{16}"), "rsv_<id>"),
    (re.compile(r"evt_[a-z2-7]{16}"), "evt_<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<timestamp>"),
    (re.compile(r"(?im)^(date|x-request-id): .*$"), r"\1: <varies>"),
]
Command = tuple[str, str]  # (command, expected output)


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", README.read_text(), flags=re.S)


def console_commands(block: str) -> list[Command]:
    commands: list[Command] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), f"expected a command, got {lines[i]!r}"
        command = lines[i][2:]
        while command.endswith("\\"):
            i += 1
            command = command + "\n" + lines[i]
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        commands.append((command, "\n".join(output)))
    return commands


def run_console(block: str, base_url: str) -> list[str]:
    """Run every command of a block in one shell, in order; return what each printed."""
    commands = console_commands(block)
    marker = "@@readme-command@@"
    script = "".join(f"echo {marker}\n{command.replace(DOC_BASE, base_url)}\n" for command, _ in commands)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    outputs = done.stdout.split(marker + "\n")[1:]
    assert len(outputs) == len(commands), done.stderr
    return [output.rstrip("\n").replace(base_url, DOC_BASE) for output in outputs]


def normalize(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text.replace("\r", "").strip()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="rest,graphql,grpc,soap,websocket") as running:
        yield running


def test_the_readme_has_examples_for_every_http_style() -> None:
    text = "\n".join(blocks("console"))
    for fragment in ("/api/v1", "/graphql", "/soap"):
        assert fragment in text
    assert blocks("websocket")


@pytest.mark.parametrize("number", range(len(blocks("console"))))
def test_each_curl_example_prints_what_the_readme_shows(server: LiveServer, number: int) -> None:
    block = blocks("console")[number]
    actual = run_console(block, server.base_url)
    for (command, expected), output in zip(console_commands(block), actual, strict=True):
        assert normalize(output) == normalize(expected), command


def test_the_websocket_frames_get_the_answers_the_readme_shows(server: LiveServer) -> None:
    for block in blocks("websocket"):
        with connect(server.ws_url, subprotocols=[ROSETTA_V1]) as ws:
            for line in block.splitlines():
                arrow, _, frame = line.partition(" ")
                if arrow == "→":
                    ws.send(frame)
                elif arrow == "←":
                    received = json.loads(str(ws.recv(timeout=5)))
                    assert json.loads(normalize(json.dumps(received))) == json.loads(normalize(frame))


def test_the_python_examples_print_what_the_readme_shows(server: LiveServer) -> None:
    assert blocks("python")
    for block in blocks("python"):
        script, marker, printed = block.partition("# prints:\n")
        assert marker, "a python example ends with what it prints"
        expected = "\n".join(line.removeprefix("# ") for line in printed.splitlines())
        assert server.grpc_target is not None
        script = script.replace(DOC_GRPC, server.grpc_target).replace(DOC_BASE, server.base_url)
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        assert normalize(done.stdout) == normalize(expected)


if __name__ == "__main__":  # print what each example prints now, to paste into the README
    with live_server(styles="rest,graphql,grpc,soap,websocket") as running:
        for block in blocks("console"):
            for (command, _), output in zip(
                console_commands(block), run_console(block, running.base_url), strict=True
            ):
                print("$ " + command)
                print(output)
            print("-----")
