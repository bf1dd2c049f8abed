"""``--topology edge``: the compose topology's nginx (its own config file) in front of a style's server.

The same server is measured directly and then through the edge in the same run, so each style's
row pair shows the extra hop's cost. nginx runs with the project's ``gateway/nginx/nginx.conf``;
only what containers provide is substituted (as tests/support/topology.py does): upstream host
names become the local server's ports, the listeners free loopback ports. For measuring, the
access log is off (as the servers' own) and nginx has one worker pinned to the server's core(s):
the hop is paid from the same CPU budget as the server, as on a one-core host.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.contention import MeasuredServer, stop_process

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "gateway" / "nginx" / "nginx.conf"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()), None
    )


def render(http_port: int, grpc_port: int, listen_http: int, listen_grpc: int, workdir: Path) -> str:
    """The edge's config for one style's server: every HTTP upstream to it, gRPC to its gRPC port."""
    text = CONF.read_text()
    # The edge names each upstream as `set $name service:port;` (re-resolved when scaled).
    text = re.sub(r"\b[a-z-]+:8000;", f"127.0.0.1:{http_port};", text)
    text = re.sub(r"\b[a-z-]+:50051;", f"127.0.0.1:{grpc_port};", text)
    # One address sends the whole load: the edge's per-address limits would measure themselves.
    text = re.sub(r"^\s*limit_(conn|req) .*$", "", text, flags=re.MULTILINE)
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen_http};")
    text = text.replace("listen 50051 http2;", f"listen 127.0.0.1:{listen_grpc} http2;")
    text = re.sub(r"worker_processes [^;]+;", "worker_processes 1;", text)
    text = re.sub(r"access_log [^;]+;", "access_log off;", text)
    text = re.sub(r"error_log [^;]+;", f"error_log {workdir}/error.log warn;", text)
    return text.replace("/usr/share/nginx/html", str(ROOT / "gateway" / "static"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Edge:
    """nginx in front of ``http_port``/``grpc_port``, pinned to ``cpus``; CPU of master and worker."""

    def __init__(self, http_port: int, grpc_port: int, cpus: list[int]) -> None:
        self.upstream = (http_port, grpc_port)
        self.cpus = cpus
        self.http_port = _free_port()
        self.grpc_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="rosetta-edge-")
        self.workdir = Path(self._tmp.name)

    def __enter__(self) -> Edge:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
        conf = self.workdir / "nginx.conf"
        conf.write_text(render(*self.upstream, self.http_port, self.grpc_port, self.workdir))
        cpus = set(self.cpus)

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)  # the worker inherits it

        self.process = subprocess.Popen(
            [
                binary,
                "-p",
                str(self.workdir),
                "-c",
                str(conf),
                "-g",
                f"daemon off; pid {self.workdir}/nginx.pid;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            preexec_fn=pin,
        )
        deadline = time.monotonic() + 15
        for port in (self.http_port, self.grpc_port):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.errors()}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                    break
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"nginx did not listen on {port}: {self.errors()}")
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self.process)
        self._tmp.cleanup()

    def errors(self) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / "error.log").read_text()[-1500:]
        return ""

    def pids(self) -> set[int]:
        if self.process is None:
            return set()
        found = {self.process.pid}
        with contextlib.suppress(OSError):
            for task in os.scandir(f"/proc/{self.process.pid}/task"):
                with contextlib.suppress(OSError):
                    children = Path(f"/proc/{self.process.pid}/task/{task.name}/children").read_text()
                    found.update(int(pid) for pid in children.split())
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS


class BehindEdge:
    """A style's server and its edge, seen as one server: CPU of both, the server's memory."""

    def __init__(self, server: MeasuredServer, edge: Edge) -> None:
        self.server = server
        self.edge = edge
        self.process = getattr(server, "process", None)

    def cpu_seconds(self) -> float:
        return self.server.cpu_seconds() + self.edge.cpu_seconds()

    def peak_rss_mb(self) -> float:
        return self.server.peak_rss_mb()

    def pids(self) -> set[int]:
        own = {self.process.pid} if self.process is not None else set()
        return own | self.edge.pids()
