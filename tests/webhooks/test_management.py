"""The management API end to end: the gateway on a real port (styles=webhooks) delivering to the
inspector on another, over real TCP, with SQLite as the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.core.events import InProcessNotifier
from services.core.model import ReservationDraft
from services.core.service import ReservationService
from services.rest.errors import method_not_allowed, no_route, not_an_object, problem_body
from services.store import SqliteStore
from services.webhooks.inspector import create_inspector_app
from services.webhooks.signing import new_secret
from tests.support.server import live_server
from tests.webhooks.conftest import serve_in_thread

PATH = "/api/v1/webhook-subscriptions"
SECRET = new_secret()


@dataclass
class Setup:
    base_url: str
    inspector: str
    secrets: list[str]
    db: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    db = tmp_path_factory.mktemp("webhooks") / "rosetta.db"
    secrets = [SECRET]
    with (
        serve_in_thread(create_inspector_app(secrets)) as inspector,
        live_server(
            styles="webhooks", db=f"sqlite:///{db}", webhook_allowlist="127.0.0.1", webhook_retry_scale=0.001
        ) as server,
    ):
        yield Setup(server.base_url, inspector, secrets, db)


@pytest.fixture
async def client(setup: Setup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=setup.base_url, timeout=10) as http:
        yield http


async def subscribe(client: httpx.AsyncClient, setup: Setup, path: str, **fields: Any) -> dict[str, Any]:
    body = {"url": f"{setup.inspector}{path}", "secret": SECRET, **fields}
    response = await client.post(PATH, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def received(setup: Setup, path: str, count: int) -> list[dict[str, Any]]:
    """What the inspector got at ``path``, once at least ``count`` messages are there."""
    async with httpx.AsyncClient(base_url=setup.inspector, timeout=15) as inspector:
        response = await inspector.get("/received", params={"path": path, "count": count, "timeout": 10})
    entries: list[dict[str, Any]] = response.json()
    assert len(entries) >= count, entries
    return entries


async def test_create_returns_the_secret_once_with_links(client: httpx.AsyncClient, setup: Setup) -> None:
    response = await client.post(PATH, json={"url": f"{setup.inspector}/create", "description": "audit"})
    assert response.status_code == 201
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["location"] == created["_links"]["self"]["href"]
    assert created["eventTypes"] == [
        "reservation.created",
        "reservation.modified",
        "reservation.canceled",
        "reservation.checked_in",
    ]
    assert created["enabled"] is True and created["disabledReason"] is None
    assert {"rotate-secret", "ping", "replay", "deliveries"} <= set(created["_links"])
    assert created["_links"]["ping"]["method"] == "POST"

    fetched = await client.get(f"{PATH}/{created['subscriptionId']}")
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    assert fetched.json()["description"] == "audit"


async def test_the_list_is_paginated_with_links(client: httpx.AsyncClient, setup: Setup) -> None:
    for n in range(3):
        await subscribe(client, setup, f"/list-{n}")
    first = await client.get(PATH, params={"pageSize": 2})
    assert first.status_code == 200
    body = first.json()
    assert body["pagination"]["page"] == 1 and body["pagination"]["pageSize"] == 2
    assert body["pagination"]["totalItems"] >= 3 and len(body["items"]) == 2
    assert 'rel="next"' in first.headers["link"]
    following = await client.get(body["_links"]["next"]["href"])
    assert following.json()["pagination"]["page"] == 2
    bad = await client.get(PATH, params={"pageSize": 1000})
    assert bad.status_code == 400 and bad.json()["errors"] == [
        {"field": "pageSize", "code": "INVALID_PROPERTY"}
    ]


async def test_patch_is_a_merge_patch(client: httpx.AsyncClient, setup: Setup) -> None:
    created = await subscribe(client, setup, "/patch", description="first")
    href = f"{PATH}/{created['subscriptionId']}"
    patched = await client.patch(
        href,
        json={"eventTypes": ["reservation.canceled"]},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    assert (
        patched.json()["eventTypes"] == ["reservation.canceled"] and patched.json()["description"] == "first"
    )
    cleared = await client.patch(href, json={"description": None, "enabled": False})
    assert cleared.json()["description"] is None
    assert cleared.json()["enabled"] is False and cleared.json()["disabledReason"] == "MANUAL"
    unknown = await client.patch(href, json={"colour": "red"})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "INVALID_PROPERTY"
    assert unknown.json()["errors"] == [{"field": "colour", "code": "INVALID_PROPERTY"}]
    wrong = await client.patch(href, json={"eventTypes": ["reservation.exploded"]})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "eventTypes"


async def test_bad_requests_are_problems(client: httpx.AsyncClient, setup: Setup) -> None:
    missing = await client.post(PATH, json={"description": "no url"})
    assert missing.status_code == 400
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "MISSING_MANDATORY_PROPERTY"
    assert missing.json()["errors"] == [{"field": "url", "code": "MISSING_MANDATORY_PROPERTY"}]
    malformed = await client.post(PATH, content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["code"] == "MALFORMED_REQUEST"
    ftp = await client.post(PATH, json={"url": "ftp://127.0.0.1/x"})
    assert ftp.status_code == 400 and ftp.json()["errors"][0]["field"] == "url"
    secret = await client.post(PATH, json={"url": f"{setup.inspector}/x", "secret": "whsec_short"})
    assert secret.status_code == 400 and secret.json()["errors"][0]["field"] == "secret"


@pytest.mark.parametrize(
    "body",
    [b'{"url": "http://127.0.0.1:9/x", "description": NaN}', b"[" * 100_000],
    ids=["nan", "deep"],
)
async def test_bodies_rest_finds_malformed_are_malformed_here_too(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(PATH, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "MALFORMED_REQUEST"


async def test_unknown_query_parameters_are_refused_as_rest_refuses_them(
    client: httpx.AsyncClient, setup: Setup
) -> None:
    created = await subscribe(client, setup, "/query")
    href = f"{PATH}/{created['subscriptionId']}"
    queries: tuple[tuple[str, dict[str, str | int]], ...] = (
        (PATH, {"pageSize": 2, "colour": "red"}),
        (href, {"colour": "red"}),
        (f"{href}/deliveries", {"status": "FAILED", "colour": "red"}),
    )
    for url, params in queries:
        refused = await client.get(url, params=params)
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"] == [{"field": "colour", "code": "INVALID_PROPERTY"}]
    assert (await client.get(f"{href}/deliveries", params={"status": "FAILED", "page": 1})).status_code == 200


async def test_head_works_where_get_does(client: httpx.AsyncClient, setup: Setup) -> None:
    created = await subscribe(client, setup, "/head")
    for url in (PATH, f"{PATH}/{created['subscriptionId']}"):
        got, head = await client.get(url), await client.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
    assert (await client.head(f"{PATH}/whs_missing")).status_code == 404


@pytest.mark.parametrize(
    ("language", "title", "fragment"),
    [
        ("en", "Subscription not found", "No webhook subscription"),
        ("ko", "구독을 찾을 수 없음", "웹훅 구독이"),
        ("fr;q=0.9, de", "Abonnement introuvable", "Aucun abonnement"),
    ],
)
async def test_an_unknown_subscription_is_a_localized_404(
    client: httpx.AsyncClient, language: str, title: str, fragment: str
) -> None:
    response = await client.get(f"{PATH}/whs_missing", headers={"accept-language": language})
    assert response.status_code == 404
    problem = response.json()
    assert problem["code"] == "SUBSCRIPTION_NOT_FOUND" and problem["status"] == 404
    assert problem["title"] == title and fragment in problem["detail"] and "whs_missing" in problem["detail"]
    assert problem["instance"] == f"{PATH}/whs_missing"
    assert problem["type"] == "urn:rosetta:problem:subscription-not-found"
    assert response.headers["content-language"] == language[:2]


async def test_private_addresses_are_refused_unless_allowlisted(client: httpx.AsyncClient) -> None:
    for url in ("http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]:9/x"):
        response = await client.post(PATH, json={"url": url})
        assert response.status_code == 400, url
        assert response.json()["errors"] == [{"field": "url", "code": "INVALID_PROPERTY"}]
    # Without the allowlist, the server refuses its own loopback address, saying why.
    with live_server(styles="webhooks") as bare:
        async with httpx.AsyncClient(base_url=bare.base_url) as other:
            response = await other.post(PATH, json={"url": f"http://127.0.0.1:{bare.port}/hook"})
            korean = await other.post(
                PATH, json={"url": f"http://127.0.0.1:{bare.port}/hook"}, headers={"accept-language": "ko"}
            )
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "INVALID_PROPERTY" and problem["errors"] == [
        {"field": "url", "code": "INVALID_PROPERTY"}
    ]
    assert (
        "127.0.0.1" in problem["detail"]
        and "loopback" in problem["detail"]
        and "allowlist" in problem["detail"]
    )
    assert korean.json()["detail"] == (
        "'url' 속성이 올바르지 않습니다: 호스트가 loopback 주소 127.0.0.1(으)로 확인되며, "
        "서버 허용 목록에 없으면 웹훅 대상이 될 수 없습니다."
    )


async def test_ping_is_delivered_and_its_attempt_is_logged(client: httpx.AsyncClient, setup: Setup) -> None:
    created = await subscribe(client, setup, "/ping")
    ping = await client.post(created["_links"]["ping"]["href"])
    assert ping.status_code == 202
    delivery_id = ping.json()["deliveryId"]
    (entry,) = await received(setup, "/ping", 1)
    assert entry["verified"] is True and entry["type"] == "webhook.ping" and entry["webhookId"] == delivery_id

    deliveries = (await client.get(created["_links"]["deliveries"]["href"])).json()
    (delivery,) = deliveries["items"]
    for _ in range(100):  # the attempt is recorded just after the receiver answered
        if delivery["status"] != "PENDING":
            break
        await asyncio.sleep(0.02)
        delivery = (await client.get(ping.headers["location"])).json()
    assert delivery["status"] == "SUCCEEDED" and delivery["deliveryId"] == delivery_id
    (attempt,) = delivery["attempts"]
    assert attempt["statusCode"] == 204 and attempt["error"] is None
    assert attempt["latencyMs"] >= 0 and attempt["attemptedAt"].endswith("Z")
    assert delivery["payload"]["type"] == "webhook.ping"


async def test_events_are_delivered_and_a_delivery_can_be_replayed(
    client: httpx.AsyncClient, setup: Setup
) -> None:
    created = await subscribe(client, setup, "/events")
    # Another writer on the same database file (as another process would be).
    store = SqliteStore(setup.db)
    await store.open()
    try:
        core = ReservationService(store, notifier=InProcessNotifier())
        reservation = await core.create_reservation(
            ReservationDraft("room-b", "Lin", "2031-07-01", "09:00", "10:00", 5), idempotency_key=None
        )
        await core.check_in_reservation(reservation.reservation_id)
    finally:
        await store.close()
    first, second = await received(setup, "/events", 2)
    assert {first["type"], second["type"]} == {"reservation.created", "reservation.checked_in"}
    assert all(entry["verified"] for entry in (first, second))
    created_entry = first if first["type"] == "reservation.created" else second
    assert created_entry["payload"]["data"] == reservation.to_dict()

    replay_href = f"{created['_links']['deliveries']['href']}/{created_entry['webhookId']}/replay"
    replayed = await client.post(replay_href)
    assert replayed.status_code == 202
    entries = await received(setup, "/events", 3)
    assert entries[-1]["webhookId"] == created_entry["webhookId"] and entries[-1]["duplicate"] is True


async def test_after_a_rotation_both_signatures_verify(client: httpx.AsyncClient, setup: Setup) -> None:
    created = await subscribe(client, setup, "/rotate")
    rotated = await client.post(created["_links"]["rotate-secret"]["href"])
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != SECRET and rotated.json()["previousSecretExpiresAt"] is not None
    await client.post(created["_links"]["ping"]["href"])
    (entry,) = await received(setup, "/rotate", 1)
    signatures = entry["webhookSignature"].split(" ")
    assert len(signatures) == 2
    headers = {"webhook-id": entry["webhookId"], "webhook-timestamp": entry["webhookTimestamp"]}
    for secret in (SECRET, new):
        Webhook(secret).verify(entry["body"], {**headers, "webhook-signature": entry["webhookSignature"]})
    Webhook(new).verify(entry["body"], {**headers, "webhook-signature": signatures[0]})
    Webhook(SECRET).verify(entry["body"], {**headers, "webhook-signature": signatures[1]})


async def test_replay_since_needs_a_timestamp(client: httpx.AsyncClient, setup: Setup) -> None:
    created = await subscribe(client, setup, "/since")
    href = f"{PATH}/{created['subscriptionId']}/replay"
    missing = await client.post(href)
    assert missing.status_code == 400 and missing.json()["errors"] == [
        {"field": "since", "code": "MISSING_MANDATORY_PROPERTY"}
    ]
    bad = await client.post(href, params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["errors"] == [{"field": "since", "code": "INVALID_PROPERTY"}]
    ok = await client.post(href, params={"since": "2020-01-01T00:00:00Z"})
    assert ok.status_code == 202 and ok.json()["replayed"] == 0
    gone = await client.post(f"{PATH}/whs_missing/deliveries/msg_x/replay")
    assert gone.status_code == 404 and gone.json()["code"] == "SUBSCRIPTION_NOT_FOUND"
    no_delivery = await client.post(f"{PATH}/{created['subscriptionId']}/deliveries/msg_x/replay")
    assert no_delivery.status_code == 404 and no_delivery.json()["code"] == "DELIVERY_NOT_FOUND"


async def test_methods_and_delete(client: httpx.AsyncClient, setup: Setup) -> None:
    created = await subscribe(client, setup, "/delete")
    href = f"{PATH}/{created['subscriptionId']}"
    wrong = await client.put(href, json={})
    assert wrong.status_code == 405 and set(wrong.headers["allow"].split(", ")) == {
        "OPTIONS",
        "GET",
        "HEAD",
        "PATCH",
        "DELETE",
    }
    options = await client.options(href)
    assert options.status_code == 204 and "PATCH" in options.headers["allow"]
    assert (await client.delete(href)).status_code == 204
    assert (await client.get(href)).status_code == 404
    assert (await client.delete(href)).status_code == 404
    assert (await client.get(f"{PATH}/a/b/c/d/e")).status_code == 404


async def test_unknown_paths_and_methods_are_refused_as_rest_refuses_them(
    client: httpx.AsyncClient, setup: Setup
) -> None:
    created = await subscribe(client, setup, "/refusals")
    href = f"{PATH}/{created['subscriptionId']}"
    headers = {"accept-language": "fr"}
    nowhere = await client.get(f"{PATH}/a/b/c/d/e", headers=headers)
    wrong = await client.put(href, json={}, headers=headers)
    array = await client.post(PATH, json=[1], headers=headers)
    # The same problems, with the same catalog code and words, as the REST adapter's.
    assert nowhere.json() == problem_body(no_route().error, "fr", f"{PATH}/a/b/c/d/e", 404)
    assert wrong.json() == problem_body(method_not_allowed("").error, "fr", href, 405)
    assert array.json() == problem_body(not_an_object(), "fr", PATH, 400)
    assert nowhere.json()["code"] == wrong.json()["code"] == "MALFORMED_REQUEST"
    assert wrong.json()["detail"] == (
        "La requête n'a pas pu être lue : cette méthode n'est pas autorisée sur cette ressource."
    )
    for response in (nowhere, wrong, array):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["content-language"] == "fr"


async def test_without_its_dispatcher_the_api_queues_for_a_separate_one(tmp_path: Path) -> None:
    """``rosetta serve --no-dispatcher``: the API writes, a separate ``rosetta dispatch`` delivers."""
    db = tmp_path / "api-only.db"
    with live_server(
        styles="webhooks", db=f"sqlite:///{db}", dispatcher=False, webhook_allowlist="127.0.0.1"
    ) as api:
        async with httpx.AsyncClient(base_url=api.base_url) as http:
            created = await http.post(PATH, json={"url": "http://127.0.0.1:9/hook"})
            assert created.status_code == 201
            ping = await http.post(created.json()["_links"]["ping"]["href"])
            assert ping.status_code == 202
            queued = (await http.get(ping.headers["location"])).json()
    assert queued["status"] == "PENDING" and queued["attempts"] == []
