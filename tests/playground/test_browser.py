"""The playground in a real browser (headless Chromium): one operation, six panels, side by side."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, Page

from services.core.errors import RosettaError
from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.store import MemoryStore
from tests.support.server import LiveServer, live_server

PANELS = ("rest", "graphql", "grpc", "soap", "websocket", "webhooks")
SCREENSHOT = "/tmp/playground.png"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="rest,graphql,grpc,soap,websocket,webhooks") as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1300})
    opened = context.new_page()
    failures: list[str] = []
    opened.on("pageerror", lambda error: failures.append(str(error)))
    opened.goto(server.base_url + "/playground")
    ready(opened)
    yield opened
    context.close()
    assert failures == [], f"script errors on the page: {failures}"


def ready(page: Page) -> None:
    # A selector wait, not wait_for_function: the pages' Content-Security-Policy forbids eval, which
    # Playwright's function polling needs.
    page.wait_for_selector("body[data-ready='true']", state="attached")


def run(page: Page, operation: str, **inputs: str) -> dict[str, tuple[str, str]]:
    """Pick the operation and inputs, click "Run in every style", read each panel's outcome and summary."""
    runs = int(page.evaluate("document.body.dataset.runs || '0'"))
    page.select_option("#operation", operation)
    for name, value in inputs.items():
        page.fill(f"#{name}", value)
    page.click("text=Run in every style")
    page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=20_000)
    return {
        style: (
            page.get_attribute(f"#panel-{style}", "data-outcome") or "",
            page.inner_text(f"#panel-{style} .summary"),
        )
        for style in PANELS
    }


def core_message(language: str, room_id: str) -> str:
    """The core's own localized message for an unknown room: every panel must show exactly this."""

    async def ask() -> str:
        store = MemoryStore()
        await store.open()
        try:
            await ReservationService(store, notifier=InProcessNotifier()).get_room(room_id)
        except RosettaError as error:
            return error.localized(language)
        finally:
            await store.close()
        raise AssertionError("the room exists")

    with ThreadPoolExecutor(1) as worker:  # Playwright's sync API keeps a loop running in this thread
        return worker.submit(lambda: asyncio.run(ask())).result()


def test_get_room_shows_the_room_in_every_style_and_no_webhook(page: Page) -> None:
    panels = run(page, "getRoom", roomId="room-a")

    for style in ("rest", "graphql", "grpc", "soap", "websocket"):
        outcome, summary = panels[style]
        assert outcome == "ok", (style, summary)
        assert "Ada (room-a, capacity 4)" in summary, style
    assert panels["rest"][1].startswith("200 OK")
    assert "data.room" in panels["graphql"][1]
    assert panels["grpc"][1].startswith("OK")
    assert "GetRoomResponse" in panels["soap"][1]
    assert panels["websocket"][1].startswith("result frame")
    assert panels["webhooks"] == ("none", "No webhook: getRoom only reads, so no event and no message")
    # The wire, as sent and as received, is on the page.
    assert "GET /api/v1/rooms/room-a HTTP/1.1" in page.inner_text("#panel-rest .request")
    assert "query GetRoom($roomId: ID!)" in page.inner_text("#panel-graphql .request")
    assert "rpc /rosetta.reservations.v1.ReservationService/GetRoom" in page.inner_text(
        "#panel-grpc .request"
    )
    assert "<r:roomId>room-a</r:roomId>" in page.inner_text("#panel-soap .request")
    assert '"type": "getRoom"' in page.inner_text("#panel-websocket .request")
    for style in ("rest", "graphql", "grpc", "soap", "websocket"):
        assert " ms" in page.inner_text(f"#panel-{style} .metrics") and " B" in page.inner_text(
            f"#panel-{style} .metrics"
        )


def test_an_unknown_room_shows_each_style_s_error(page: Page) -> None:
    page.click("text=Try an error: unknown room")  # getRoom with roomId room-zz
    page.wait_for_selector("body[data-runs='1']", state="attached", timeout=20_000)
    panels = {style: page.inner_text(f"#panel-{style} .summary") for style in PANELS}
    message = core_message("en", "room-zz")

    for style in ("rest", "graphql", "grpc", "soap", "websocket"):
        assert page.get_attribute(f"#panel-{style}", "data-outcome") == "error", style
        assert panels[style].endswith(message), (style, panels[style])
    assert panels["rest"].startswith("404 Not Found · ROOM_NOT_FOUND")
    assert "errors[0].extensions.code = ROOM_NOT_FOUND" in panels["graphql"]
    assert panels["grpc"].startswith("NOT_FOUND · ErrorInfo.reason = ROOM_NOT_FOUND")
    assert "faultcode soap11env:Client.ROOM_NOT_FOUND" in panels["soap"]
    assert panels["websocket"].startswith("error frame · code ROOM_NOT_FOUND")
    assert panels["webhooks"] == "No webhook: getRoom only reads, so no event and no message"
    assert "content-type: application/problem+json" in page.inner_text("#panel-rest .response")
    assert '"reason": "ROOM_NOT_FOUND"' in page.inner_text("#panel-grpc .response")
    assert "<tns:code>ROOM_NOT_FOUND</tns:code>" in page.inner_text("#panel-soap .response")
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_the_language_selector_localizes_every_style(page: Page) -> None:
    page.select_option("#language", "fr")
    panels = run(page, "getRoom", roomId="room-zz")
    message = core_message("fr", "room-zz")

    for style in ("rest", "graphql", "grpc", "soap", "websocket"):
        assert panels[style][1].endswith(message), (style, panels[style])
    assert "Accept-Language: fr" in page.inner_text("#panel-rest .request")
    assert "content-language: fr" in page.inner_text("#panel-rest .response")
    assert "accept-language: fr" in page.inner_text("#panel-grpc .request")
    assert "/ws?lang=fr" in page.inner_text("#panel-websocket .request")


def test_create_then_cancel_show_the_webhook_messages_of_the_changes(page: Page) -> None:
    panels = run(page, "createReservation", date="2032-03-01", roomId="room-b")

    for style in ("rest", "graphql", "grpc", "soap", "websocket"):
        assert panels[style][0] == "ok", (style, panels[style])
    assert panels["rest"][1].startswith("201 Created")
    assert panels["webhooks"] == ("ok", "5 × reservation.created (one message per change)")
    message = page.inner_text("#panel-webhooks .request")
    for header in ("webhook-id: msg_", "webhook-timestamp: ", "webhook-signature: v1,"):
        assert message.count(header) == 5, header
    assert '"date": "2032-03-05"' in message  # the fifth style booked its own slot, four days on
    assert "EXAMPLE secret" in page.inner_text("#panel-webhooks .response")

    # Cancel with no reservation given: the page creates one per style first, then each cancels its own.
    panels = run(page, "cancelReservation", reservationId="")
    for style in ("rest", "graphql", "grpc", "soap", "websocket"):
        assert panels[style][0] == "ok", (style, panels[style])
        assert "CANCEL" in panels[style][1], style
    assert panels["webhooks"] == ("ok", "5 × reservation.canceled (one message per change)")
    assert "one reservation per style" in page.inner_text("#setup-note")


def test_the_landing_page_loads_cleanly_and_every_link_on_it_the_playground_and_the_api_root_answers(
    browser: Browser,
) -> None:
    with live_server() as everything:  # every style, as `make run` serves them
        context = browser.new_context()
        landing = context.new_page()
        problems: list[str] = []
        landing.on(
            "console", lambda message: problems.append(message.text) if message.type == "error" else None
        )
        landing.on("pageerror", lambda error: problems.append(str(error)))
        hrefs: list[str] = []
        for path in ("/", "/playground"):
            landing.goto(everything.base_url + path, wait_until="load")
            hrefs += landing.eval_on_selector_all("a[href]", "links => links.map(link => link.href)")
        assert problems == [], problems  # e.g. a 404 for /favicon.ico

        api_root = context.request.get(everything.base_url + "/api/v1").json()
        hrefs += [link["href"] for link in api_root["_links"].values()]
        assert len(hrefs) > 10
        for href in hrefs:
            # A browser visit (Accept: text/html), as a learner clicking: GraphiQL answers /graphql.
            response = landing.goto(href, wait_until="commit")
            assert response is not None and response.status == 200, href
        context.close()


def test_styles_this_process_does_not_serve_are_shown_as_unavailable(browser: Browser) -> None:
    with live_server(styles="rest,graphql") as partial:
        context = browser.new_context(viewport={"width": 1600, "height": 1300})
        opened = context.new_page()
        opened.goto(partial.base_url + "/playground")
        ready(opened)
        panels = run(opened, "createReservation", date="2033-04-01")
        context.close()

    assert panels["rest"][0] == panels["graphql"][0] == "ok"
    for style, name in (("grpc", "gRPC"), ("soap", "SOAP"), ("websocket", "WebSocket")):
        assert panels[style] == ("unavailable", f"{name} is not served by this process"), style
    # The change made an event, but no webhook goes anywhere from a process that does not serve them.
    assert panels["webhooks"][0] == "unavailable", panels["webhooks"]


@pytest.mark.parametrize(
    ("path", "rendered"), [("/graphql", ".graphiql-container"), ("/docs", ".swagger-ui")]
)
def test_graphiql_and_swagger_ui_work_offline_under_the_content_security_policy(
    browser: Browser, server: LiveServer, path: str, rendered: str
) -> None:
    context = browser.new_context()
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    response = opened.goto(server.base_url + path, wait_until="load")
    assert response is not None and "content-security-policy" in response.headers
    opened.wait_for_selector(rendered, timeout=20_000)
    context.close()
    assert problems == [], problems
