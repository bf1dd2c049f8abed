"""The README's ``docker compose up``, for real: the project's own Dockerfile and compose file on
Docker Engine, reached only through the published ports (127.0.0.1:8080 and :50051), as a visitor
would. Base images come from the registry, or from stand-ins built from Debian's packages when it
cannot be reached (tests/support/docker).

What this catches that the process-based topology (tests/e2e/test_compose_topology.py) cannot: the
image builds and runs as its non-root user with what it ships, the compose file's healthchecks,
dependencies and service names, Docker's DNS and the nginx edge's re-resolution when a style is
scaled, and PostgreSQL restarting under traffic. That one, in turn, runs in seconds on any machine,
and reaches each process directly (e.g. two processes racing for one slot).

The whole stack is taken under an exclusive lock: the published ports are fixed, and other
worktrees may run ``make test`` at the same time. The project name is fixed, so a stack left by a
killed run is taken down first.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from services.core.errors import RosettaError
from services.core.model import ReservationDraft
from services.rest.client import RestClient
from tests.conformance.scenarios import SCENARIOS, Scenario
from tests.conformance.targets import Target, _client_factory, open_target, style_client
from tests.conformance.test_conformance import _outcome, _reference
from tests.playground.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.docker import base_images, docker_engine

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "rosetta-compose-test"
LOCK = Path("/tmp/rosetta-compose.lock")
EDGE = "http://127.0.0.1:8080"
GRPC_EDGE = "127.0.0.1:50051"
STYLES = ("rest", "graphql", "grpc", "soap", "websocket")
LOGS = Path("/tmp/rosetta-compose-test")

# Building the image and the stand-ins from nothing takes minutes on this 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def compose(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        ["docker", "compose", "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    with (LOGS / "compose.log").open("a") as log:
        log.write(f"\n$ docker compose {' '.join(args)}\n{completed.stdout}{completed.stderr}")
    if check and completed.returncode != 0:
        raise AssertionError(f"docker compose {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return completed


def containers(service: str | None = None, *, all_states: bool = False) -> list[dict[str, Any]]:
    labels = ["--filter", f"label=com.docker.compose.project={PROJECT}"]
    if service:
        labels += ["--filter", f"label=com.docker.compose.service={service}"]
    ids = subprocess.run(
        ["docker", "ps", "-q", *(["-a"] if all_states else []), *labels],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not ids:
        return []
    inspected = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True)
    return list(json.loads(inspected.stdout))


def wait_healthy(timeout: float = 300) -> None:
    """Every container with a healthcheck healthy, every other one running (migrate: exited 0)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = []
        for container in containers(all_states=True):
            state = container["State"]
            service = container["Config"]["Labels"]["com.docker.compose.service"]
            if service == "migrate":
                if state["Status"] != "exited" or state["ExitCode"] != 0:
                    pending.append(f"{service}: {state['Status']}")
            elif "Health" in state and state["Health"]["Status"] != "healthy":
                pending.append(f"{container['Name']}: {state['Health']['Status']}")
            elif state["Status"] != "running":
                pending.append(f"{container['Name']}: {state['Status']}")
        if not pending:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not healthy after {timeout:.0f} s: {pending}")
        time.sleep(1)


@dataclass
class Stack:
    base_url: str = EDGE
    grpc_target: str = GRPC_EDGE
    timings: dict[str, float] = field(default_factory=dict)
    api_key: str = ""  # a read + write client made with `rosetta clients create` in the stack's store
    callers: dict[str, str] = field(default_factory=dict)  # WHO -> its api key or (forged) token


def make_client(scopes: str = "reservations:read reservations:write") -> str:
    """A client made as an operator would, inside the rest container: authentication is on."""
    made = compose(
        "exec", "-T", "rest", "rosetta", "clients", "create",
        "--name", f"compose-test-{uuid.uuid4().hex[:8]}", "--scopes", scopes,
    )  # fmt: skip
    return str(json.loads(made.stdout)["apiKey"])


# Tokens signed with the deployment's own key but expired or for another audience, made inside the
# rest container (which reaches the store), as an attacker with a leaked key could not: only the
# claims are wrong.
FORGE = """
import asyncio, json, sys
from gateway.app import build_identity
from gateway.settings import Settings

async def main():
    identity = build_identity(Settings.from_env())
    await identity.store.open()
    try:
        stranger = await identity.by_api_key(sys.argv[1])
        expired = await identity.issue_token(stranger, None, seconds=-120)
        identity.options.audience = "urn:another:api"
        foreign = await identity.issue_token(stranger, None)
    finally:
        await identity.store.close()
    print(json.dumps({"expired-token": expired.access_token, "foreign-audience": foreign.access_token}))

asyncio.run(main())
"""


def make_callers() -> dict[str, str]:
    """The other callers of the conformance scenarios (tests.conformance.targets.WHO)."""
    stranger = make_client()
    forged = json.loads(compose("exec", "-T", "rest", "python", "-c", FORGE, stranger).stdout)
    return {
        "reader": make_client("reservations:read"),
        "stranger": stranger,
        "bad-key": "rk_not-a-key-anyone-was-given",
        **forged,
    }


def callers_of(style: str, stack: Stack) -> Any:
    @contextlib.asynccontextmanager
    async def connect_as(who: str, language: str) -> AsyncIterator[Any]:
        secret = stack.callers.get(who)
        kind = "token" if who in ("expired-token", "foreign-audience") else "api_key"
        credential = {} if secret is None else {kind: secret}
        client = style_client(style, stack, language, **credential)
        try:
            yield client
        finally:
            await client.aclose()

    return connect_as


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    LOGS.mkdir(exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        for old in LOGS.glob("*.log"):  # this run's logs only
            old.unlink()
        started = time.monotonic()
        with docker_engine(LOGS / "dockerd.log"):
            engine = time.monotonic()
            base_images(LOGS / "base-images.log")
            compose("down", "--volumes", "--remove-orphans", timeout=300)  # a killed run's leftovers
            bases = time.monotonic()
            compose("up", "-d", "--build")
            wait_healthy()
            healthy = time.monotonic()
            running = Stack(api_key=make_client(), callers=make_callers())
            running.timings = {
                "engine": engine - started,
                "base images": bases - engine,
                "up to healthy": healthy - bases,
            }
            (LOGS / "timings.json").write_text(json.dumps(running.timings))
            try:
                yield running
            finally:
                compose("logs", "--no-color", timeout=120, check=False)
                compose("down", "--volumes", "--remove-orphans", timeout=300, check=False)


def test_every_container_is_healthy_and_the_edge_serves_the_landing_page(stack: Stack) -> None:
    landing = httpx.get(EDGE + "/")
    assert landing.status_code == 200 and "Rosetta" in landing.text
    wsdl = httpx.get(EDGE + "/soap?wsdl")
    assert wsdl.status_code == 200 and "<wsdl:definitions" in wsdl.text or "definitions" in wsdl.text
    assert httpx.get(EDGE + "/contracts/reservations.proto").status_code == 200
    services = {c["Config"]["Labels"]["com.docker.compose.service"] for c in containers()}
    assert services == {
        *STYLES,
        "postgres",
        "redis",
        "dispatcher",
        "webhook-inspector",
        "gateway",
    }


def test_the_image_runs_as_a_non_root_user_without_pip_tests_or_chart_libraries(stack: Stack) -> None:
    probe = (
        "import importlib.util as u, os, pathlib; "
        "print(os.getuid(), [m for m in ('pip', 'setuptools', 'pbr', 'matplotlib', 'numpy', 'PIL', 'pytest') "
        "if u.find_spec(m)], pathlib.Path('/app/tests').exists())"
    )
    out = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python", "rosetta:latest", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert out == "10001 [] False"


EDGE_CASES = [
    pytest.param(target, scenario, id=f"{target}-{scenario.name}")
    for target in STYLES
    for scenario in SCENARIOS
    # A deployment has one quota policy for every client, so no client here has a tiny quota; the
    # exhausted-quota scenario runs in tests/conformance, and one bucket shared across the deployment's
    # processes is shown by tests/e2e/test_quota_topology.py.
    if target not in scenario.not_expressible and not scenario.tiny_quota
]


@pytest.mark.parametrize(("target_name", "scenario"), EDGE_CASES)
async def test_the_conformance_matrix_through_the_published_ports(
    stack: Stack, target_name: str, scenario: Scenario
) -> None:
    space = STYLES.index(target_name) + 1  # every style shares the one PostgreSQL store here
    if (scenario.name, space) not in _reference:
        with open_target("reference") as reference:
            _reference[scenario.name, space] = await _outcome(reference, scenario, space)
    target = Target(
        target_name,
        _client_factory(target_name, stack, api_key=stack.api_key),
        connect_as=callers_of(target_name, stack),
    )
    assert await _outcome(target, scenario, space) == _reference[scenario.name, space]


def test_the_playground_runs_one_operation_in_every_style_in_chromium(stack: Stack) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(EDGE + "/playground")
            page.wait_for_selector("body[data-ready='true']", state="attached")
            page.select_option("#operation", "getRoom")
            page.fill("#roomId", "room-a")
            page.click("text=Run in every style")
            page.wait_for_selector("body[data-runs='1']", state="attached", timeout=20_000)
            for style in STYLES:
                outcome = page.get_attribute(f"#panel-{style}", "data-outcome")
                summary = page.inner_text(f"#panel-{style} .summary")
                assert outcome == "ok" and "room-a" in summary, (style, summary)
            assert errors == []
        finally:
            browser.close()


def _received(reservation_id: str) -> list[dict[str, Any]]:
    entries = httpx.get(EDGE + "/inspector/received", timeout=10).json()
    return [entry for entry in entries if reservation_id in entry["body"]]


async def test_a_change_made_through_grpc_arrives_signed_at_the_webhook_inspector(stack: Stack) -> None:
    async with _client_factory("grpc", stack, api_key=stack.api_key)("en") as grpc:
        created = await grpc.create_reservation(
            ReservationDraft("room-b", "Webhook", "2036-03-04", "09:00", "10:00", 2, None)
        )
    deadline = time.monotonic() + 30
    while not (mine := _received(created.reservation_id)) and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    assert mine, "no webhook for the reservation arrived at the inspector"
    assert all(entry["verified"] for entry in mine)


def _answering_containers(service: str, marker: str) -> set[str]:
    """Containers of ``service`` whose access log names a request id that contains ``marker``."""
    found = set()
    for container in containers(service):
        logs = subprocess.run(["docker", "logs", container["Id"]], capture_output=True, text=True, check=True)
        if marker in logs.stdout + logs.stderr:
            found.add(container["Name"])
    return found


def test_scaling_rest_to_three_reaches_every_container_without_restarting_the_edge(stack: Stack) -> None:
    (gateway,) = containers("gateway")
    compose("up", "-d", "--no-recreate", "--scale", "rest=3")
    wait_healthy()
    assert len(containers("rest")) == 3
    marker = uuid.uuid4().hex
    deadline = time.monotonic() + 30  # the edge asks Docker's DNS again within 5 s
    with httpx.Client(base_url=EDGE, timeout=10) as http:
        while True:
            for n in range(12):
                response = http.get("/api/v1/rooms", headers={"X-Request-Id": f"{marker}-{n}"})
                assert response.status_code == 200
            if len(_answering_containers("rest", marker)) == 3 or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert len(_answering_containers("rest", marker)) == 3
    compose("up", "-d", "--no-recreate", "--scale", "rest=1")
    wait_healthy()
    # The removed containers' addresses are dropped: no request stalls on a dead one.
    with httpx.Client(base_url=EDGE, timeout=10) as http:
        for _ in range(20):
            started = time.monotonic()
            assert http.get("/api/v1/rooms").status_code == 200
            assert time.monotonic() - started < 5
    (after,) = containers("gateway")
    assert after["Id"] == gateway["Id"] and after["State"]["StartedAt"] == gateway["State"]["StartedAt"]


async def test_a_postgres_restart_under_traffic_every_style_answers_within_30_s_and_nothing_is_lost(
    stack: Stack,
) -> None:
    created: dict[str, str] = {}  # reservation id -> style
    failures: list[tuple[str, str]] = []
    recovered: dict[str, float] = {}
    restart_done: list[float] = []
    counter = itertools.count()
    stop = asyncio.Event()

    async def traffic(style: str) -> None:
        async with _client_factory(style, stack, api_key=stack.api_key)("en") as client:
            while not stop.is_set():
                n = next(counter)
                day = f"2037-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}"
                draft = ReservationDraft("room-c", f"Restart {n}", day, "09:00", "10:00", 2, None)
                sent = time.monotonic()
                try:
                    async with asyncio.timeout(40):
                        reservation = await client.create_reservation(draft)
                except RosettaError as error:
                    failures.append((style, error.code))
                except Exception as error:  # a transport failure is a failure too, named
                    failures.append((style, type(error).__name__))
                else:
                    created[reservation.reservation_id] = style
                    if restart_done and sent > restart_done[0]:
                        recovered.setdefault(style, time.monotonic() - restart_done[0])
                await asyncio.sleep(0.3)

    async with RestClient(EDGE, api_key=stack.api_key) as rest:
        before = await rest.watch_events(0, limit=1000)
    tasks = [asyncio.create_task(traffic(style)) for style in STYLES]
    await asyncio.sleep(3)
    await asyncio.to_thread(compose, "restart", "postgres")
    restart_done.append(time.monotonic())
    deadline = restart_done[0] + 30
    while len(recovered) < len(STYLES) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*tasks)

    assert set(recovered) == set(STYLES), f"answered again: {recovered}; failures: {failures}"
    assert all(seconds <= 30 for seconds in recovered.values()), recovered
    # The core re-runs what the restart interrupted: clients see slower answers, never an error.
    assert failures == []
    # Nothing lost: every reservation a client was told about exists, each has its event, the
    # event log's sequence has no gap, and every one arrived as a verified webhook.
    async with RestClient(EDGE, api_key=stack.api_key) as rest:
        for reservation_id in created:
            await rest.get_reservation(reservation_id)
        after = before[-1].sequence if before else 0
        events = list(before)
        while batch := await rest.watch_events(after, limit=1000):
            events.extend(batch)
            after = batch[-1].sequence
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    announced = {e.data.get("reservationId") for e in events if e.type == "reservation.created"}
    assert set(created) <= announced
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        arrived = httpx.get(EDGE + "/inspector/received", timeout=10).json()
        verified = {rid for rid in created for entry in arrived if rid in entry["body"] and entry["verified"]}
        if verified == set(created):
            break
        await asyncio.sleep(0.5)
    assert verified == set(created), f"{len(set(created) - verified)} webhooks missing"


def test_down_with_volumes_leaves_nothing_running(stack: Stack) -> None:
    compose("down", "--volumes", "--remove-orphans", timeout=300)
    assert containers(all_states=True) == []
    volumes = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert volumes == []
    networks = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert networks == []
