"""/docs (Swagger UI) and /graphql (GraphiQL) in a real browser with no internet: every asset is local."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Response, Route

from services.graphql.app import graphiql_html
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="rest,graphql") as running:
        yield running


@dataclass
class Offline:
    """A page whose requests to any host but 127.0.0.1 are aborted, with what went wrong on it."""

    page: Page
    left_the_machine: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def assert_self_contained(self) -> None:
        assert self.left_the_machine == [], f"requests to other hosts: {self.left_the_machine}"
        assert self.failed == [], f"failed local requests: {self.failed}"
        assert self.script_errors == [], f"script errors on the page: {self.script_errors}"


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    state = Offline(page)

    def route(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            state.left_the_machine.append(route.request.url)
            route.abort()

    def on_response(response: Response) -> None:
        if response.status >= 400:
            state.failed.append(f"{response.status} {response.url}")

    def on_failed(request: Request) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1":
            state.failed.append(f"{request.failure} {request.url}")

    context.route(re.compile(r"^(?!data:)"), route)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    page.on("pageerror", lambda error: state.script_errors.append(str(error)))
    yield state
    context.close()


def test_swagger_ui_lists_the_operations_offline(server: LiveServer, offline: Offline) -> None:
    page = offline.page
    page.goto(server.base_url + "/docs")
    create = page.locator('.opblock-post .opblock-summary-path[data-path="/api/v1/reservations"]')
    create.wait_for(timeout=10_000)
    page.locator('.opblock-get .opblock-summary-path[data-path="/api/v1/reservations"]').wait_for()
    assert page.locator(".opblock").count() >= 10
    assert "Rosetta" in page.inner_text(".info .title")
    page.screenshot(path="/tmp/offline-docs.png")
    offline.assert_self_contained()


def test_graphiql_runs_a_typed_query_offline(server: LiveServer, offline: Offline) -> None:
    rooms = httpx.get(server.base_url + "/api/v1/rooms").json()["items"]
    page = offline.page
    page.goto(server.base_url + "/graphql")  # a navigation: Accept: text/html, so the IDE is served
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    editor.wait_for(timeout=10_000)
    # The schema arrived through introspection (the docs explorer button appears once it has).
    page.locator(".graphiql-sidebar button[aria-label='Show Documentation Explorer']").wait_for()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text("{ rooms { roomId name } }")  # no key events: the editor closes no brackets
    page.click(".graphiql-execute-button")
    result = page.locator(".graphiql-response .CodeMirror")
    result.filter(has_text=rooms[-1]["name"]).wait_for(timeout=10_000)
    text = result.inner_text()
    assert all(room["roomId"] in text and room["name"] in text for room in rooms)
    page.screenshot(path="/tmp/offline-graphiql.png")
    offline.assert_self_contained()


def test_the_pages_name_only_local_assets_and_the_gateway_serves_them(server: LiveServer) -> None:
    docs = httpx.get(server.base_url + "/docs").text
    assets = re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', docs + graphiql_html())
    assert len(assets) == 10
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', docs + graphiql_html()) == []
    for asset in assets:
        response = httpx.get(server.base_url + asset)
        assert response.status_code == 200, asset
        assert "immutable" in response.headers["cache-control"]
        expected = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[asset.rsplit(".", 1)[1]]
        assert response.headers["content-type"].startswith(expected)
        again = httpx.get(server.base_url + asset, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    license_text = httpx.get(server.base_url + "/static/vendor/graphiql@3.8.3/LICENSE")
    assert license_text.status_code == 200 and "MIT License" in license_text.text


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/../app.py",
        "/static/vendor/%2e%2e/app.py",
        "/static/vendor/..%2fapp.py",
        "/static/vendor//etc/passwd",
        "/static/vendor/README.md",
        "/static/vendor/graphiql@3.8.3",
        "/static/vendor/",
    ],
)
def test_nothing_outside_the_vendored_files_is_served(server: LiveServer, path: str) -> None:
    with httpx.Client() as client:  # the raw path, not normalised by the client
        request = client.build_request("GET", server.base_url + "/")
        request.url = request.url.copy_with(raw_path=path.encode())
        response = client.send(request)
    assert response.status_code == 404
    assert response.json()["code"] == "MALFORMED_REQUEST"


def test_vendored_files_are_read_only(server: LiveServer) -> None:
    response = httpx.post(server.base_url + "/static/vendor/graphiql@3.8.3/graphiql.min.js", content=b"x")
    assert response.status_code == 405
