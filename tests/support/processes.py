"""``rosetta`` commands as real processes, the way a user (or a container) runs them."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import free_socket

ROSETTA = str(Path(sys.executable).with_name("rosetta"))


_LOWEST_PORT = 20000
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port the kernel gives outgoing connections (Linux: 32768 unless configured)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port for a process started later to bind. The port is free now but not held, so it is taken
    below the kernel's ephemeral range: an outgoing connection made meanwhile (to PostgreSQL, to a
    server started before) is never given it, as happened with a port the kernel had just picked; and
    never one handed out before in this run."""
    low = _ephemeral_low()
    for _ in range(200 if low > _LOWEST_PORT + 1000 else 0):
        port = random.randrange(_LOWEST_PORT, low)
        if port in _handed_out:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        _handed_out.add(port)
        return port
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"{process.args!r} did not become healthy:\n{output}")
        time.sleep(0.1)


@contextmanager
def rosetta_process(
    args: list[str], env: Mapping[str, str] | None = None, health_url: str | None = None
) -> Iterator[subprocess.Popen[str]]:
    """Start ``rosetta <args>``; on exit SIGTERM it (if still alive) and wait."""
    process = subprocess.Popen(
        [ROSETTA, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ROSETTA_LOG_LEVEL": "warning", **(env or {})},
    )
    try:
        if health_url:
            wait_healthy(health_url, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process.stdout:
            process.stdout.close()


@contextmanager
def rosetta_serve(
    db: Path | str, *extra: str, env: Mapping[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``rosetta serve`` on free ports; yields (base URL, process)."""
    port = port or free_port()
    store = db if isinstance(db, str) else f"sqlite:///{db}"
    args = ["serve", "--port", str(port), "--grpc-port", str(free_port()), "--db", store, *extra]
    base = f"http://127.0.0.1:{port}"
    with rosetta_process(args, env, base + "/healthz") as process:
        yield base, process
