"""The playground with authentication on: who gets the demo credential (a short-lived token for pages
opened on the server's own machine, or for anyone in workshop mode), the sign-in every other visitor
gets instead, and every panel and event lane carrying the credential, REST's SSE stream included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Browser, Page
from starlette.types import Receive, Scope, Send

from gateway.app import PLAYGROUND_TOKEN_SECONDS
from gateway.playground import PEER_KEY, behind_proxies, from_this_machine
from tests.playground.test_teaching import wait_until
from tests.support.credentials import provision
from tests.support.server import LiveServer, live_server

PANELS = ("rest", "graphql", "grpc", "soap", "websocket", "webhooks")
ELSEWHERE = {"X-Forwarded-For": "203.0.113.7"}  # a visitor from another machine, through a local proxy


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(auth=True) as running:
        yield running


def state(server: LiveServer, headers: dict[str, str] | None = None) -> dict[str, object]:
    answer: dict[str, object] = httpx.get(server.base_url + "/playground/state", headers=headers).json()
    return answer


def test_a_page_on_the_server_s_machine_gets_a_short_lived_demo_token(server: LiveServer) -> None:
    here = state(server)
    assert here["signIn"] is False
    credential = here["credential"]
    assert isinstance(credential, dict) and credential["clientId"] == "demo"
    claims = jwt.decode(credential["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == PLAYGROUND_TOKEN_SECONDS == 300


def test_a_visitor_from_elsewhere_gets_no_credential_and_is_asked_to_sign_in(server: LiveServer) -> None:
    there = state(server, ELSEWHERE)
    assert there["credential"] is None and there["signIn"] is True


def test_in_workshop_mode_every_learner_gets_the_demo_token() -> None:
    with live_server(auth=True, workshop=True) as classroom:
        there = state(classroom, ELSEWHERE)
    assert there["signIn"] is False and isinstance(there["credential"], dict)


def test_with_authentication_off_there_is_nothing_to_hand_out() -> None:
    with live_server(auth=False) as open_server:
        here = state(open_server)
    assert here["credential"] is None and here["signIn"] is False


@pytest.mark.parametrize(
    ("client", "headers", "expected"),
    [
        (("127.0.0.1", 5000), [], True),
        (("::1", 5000), [], True),
        (("10.0.0.8", 5000), [], False),
        (("127.0.0.1", 5000), [(b"x-forwarded-for", b"127.0.0.1")], True),
        (("127.0.0.1", 5000), [(b"x-forwarded-for", b"127.0.0.1, 198.51.100.2")], False),
        (("127.0.0.1", 5000), [(b"forwarded", b'for="[2001:db8::1]"')], False),
        (None, [], False),
        # What uvicorn's proxy headers make of a remote caller's "X-Forwarded-For: 127.0.0.1" under
        # FORWARDED_ALLOW_IPS="*": a loopback client, but the socket's peer is remote.
        (
            {"client": ("127.0.0.1", 0), PEER_KEY: ("203.0.113.9", 5000)},
            [(b"x-forwarded-for", b"127.0.0.1")],
            False,
        ),
    ],
)
def test_this_machine_means_a_loopback_peer_that_forwards_nobody_else(
    client: tuple[str, int] | dict[str, Any] | None, headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    addresses = client if isinstance(client, dict) else {"client": client}
    assert from_this_machine({"type": "http", **addresses, "headers": headers}) is expected


@pytest.mark.parametrize(("peer", "expected"), [(("203.0.113.9", 5000), False), (("127.0.0.1", 5000), True)])
async def test_a_remote_peer_forwarding_a_loopback_address_is_not_this_machine_even_if_every_proxy_is_trusted(
    peer: tuple[str, int], expected: bool
) -> None:
    seen: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(from_this_machine(scope))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=behind_proxies(app, "*"), client=peer)
    async with httpx.AsyncClient(transport=transport, base_url="http://rosetta") as http:
        await http.get("/playground/state", headers={"x-forwarded-for": "127.0.0.1"})
    assert seen == [expected]


def test_the_webhook_messages_need_read_scope(server: LiveServer) -> None:
    url = server.base_url + "/playground/webhooks"
    assert httpx.get(url).status_code == 401
    token = state(server)["credential"]
    assert isinstance(token, dict)
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token['token']}"})
    assert answer.status_code == 200 and "messages" in answer.json()


def open_page(browser: Browser, server: LiveServer, headers: dict[str, str] | None = None) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=headers)
    page = context.new_page()
    page.goto(server.base_url + "/playground")
    page.wait_for_selector("body[data-ready='true']", state="attached")
    return page


def run(page: Page, operation: str) -> dict[str, str]:
    runs = int(page.evaluate("document.body.dataset.runs || '0'"))
    page.select_option("#operation", operation)
    page.click("#run")
    page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=30_000)
    return {style: page.inner_text(f"#panel-{style} .summary") for style in PANELS[:-1]}


def test_with_authentication_on_a_change_arrives_in_every_push_style_rest_s_sse_included(
    browser: Browser, server: LiveServer
) -> None:
    page = open_page(browser, server)
    try:
        assert page.is_hidden("#sign-in")
        page.click("#tab-events")
        page.click("#events-subscribe")
        wait_until(
            page,
            "[...document.querySelectorAll('#events-table .state')]"
            ".every(cell => /^open$|polling/.test(cell.textContent))",
        )
        page.click("#events-change")
        wait_until(page, "document.querySelectorAll('#events-table tr[data-arrived=true]').length === 6")
        for lane in PANELS:
            assert "reservation.created" in page.inner_text(f'#events-table tr[data-lane="{lane}"] .event')
        page.click("#events-stop")
    finally:
        page.context.close()


def test_a_visitor_from_elsewhere_signs_in_with_a_client_and_then_every_style_answers(
    browser: Browser, server: LiveServer
) -> None:
    visitor = provision(server, "playground-visitor")
    page = open_page(browser, server, ELSEWHERE)
    try:
        assert page.is_visible("#sign-in")
        refused = run(page, "listReservations")
        assert all("UNAUTHENTICATED" in summary for summary in refused.values()), refused
        page.fill("#sign-in-id", visitor.client_id)
        page.fill("#sign-in-secret", "not the secret")
        page.click("#sign-in-submit")
        page.wait_for_selector("#sign-in-status:has-text('refused')")
        page.fill("#sign-in-id", visitor.client_id)
        page.fill("#sign-in-secret", visitor.secret)
        page.click("#sign-in-submit")
        page.wait_for_selector(f"#sign-in-status:has-text('signed in as {visitor.client_id}')")
        answered = run(page, "listReservations")
        assert not any("UNAUTHENTICATED" in summary for summary in answered.values()), answered
    finally:
        page.context.close()
