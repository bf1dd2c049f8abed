"""The compose topology without containers: every service's own command and environment as a local
process, Debian's nginx with the project's own edge config, the local PostgreSQL as the shared store.

Only what containers provide is substituted: container host names become loopback ports (in the
environment, the commands and the nginx upstreams), the edge listens on free ports instead of
8080/50051, and the landing page's volume is the checked-in folder. Then the whole conformance
matrix runs through the edge, and the cross-process promises are checked.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.core.errors import ReservationConflict
from services.core.model import ReservationDraft
from services.rest.client import RestClient
from services.soap.client import SoapClient
from services.websocket.client import WebSocketClient
from tests.conformance.scenarios import SCENARIOS, Scenario
from tests.conformance.targets import Target, _client_factory, open_target, postgres_schema
from tests.conformance.test_conformance import CASES, _outcome, _reference
from tests.support.processes import ROSETTA, free_port, rosetta_process, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NGINX_CONF = (ROOT / "gateway" / "nginx" / "nginx.conf").read_text()
STYLE_SERVICES = ("rest", "graphql", "grpc", "soap", "websocket")
EDGE_TARGETS = ("rest", "graphql", "grpc", "soap", "websocket")

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # .ci/run installs Debian's nginx-light


@dataclass
class Topology:
    edge_http: str
    edge_grpc: str
    hosts: dict[str, int]  # compose service -> loopback HTTP port
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

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
    if "ROSETTA_WEBHOOK_ALLOWLIST" in env:  # container names the dispatcher may call
        env["ROSETTA_WEBHOOK_ALLOWLIST"] = "127.0.0.1"
    return {key: _substitute_hosts(value, hosts, grpc_ports) for key, value in env.items()}


def _nginx_config(hosts: dict[str, int], grpc_port: int, http_port: int, edge_grpc: int) -> str:
    text = NGINX_CONF
    for name, port in hosts.items():
        text = text.replace(f"server {name}:8000;", f"server 127.0.0.1:{port};")
    text = text.replace("server grpc:50051;", f"server 127.0.0.1:{grpc_port};")
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 50051 http2;", f"listen 127.0.0.1:{edge_grpc} http2;")
    return text.replace("/usr/share/nginx/html", str(ROOT / "gateway" / "static"))


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    services = COMPOSE["services"]
    hosts = {name: free_port() for name in services if name not in ("postgres", "gateway", "migrate")}
    grpc_ports = {name: free_port() for name in hosts}
    edge_http, edge_grpc = free_port(), free_port()
    workdir = tmp_path_factory.mktemp("edge")
    with ExitStack() as stack:
        db = stack.enter_context(postgres_schema("compose"))
        migrate = services["migrate"]
        subprocess.run(
            [ROSETTA, *_command(migrate, hosts, grpc_ports)],
            env={**os.environ, "ROSETTA_DB": db},
            check=True,
            timeout=60,
        )
        topo = Topology(f"http://127.0.0.1:{edge_http}", f"127.0.0.1:{edge_grpc}", hosts)
        order = [*STYLE_SERVICES, "dispatcher", "webhook-inspector"]
        assert set(order) == set(hosts), f"compose services changed: {sorted(hosts)}"
        for name in order:
            service = services[name]
            env = _environment(service, hosts, grpc_ports, db, name)
            env["ROSETTA_PUBLIC_URL"] = topo.edge_http
            env["ROSETTA_WEBHOOK_RETRY_SCALE"] = "0.001"
            process = stack.enter_context(rosetta_process(_command(service, hosts, grpc_ports), env))
            topo.processes[name] = process
        for name in (*STYLE_SERVICES, "webhook-inspector"):
            wait_healthy(f"http://127.0.0.1:{hosts[name]}/healthz", topo.processes[name])
        conf = workdir / "nginx.conf"
        conf.write_text(_nginx_config(hosts, grpc_ports["grpc"], edge_http, edge_grpc))
        nginx = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(conf), "-g", f"daemon off; pid {workdir}/nginx.pid;"],
            stdout=stack.enter_context((workdir / "access.log").open("w")),
            stderr=stack.enter_context((workdir / "error.log").open("w")),
            text=True,
        )
        stack.callback(lambda: (nginx.send_signal(signal.SIGQUIT), nginx.wait(10)))
        wait_healthy(topo.edge_http + "/healthz", nginx)  # type: ignore[arg-type]
        yield topo


def test_the_compose_file_validates_offline() -> None:
    subprocess.run(
        [
            str(Path(__import__("sys").executable).with_name("check-jsonschema")),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        check=True,
        capture_output=True,
    )
    if shutil.which("docker-compose"):
        subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], check=True)


def test_style_services_scale_no_fixed_names_or_host_ports() -> None:
    for name in STYLE_SERVICES:
        service = COMPOSE["services"][name]
        assert "container_name" not in service and "ports" not in service, name
        assert service["command"][:3] == ["rosetta", "serve", "--styles"]
    assert COMPOSE["services"]["gateway"]["ports"] == ["8080:8080", "50051:50051"]


def test_the_edge_serves_the_landing_page_and_the_contracts(topology: Topology) -> None:
    landing = httpx.get(topology.edge_http + "/")
    assert landing.status_code == 200 and "Rosetta" in landing.text
    wsdl = httpx.get(topology.edge_http + "/soap?wsdl")
    assert wsdl.status_code == 200 and f"{topology.edge_http}/soap" in wsdl.text
    assert httpx.get(topology.edge_http + "/contracts/reservations.proto").status_code == 200


EDGE_CASES = [
    pytest.param(target, scenario, id=f"edge-{target}-{scenario.name}")
    for target in EDGE_TARGETS
    for scenario in SCENARIOS
    if target not in scenario.not_expressible
]


@pytest.mark.parametrize(("target_name", "scenario"), EDGE_CASES)
async def test_the_conformance_matrix_through_the_nginx_edge(
    topology: Topology, target_name: str, scenario: Scenario
) -> None:
    space = EDGE_TARGETS.index(target_name) + 1  # every style shares the one PostgreSQL store here
    if (scenario.name, space) not in _reference:
        with open_target("reference") as reference:
            _reference[scenario.name, space] = await _outcome(reference, scenario, space)
    target = Target(target_name, _client_factory(target_name, topology))  # type: ignore[arg-type]
    assert await _outcome(target, scenario, space) == _reference[scenario.name, space]


async def test_a_soap_change_is_streamed_by_the_websocket_process_and_delivered_by_the_dispatcher(
    topology: Topology,
) -> None:
    async with SoapClient(topology.edge_http) as soap, WebSocketClient(topology.edge_http) as ws:
        async with RestClient(topology.edge_http) as rest:
            before = await rest.watch_events(0, limit=1000)
        after = before[-1].sequence if before else 0
        stream = ws.stream_events(after)
        created = await soap.create_reservation(
            ReservationDraft("room-b", "Cross Process", "2035-01-02", "09:00", "10:00", 2, None)
        )
        async with asyncio.timeout(15):
            async for event in stream:
                if event.data["reservationId"] == created.reservation_id:
                    break
        await stream.aclose()  # type: ignore[attr-defined]
    inspector = f"http://127.0.0.1:{topology.hosts['webhook-inspector']}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        received = httpx.get(inspector + "/received").json()
        if any(created.reservation_id in entry["body"] for entry in received):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the dispatcher process did not deliver the SOAP-made reservation")
    mine = [entry for entry in received if created.reservation_id in entry["body"]]
    assert all(entry["verified"] for entry in mine)


async def test_concurrent_creates_of_one_slot_across_two_processes_yield_exactly_one(
    topology: Topology,
) -> None:
    rest_direct = f"http://127.0.0.1:{topology.hosts['rest']}"
    ws_direct = f"http://127.0.0.1:{topology.hosts['websocket']}"
    draft = ReservationDraft("room-c", "Race", "2035-02-03", "09:00", "10:00", 2, None)
    async with RestClient(rest_direct) as rest, WebSocketClient(ws_direct) as ws:
        calls = [(rest if n % 2 else ws).create_reservation(draft) for n in range(20)]
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, ReservationConflict) for r in results) == 19


def test_matrix_sizes_match() -> None:
    assert len(EDGE_CASES) == len(
        [c for c in CASES if c.values[0] == "memory" and c.values[1] in EDGE_TARGETS]
    )
