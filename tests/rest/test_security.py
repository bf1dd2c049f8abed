"""REST and the webhook API behind the gateway's guard: FastAPI Security dependencies over the core seam."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from services.core.access import ALL_SCOPES, Credentials, Principal, QuotaState, Scope, authorize
from services.core.errors import RateLimited
from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.rest.app import RestOptions, create_app
from services.store import MemoryStore
from tests.rest.support import draft, problem
from tests.support.credentials import Credential, client_fixture, forged_tokens, provision, token_for
from tests.support.server import LiveServer, live_server

PATH = "/api/v1/reservations"


@pytest.fixture(scope="module")
def secured() -> Iterator[LiveServer]:
    with live_server(styles="rest,webhooks", auth=True, auth_cache_seconds=0.0) as running:
        yield running


alice = client_fixture("alice", server="secured")
bob = client_fixture("bob", server="secured")
reader = client_fixture("reader", frozenset({Scope.READ.value}), server="secured")


@pytest.fixture
async def http(secured: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=10) as client:
        yield client


def key(credential: Credential) -> dict[str, str]:
    return {"x-api-key": credential.api_key}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def basic(credential: Credential) -> dict[str, str]:
    pair = base64.b64encode(f"{credential.client_id}:{credential.secret}".encode()).decode()
    return {"authorization": f"Basic {pair}"}


async def test_anonymous_callers_read_rooms_and_learn_nothing_about_reservations(
    http: httpx.AsyncClient, alice: Credential
) -> None:
    assert (await http.get("/api/v1/rooms")).status_code == 200
    assert (await http.get("/api/v1/rooms/room-a")).status_code == 200
    created = await http.post(PATH, json=draft(), headers=key(alice))
    assert created.status_code == 201, created.text
    existing = await http.get(f"{PATH}/{created.json()['reservationId']}")
    missing = await http.get(f"{PATH}/rsv_nobody")
    for refused in (existing, missing):
        body = problem(refused, 401, "UNAUTHENTICATED")
        assert refused.headers["www-authenticate"].startswith('Bearer realm="rosetta"')
        assert "ApiKey" in refused.headers["www-authenticate"]
    assert existing.json()["detail"] == missing.json()["detail"] == body["detail"]


async def test_every_credential_the_gateway_issues_is_accepted(
    http: httpx.AsyncClient, alice: Credential
) -> None:
    created = await http.post(PATH, json=draft(), headers=bearer(alice.token))
    assert created.status_code == 201, created.text
    url = f"{PATH}/{created.json()['reservationId']}"
    for headers in (key(alice), bearer(alice.token), basic(alice)):
        assert (await http.get(url, headers=headers)).status_code == 200, headers


async def test_a_bad_credential_is_401_saying_the_token_is_invalid(
    http: httpx.AsyncClient, secured: LiveServer, alice: Credential
) -> None:
    for token in (*forged_tokens(secured, alice).values(), "not-a-jwt"):
        refused = await http.get(PATH, headers=bearer(token))
        problem(refused, 401, "UNAUTHENTICATED")
        assert 'error="invalid_token"' in refused.headers["www-authenticate"], token
    problem(await http.get(PATH, headers={"x-api-key": "rk_wrong"}), 401, "UNAUTHENTICATED")
    problem(await http.get(PATH, headers={"authorization": "Basic %%%"}), 401, "UNAUTHENTICATED")


async def test_a_missing_scope_is_403_naming_it_and_only_owners_change_their_reservations(
    http: httpx.AsyncClient, alice: Credential, bob: Credential, reader: Credential
) -> None:
    refused = problem(await http.post(PATH, json=draft(), headers=key(reader)), 403, "FORBIDDEN")
    assert refused["errors"] == [{"field": Scope.WRITE.value, "code": "FORBIDDEN"}]
    created = (await http.post(PATH, json=draft(), headers=key(alice))).json()
    cancel = f"{PATH}/{created['reservationId']}/cancel"
    problem(await http.post(cancel, headers=key(bob)), 403, "FORBIDDEN")
    assert (await http.get(f"{PATH}/{created['reservationId']}", headers=key(reader))).status_code == 200
    assert (await http.post(cancel, headers=key(alice))).status_code == 200


async def test_the_webhook_api_needs_its_own_scope(
    http: httpx.AsyncClient, secured: LiveServer, alice: Credential
) -> None:
    hooks = "/api/v1/webhook-subscriptions"
    problem(await http.get(hooks), 401, "UNAUTHENTICATED")
    forbidden = problem(await http.get(hooks, headers=key(alice)), 403, "FORBIDDEN")
    assert forbidden["errors"] == [{"field": Scope.WEBHOOKS.value, "code": "FORBIDDEN"}]
    manager = provision(secured, "hooks", frozenset({Scope.WEBHOOKS.value}))
    assert (await http.get(hooks, headers=key(manager))).status_code == 200


async def test_the_document_declares_the_schemes_and_each_operations_scope(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        **_description(schemes["apiKey"]),
    }
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert schemes["basic"]["scheme"] == "basic"
    paths = document["paths"]
    assert {"oauth2": [Scope.READ.value]} in paths[PATH + "/{reservationId}"]["get"]["security"]
    assert {"oauth2": [Scope.WRITE.value]} in paths[PATH]["post"]["security"]
    subscriptions = paths["/api/v1/webhook-subscriptions"]["get"]["security"]
    assert {"oauth2": [Scope.WEBHOOKS.value]} in subscriptions
    # Anonymous callers may list rooms: an empty requirement says a credential is optional there.
    assert {} in paths["/api/v1/rooms"]["get"]["security"]
    assert {} not in paths[PATH]["post"]["security"]


def _description(scheme: dict[str, Any]) -> dict[str, Any]:
    return {"description": scheme["description"]} if "description" in scheme else {}


async def test_an_event_stream_ends_when_its_token_expires_and_resumes_with_a_fresh_one(
    http: httpx.AsyncClient, secured: LiveServer, alice: Credential
) -> None:
    created = (await http.post(PATH, json=draft(), headers=key(alice))).json()
    short = token_for(secured, alice, seconds=2)
    started = time.monotonic()
    lines: list[str] = []
    headers = {**bearer(short), "accept": "text/event-stream"}
    async with http.stream("GET", "/api/v1/events", headers=headers, timeout=15) as stream:
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            lines.append(line)
    assert time.monotonic() - started < 10
    ids = [int(line.removeprefix("id: ")) for line in lines if line.startswith("id: ")]
    assert ids, lines
    assert "event: error" in lines
    ended = json.loads(lines[lines.index("event: error") + 1].removeprefix("data: "))
    assert ended["code"] == "UNAUTHENTICATED" and ended["status"] == 401
    cancel = await http.post(f"{PATH}/{created['reservationId']}/cancel", headers=key(alice))
    assert cancel.status_code == 200
    resumed = {**bearer(alice.token), "accept": "text/event-stream", "last-event-id": str(ids[-1])}
    async with http.stream("GET", "/api/v1/events", headers=resumed, timeout=15) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("id: "):
                assert int(line.removeprefix("id: ")) == ids[-1] + 1
                break


# -- quotas, with a guard of our own (the seam, not the gateway's implementation) --------------------


class CountingGuard:
    """Everyone is a client with every scope; two requests per window, then RATE_LIMITED."""

    def __init__(self) -> None:
        self.left = 2

    async def authenticate(self, credentials: Credentials) -> Principal:
        return Principal("counted", ALL_SCOPES, credentials.address, via="api-key")

    def authorize(self, principal: Principal, operation: str) -> None:
        authorize(principal, operation)

    async def charge(
        self, principal: Principal, style: str, operation: str, cost: int = 1
    ) -> QuotaState | None:
        if self.left < cost:
            raise RateLimited(params={"retryAfter": 1.2})
        self.left -= cost
        return QuotaState("default", 2, self.left, 30.0, 60.0)

    @contextlib.asynccontextmanager
    async def stream(self, principal: Principal, style: str) -> AsyncIterator[None]:
        yield


async def test_quota_headers_on_every_answer_and_429_with_retry_after() -> None:
    service = ReservationService(MemoryStore(), notifier=InProcessNotifier())
    app = create_app(service, RestOptions(), guard=CountingGuard())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rest.test") as http:
        first = await http.get("/api/v1/rooms")
        second = await http.get("/api/v1/rooms/room-z")  # a refusal is charged too, and says so
        third = await http.get("/api/v1/rooms")
    assert first.status_code == 200
    assert first.headers["ratelimit-policy"] == '"default";q=2;w=60'
    assert first.headers["ratelimit"] == '"default";r=1;t=30'
    problem(second, 404, "ROOM_NOT_FOUND")
    assert second.headers["ratelimit"] == '"default";r=0;t=30'
    problem(third, 429, "RATE_LIMITED")
    assert third.headers["retry-after"] == "2"
