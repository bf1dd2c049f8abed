"""The playground and the landing page as a teaching surface, in a real browser at projector size:
six panels on one screen, one timing method, a summary row, "why" notes, presets that do not stick, a reset,
the events tab, the fault banner, GraphiQL links, and what runs where."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from tests.support.server import LiveServer, live_server

PANELS = ("rest", "graphql", "grpc", "soap", "websocket", "webhooks")
STYLES = PANELS[:-1]
PROJECTOR: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workshop=True) as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(viewport=PROJECTOR)
    opened = context.new_page()
    failures: list[str] = []
    opened.on("pageerror", lambda error: failures.append(str(error)))
    opened.goto(server.base_url + "/playground")
    opened.wait_for_selector("body[data-ready='true']", state="attached")
    yield opened
    context.close()
    assert failures == [], f"script errors on the page: {failures}"


def _click_and_wait(page: Page, selector: str) -> None:
    runs = int(page.evaluate("document.body.dataset.runs || '0'"))
    page.click(selector)
    page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=30_000)


def _summary(page: Page, metric: str) -> dict[str, str]:
    return {
        style: page.inner_text(f'#summary-row tr[data-metric="{metric}"] td[data-style="{style}"]')
        for style in PANELS
    }


def test_six_panels_fit_a_projector_and_the_summary_row_compares_them(page: Page) -> None:
    _click_and_wait(page, "#run")
    for style in PANELS:
        box = page.locator(f"#panel-{style}").bounding_box()
        assert box is not None and box["height"] > 150, style
        assert box["y"] + box["height"] <= PROJECTOR["height"] + 1, (style, box)
        assert box["x"] + box["width"] <= PROJECTOR["width"], (style, box)
    status, time, trips = _summary(page, "status"), _summary(page, "time"), _summary(page, "trips")
    assert [status[s] for s in STYLES] == ["200 OK", "200 OK", "OK", "200 OK", "result"]
    for style in STYLES:
        assert time[style].endswith(" ms"), style
        sent, received = _summary(page, "bytes")[style].split(" / ")
        assert int(sent) > 0 and int(received) > 0, style
    assert trips["grpc"] == "1 (+1 via the proxy)" and trips["websocket"] == "1 (+1 handshake)"
    # One timing method, and the page says which.
    assert "measured the same way, in this browser" in page.inner_text("#timing-note")
    assert "from this browser through the proxy" in page.inner_text("#panel-grpc .metrics")


def test_an_error_preset_explains_each_style_and_does_not_stick(page: Page) -> None:
    page.fill("#roomId", "room-b")
    _click_and_wait(page, "button.preset[data-room-id='room-zz']")
    why = {style: page.inner_text(f"#panel-{style} .why") for style in STYLES}
    assert "answered HTTP 200 although the operation failed" in why["graphql"]
    assert "answers 500 for every fault" in why["soap"] and "Client.* (yours)" in why["soap"]
    assert "ErrorInfo.reason (ROOM_NOT_FOUND)" in why["grpc"]
    assert "HTTP 404" in why["rest"] and "error frame" in why["websocket"]
    assert _summary(page, "status")["graphql"] == "200 + errors"
    # The preset's inputs went away: the learner's own are back for the next run.
    assert page.input_value("#roomId") == "room-b"
    assert page.input_value("#operation") == "getRoom"
    _click_and_wait(page, "#run")
    assert _summary(page, "status")["rest"] == "200 OK"


def test_capacity_preset_explains_failed_precondition(page: Page) -> None:
    _click_and_wait(page, "button.preset[data-attendees='40']")
    assert _summary(page, "status")["grpc"] == "FAILED_PRECONDITION"
    assert "all become FAILED_PRECONDITION" in page.inner_text("#panel-grpc .why")
    assert page.input_value("#attendees") == "3" and page.input_value("#operation") == "getRoom"


def test_reset_restores_the_defaults_and_clears_the_panels(page: Page) -> None:
    page.select_option("#operation", "listReservations")
    page.fill("#pageSize", "7")
    _click_and_wait(page, "#run")
    page.click("#reset")
    assert page.input_value("#operation") == "getRoom"
    assert page.input_value("#pageSize") == "3"
    assert page.get_attribute("#panel-rest", "data-outcome") == "idle"
    assert _summary(page, "status")["rest"] == "—"


def wait_until(page: Page, expression: str, timeout: float = 20.0) -> None:
    """Poll an expression from the test side: the page's Content-Security-Policy forbids eval, which
    Playwright's wait_for_function needs inside the page."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def test_int64_as_a_string_is_explained(page: Page) -> None:
    page.select_option("#operation", "createReservation")  # attendees is an int64 in the proto
    _click_and_wait(page, "#run")
    assert "int64 fields as strings" in page.inner_text("#panel-grpc .why")


def test_the_events_tab_shows_one_change_arriving_in_every_push_style(page: Page) -> None:
    page.click("#tab-events")
    assert page.is_visible("#events-table") and not page.is_visible("#panels")
    page.click("#events-subscribe")
    wait_until(
        page,
        "[...document.querySelectorAll('#events-table .state')]"
        ".every(cell => /open|polling/.test(cell.textContent))",
    )
    page.click("#events-change")
    wait_until(page, "document.querySelectorAll('#events-table tr[data-arrived=true]').length === 6")
    for lane in PANELS:
        row = f'#events-table tr[data-lane="{lane}"]'
        assert "reservation.created" in page.inner_text(f"{row} .event"), lane
        assert page.inner_text(f"{row} .lag").endswith(" ms"), lane
    page.click("#events-stop")
    assert page.inner_text('#events-table tr[data-lane="websocket"] .state') == "closed"


def test_the_fault_banner_shows_the_rules_in_force(page: Page, server: LiveServer) -> None:
    assert not page.is_visible("#faults-banner")
    faults = f"{server.base_url}/workshop/faults"
    httpx.put(faults, json={"faults": [{"style": "soap", "operation": "getRoom", "fail": 1}]})
    try:
        _click_and_wait(page, "#run")
        assert "Fault injector ON" in page.inner_text("#faults-banner")
        assert "soap.getRoom: fail 100 %" in page.inner_text("#faults-banner")
        assert "this INTERNAL was injected" in page.inner_text("#panel-soap .why")
        assert _summary(page, "status")["rest"] == "200 OK"  # only SOAP's getRoom fails
    finally:
        httpx.delete(faults)


def test_an_injected_unavailable_is_shown_with_its_wait(page: Page, server: LiveServer) -> None:
    faults = f"{server.base_url}/workshop/faults"
    httpx.put(faults, json={"faults": [{"style": "rest", "operation": "getRoom", "unavailable": 1}]})
    try:
        _click_and_wait(page, "#run")
        assert "rest.getRoom: unavailable 100 %" in page.inner_text("#faults-banner")
        assert _summary(page, "status")["rest"].startswith("503")
        assert "this UNAVAILABLE was injected" in page.inner_text("#panel-rest .why")
    finally:
        httpx.delete(faults)


def test_graphiql_opens_on_a_rosetta_query_or_the_linked_one(browser: Browser, server: LiveServer) -> None:
    context = browser.new_context(viewport=PROJECTOR)
    ide = context.new_page()
    ide.goto(server.base_url + "/graphql")
    ide.wait_for_selector(".graphiql-query-editor")
    assert "every room with its reservations" in ide.inner_text(".graphiql-query-editor")
    ide.goto(server.base_url + "/graphql?query=%7B%20rooms%20%7B%20capacity%20%7D%20%7D")
    ide.wait_for_selector(".graphiql-query-editor")
    assert "capacity" in ide.inner_text(".graphiql-query-editor")
    context.close()
    # An API client asking for JSON still gets the query executed.
    answer = httpx.get(server.base_url + "/graphql", params={"query": "{ rooms { roomId } }"})
    assert answer.json()["data"]["rooms"][0]["roomId"] == "room-a"


def test_the_landing_page_says_what_runs_where(server: LiveServer) -> None:
    page = httpx.get(server.base_url + "/").text
    assert "<svg" in page and "one core" in page and "event log" in page
    assert f"127.0.0.1:{server.runtime.grpc_port}" in page  # the real gRPC address, not the default
    assert "served by this process" in page and "fault injector" in page
    assert "cdn" not in page.lower() and "https://" not in page  # no external assets
    with live_server(styles="rest,grpc") as partial:
        partial_page = httpx.get(partial.base_url + "/").text
    assert partial_page.count('<span class="on">served by this process</span>') == 2
    assert partial_page.count("not in this process") == 4
    assert "fault injector" not in partial_page


def test_the_ways_in_answer(server: LiveServer) -> None:
    guide = httpx.get(server.base_url + "/workshop/")
    assert guide.status_code == 200 and "Agenda: 3 hours" in guide.text
    lab = httpx.get(server.base_url + "/workshop/labs/06-retries/README.md")
    assert lab.status_code == 200 and "idempotency" in lab.text
    assert httpx.get(server.base_url + "/workshop/labs/06-retries/solution/client.py").status_code == 404
    assert httpx.get(server.base_url + "/workshop/../pyproject.toml").status_code == 404
    landing = httpx.get(server.base_url + "/").text
    assert "Benchmark report" in landing and "/workshop/" in landing
