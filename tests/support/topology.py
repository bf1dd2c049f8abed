"""The compose topology without containers (see tests/e2e/test_compose_topology.py).

Only what containers provide is substituted: container host names become loopback ports (in the
environment, the commands and the nginx upstreams), the edge listens on free ports instead of
8080/50051, and the landing page's volume is the checked-in folder.

``python -m tests.support.topology`` starts it and prints the addresses (edge and direct), for
measuring the edge, e.g. with ``rosetta bench --target-http``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conformance.targets import postgres_schema
from tests.support.processes import ROSETTA, free_port, rosetta_process, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NGINX_CONF = (ROOT / "gateway" / "nginx" / "nginx.conf").read_text()
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # .ci/run installs Debian's nginx-light
STYLE_SERVICES = ("rest", "graphql", "grpc", "soap", "websocket")
NOT_ROSETTA = ("postgres", "redis", "gateway", "migrate")
REDIS = "redis://127.0.0.1:6379"  # the local Redis stands for the compose service
CLIENTS = {
    "edge": "reservations:read reservations:write webhooks:manage",
    "reader": "reservations:read",
    "stranger": "reservations:read reservations:write",
}


@dataclass
class Topology:
    edge_http: str
    edge_grpc: str
    hosts: dict[str, int]  # compose service -> loopback HTTP port
    grpc_ports: dict[str, int] = field(default_factory=dict)  # compose service -> loopback gRPC port
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    db: str = ""
    # Clients made with `rosetta clients create` in the shared store (authentication is on, as in
    # compose): name -> {clientId, clientSecret, apiKey, scopes}
    clients: dict[str, dict[str, str]] = field(default_factory=dict)

    # What tests.conformance.targets._client_factory reads from a LiveServer.
    @property
    def base_url(self) -> str:
        return self.edge_http

    @property
    def grpc_target(self) -> str:
        return self.edge_grpc


def _substitute_hosts(text: str, hosts: dict[str, int], grpc_ports: dict[str, int]) -> str:
    """``rest:8000`` -> the rest process's HTTP port, ``grpc:50051`` -> the grpc process's gRPC port."""
    for name in sorted(hosts, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}:8000\b", f"127.0.0.1:{hosts[name]}", text)
        text = re.sub(rf"\b{re.escape(name)}:50051\b", f"127.0.0.1:{grpc_ports[name]}", text)
    return text


def _command(service: dict[str, Any], hosts: dict[str, int], grpc_ports: dict[str, int]) -> list[str]:
    command = [_substitute_hosts(part, hosts, grpc_ports) for part in service["command"]]
    assert command[0] == "rosetta"
    return command[1:]


def _environment(
    service: dict[str, Any], hosts: dict[str, int], grpc_ports: dict[str, int], db: str, name: str
) -> dict[str, str]:
    env = {key: str(value) for key, value in (service.get("environment") or {}).items()}
    assert env.pop("ROSETTA_DB").startswith("postgresql://")
    env.update(
        ROSETTA_DB=db,
        ROSETTA_HOST="127.0.0.1",
        ROSETTA_PORT=str(hosts[name]),
        ROSETTA_GRPC_PORT=str(grpc_ports[name]),
    )
    if "ROSETTA_REDIS_URL" in env:
        env["ROSETTA_REDIS_URL"] = env["ROSETTA_REDIS_URL"].replace("redis://redis:6379", REDIS)
    if "ROSETTA_WEBHOOK_ALLOWLIST" in env:  # container names the dispatcher may call
        env["ROSETTA_WEBHOOK_ALLOWLIST"] = "127.0.0.1"
    return {key: _substitute_hosts(value, hosts, grpc_ports) for key, value in env.items()}


def _nginx_config(
    hosts: dict[str, int], grpc_ports: dict[str, int], http_port: int, edge_grpc: int, *, edge_limits: bool
) -> str:
    text = _substitute_hosts(NGINX_CONF, hosts, grpc_ports)
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 50051 http2;", f"listen 127.0.0.1:{edge_grpc} http2;")
    if not edge_limits:  # measuring the edge: every load comes from one address
        text = re.sub(r"^\s*limit_(conn|req) .*$", "", text, flags=re.MULTILINE)
    return text.replace("/usr/share/nginx/html", str(ROOT / "gateway" / "static"))


@contextmanager
def compose_topology(
    workdir: Path,
    *,
    retry_scale: str = "0.001",
    extra_env: dict[str, str] | None = None,
    edge_limits: bool = True,
) -> Iterator[Topology]:
    """Every compose service as a local process, behind Debian's nginx, on a fresh PostgreSQL schema."""
    services = COMPOSE["services"]
    hosts = {name: free_port() for name in services if name not in NOT_ROSETTA}
    grpc_ports = {name: free_port() for name in hosts}
    edge_http, edge_grpc = free_port(), free_port()
    with ExitStack() as stack:
        db = stack.enter_context(postgres_schema("compose"))
        migrate = services["migrate"]
        subprocess.run(
            [ROSETTA, *_command(migrate, hosts, grpc_ports)],
            env={**os.environ, "ROSETTA_DB": db},
            check=True,
            timeout=60,
        )
        topo = Topology(f"http://127.0.0.1:{edge_http}", f"127.0.0.1:{edge_grpc}", hosts, grpc_ports, db=db)
        for client, scopes in CLIENTS.items():
            made = subprocess.run(
                [ROSETTA, "clients", "create", "--name", client, "--scopes", scopes],
                env={**os.environ, "ROSETTA_DB": db},
                check=True,
                timeout=60,
                capture_output=True,
                text=True,
            )
            topo.clients[client] = json.loads(made.stdout)
        order = [*STYLE_SERVICES, "dispatcher", "webhook-inspector"]
        assert set(order) == set(hosts), f"compose services changed: {sorted(hosts)}"
        for name in order:
            service = services[name]
            env = _environment(service, hosts, grpc_ports, db, name)
            env["ROSETTA_PUBLIC_URL"] = topo.edge_http
            env["ROSETTA_WEBHOOK_RETRY_SCALE"] = retry_scale
            env.update(extra_env or {})
            process = stack.enter_context(rosetta_process(_command(service, hosts, grpc_ports), env))
            topo.processes[name] = process
        for name in (*STYLE_SERVICES, "webhook-inspector"):
            wait_healthy(f"http://127.0.0.1:{hosts[name]}/healthz", topo.processes[name])
        conf = workdir / "nginx.conf"
        conf.write_text(_nginx_config(hosts, grpc_ports, edge_http, edge_grpc, edge_limits=edge_limits))
        nginx = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(conf), "-g", f"daemon off; pid {workdir}/nginx.pid;"],
            stdout=stack.enter_context((workdir / "access.log").open("w")),
            stderr=stack.enter_context((workdir / "error.log").open("w")),
            text=True,
        )
        stack.callback(nginx.wait, 10)  # (callbacks run last-in first-out: SIGQUIT, then the wait)
        stack.callback(nginx.send_signal, signal.SIGQUIT)
        wait_healthy(topo.edge_http + "/healthz", nginx)
        yield topo


if __name__ == "__main__":
    # For measuring: no access logs in the style processes, no per-connection WebSocket rate limit.
    measuring = {"ROSETTA_ACCESS_LOG": "false", "ROSETTA_WS_RATE_PER_SECOND": "0"}
    with (
        tempfile.TemporaryDirectory() as work,
        compose_topology(Path(work), retry_scale="1", extra_env=measuring, edge_limits=False) as topo,
    ):
        print(f"edge: {topo.edge_http}  gRPC edge: {topo.edge_grpc}")
        for name, port in topo.hosts.items():
            print(f"  {name}: http://127.0.0.1:{port}  gRPC 127.0.0.1:{topo.grpc_ports[name]}")
        print("Ctrl-C to stop", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
