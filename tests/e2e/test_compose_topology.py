"""The compose topology without containers: every service's own command and environment as a local
process, Debian's nginx with the project's own edge config, the local PostgreSQL as the shared store
(tests/support/topology.py says what is substituted). The whole conformance matrix runs through the
edge, and the cross-process promises are checked.

Why it stays beside the real stack (tests/compose/test_compose_stack.py): it needs no engine and runs
in seconds, so a change to the compose file's commands or environment, or to the edge's routes, fails
here first; it reaches each process directly (two processes racing for one slot, which the published
ports alone cannot aim at); and it validates the compose file offline. What only the real stack
catches: the image itself (build, non-root user, contents), healthchecks and start order, Docker's DNS
and the edge re-resolving scaled containers, and PostgreSQL restarting under traffic.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.core.errors import ReservationConflict
from services.core.model import ReservationDraft
from services.rest.client import RestClient
from services.soap.client import SoapClient
from services.websocket.client import WebSocketClient
from tests.conformance.scenarios import SCENARIOS, Scenario
from tests.conformance.targets import Target, _client_factory, open_target, style_client
from tests.conformance.test_conformance import CASES, _outcome, _reference
from tests.support.topology import COMPOSE, ROOT, STYLE_SERVICES, Topology, compose_topology

EDGE_TARGETS = ("rest", "graphql", "grpc", "soap", "websocket")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with compose_topology(tmp_path_factory.mktemp("edge")) as running:
        yield running


def test_the_compose_file_validates_offline() -> None:
    subprocess.run(
        [
            str(Path(sys.executable).with_name("check-jsonschema")),
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


def test_the_edge_refuses_a_body_over_its_limit_with_a_localized_catalog_problem(topology: Topology) -> None:
    response = httpx.post(
        topology.edge_http + "/api/v1/reservations",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json", "Accept-Language": "fr"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["content-language"] == "fr"
    problem = response.json()
    assert problem["code"] == "PAYLOAD_TOO_LARGE" and "1048576 octets" in problem["detail"]


def edge_callers(style: str, topology: Topology) -> Any:
    """The other callers of the conformance scenarios, through the edge: clients made in the shared
    store, a made-up key, and tokens signed with the deployment's own key but expired or for another
    audience (made by an Identity over the same PostgreSQL schema, as an attacker with a leaked key
    could not, so only the claims are wrong)."""
    tokens: dict[str, str] = {}

    def forged(who: str) -> str:
        if not tokens:
            tokens.update(_forge_tokens(topology))
        return tokens[who]

    @contextlib.asynccontextmanager
    async def connect_as(who: str, language: str) -> AsyncIterator[Any]:
        if who == "anonymous":
            credential: dict[str, str] = {}
        elif who == "bad-key":
            credential = {"api_key": "rk_not-a-key-anyone-was-given"}
        elif who in ("reader", "stranger"):
            credential = {"api_key": topology.clients[who]["apiKey"]}
        else:
            credential = {"token": forged(who)}
        client = style_client(style, topology, language, **credential)
        try:
            yield client
        finally:
            await client.aclose()

    return connect_as


def _forge_tokens(topology: Topology) -> dict[str, str]:
    from gateway.security.identity import Identity, IdentityOptions
    from gateway.security.store import open_identity_store

    async def make() -> dict[str, str]:
        identity = Identity(open_identity_store(topology.db), IdentityOptions(issuer=topology.edge_http))
        await identity.store.open()
        try:
            stranger = await identity.by_api_key(topology.clients["stranger"]["apiKey"])
            expired = await identity.issue_token(stranger, None, seconds=-120)
            identity.options.audience = "urn:another:api"
            foreign = await identity.issue_token(stranger, None)
        finally:
            await identity.store.close()
        return {"expired-token": expired.access_token, "foreign-audience": foreign.access_token}

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # this test's loop is running
        return pool.submit(asyncio.run, make()).result(60)


EDGE_CASES = [
    pytest.param(target, scenario, id=f"edge-{target}-{scenario.name}")
    for target in EDGE_TARGETS
    for scenario in SCENARIOS
    # A deployment has one quota policy for every client, so no client here has a tiny quota; the
    # exhausted-quota scenario runs in tests/conformance, and one bucket shared across the deployment's
    # processes is shown by tests/e2e/test_quota_topology.py.
    if target not in scenario.not_expressible and not scenario.tiny_quota
]


@pytest.mark.parametrize(("target_name", "scenario"), EDGE_CASES)
async def test_the_conformance_matrix_through_the_nginx_edge(
    topology: Topology, target_name: str, scenario: Scenario
) -> None:
    space = EDGE_TARGETS.index(target_name) + 1  # every style shares the one PostgreSQL store here
    if (scenario.name, space) not in _reference:
        with open_target("reference") as reference:
            _reference[scenario.name, space] = await _outcome(reference, scenario, space)
    credential = {"api_key": topology.clients["edge"]["apiKey"]}
    target = Target(
        target_name,
        _client_factory(target_name, topology, **credential),
        connect_as=edge_callers(target_name, topology),
    )
    assert await _outcome(target, scenario, space) == _reference[scenario.name, space]


async def test_a_soap_change_is_streamed_by_the_websocket_process_and_delivered_by_the_dispatcher(
    topology: Topology,
) -> None:
    key = topology.clients["edge"]["apiKey"]
    async with (
        SoapClient(topology.edge_http, api_key=key) as soap,
        WebSocketClient(topology.edge_http, api_key=key) as ws,
    ):
        async with RestClient(topology.edge_http, api_key=key) as rest:
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
        await stream.aclose()
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
    key = topology.clients["edge"]["apiKey"]
    async with RestClient(rest_direct, api_key=key) as rest, WebSocketClient(ws_direct, api_key=key) as ws:
        calls = [(rest if n % 2 else ws).create_reservation(draft) for n in range(20)]
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, ReservationConflict) for r in results) == 19


def test_matrix_sizes_match() -> None:
    """The edge runs every case the in-process matrix runs on one store, but the tiny-quota ones."""
    on_memory = [c.values for c in CASES if c.values[0] == "memory" and c.values[1] in EDGE_TARGETS]
    assert len(EDGE_CASES) == sum(
        1 for _, _, scenario in on_memory if isinstance(scenario, Scenario) and not scenario.tiny_quota
    )
