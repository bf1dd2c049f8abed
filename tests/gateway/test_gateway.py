"""The gateway's own surface: settings, /healthz, /metrics, request ids, the landing page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.cli import banner
from gateway.settings import STYLES, Settings
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="rest") as running:
        yield running


def test_settings_come_from_the_environment_and_flags_override_them() -> None:
    settings = Settings.from_env(
        {"ROSETTA_PORT": "9000", "ROSETTA_STYLES": "rest,grpc", "ROSETTA_GRAPHQL_INTROSPECTION": "false"}
    )
    assert settings.port == 9000
    assert settings.styles == {"rest", "grpc"}
    assert settings.graphql_introspection is False
    assert settings.override(port="9100", styles="all").port == 9100
    assert settings.override(styles="all").styles == set(STYLES)
    with pytest.raises(ValueError, match="unknown style"):
        Settings.from_env({"ROSETTA_STYLES": "rest,corba"})
    assert Settings(host="0.0.0.0", port=8000).base_url == "http://127.0.0.1:8000"
    assert Settings(public_url="https://demo.example/").base_url == "https://demo.example"


def test_banner_says_where_every_style_is() -> None:
    text = banner(Settings(), 50051)
    for fragment in (
        "/api/v1",
        "/graphql",
        "/soap?wsdl",
        "ws://127.0.0.1:8000/ws",
        "127.0.0.1:50051",
        "/playground",
    ):
        assert fragment in text


def test_healthz_checks_the_store(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/healthz")
    assert response.status_code == 200
    assert response.json()["store"] == "up"


def test_request_id_is_echoed_or_generated(server: LiveServer) -> None:
    echoed = httpx.get(server.base_url + "/healthz", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = httpx.get(server.base_url + "/healthz")
    assert len(generated.headers["x-request-id"]) == 32


def test_metrics_count_operations_by_style_and_code(server: LiveServer) -> None:
    httpx.get(server.base_url + "/api/v1/reservations/rsv_missing")
    body = httpx.get(server.base_url + "/metrics").text
    assert 'rosetta_operations_total{operation="getReservation",style="rest"}' in body
    assert 'code="RESERVATION_NOT_FOUND",operation="getReservation",style="rest"' in body
    assert "rosetta_operation_seconds_bucket" in body
    assert 'rosetta_http_requests_total{method="GET",status="404",style="rest"}' in body


def test_http_requests_are_counted_one_by_one(server: LiveServer) -> None:
    series = 'rosetta_http_requests_total{method="GET",status="404",style="rest"} '

    def counted() -> float:
        for line in httpx.get(server.base_url + "/metrics").text.splitlines():
            if line.startswith(series):
                return float(line.removeprefix(series))
        return 0.0

    before = counted()
    for _ in range(3):
        httpx.get(server.base_url + "/api/v1/reservations/rsv_missing")
    assert counted() - before == 3


def test_landing_page_links_every_style(server: LiveServer) -> None:
    page = httpx.get(server.base_url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for link in ("/api/v1", "/graphql", "/soap?wsdl", "/openapi.json"):
        assert link in page.text


async def test_every_log_line_written_during_a_request_carries_its_request_id() -> None:
    import io
    import json
    import logging

    from starlette.types import Message, Receive, Scope, Send

    from gateway.observability import JsonFormatter, Metrics, ObservabilityMiddleware, RequestIdFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("rosetta.test-request-id")
    for name in ("rosetta.test-request-id", "rosetta.access"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        logger.info("inside the use case")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        return None

    scope: Scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"req-42")]}
    try:
        await ObservabilityMiddleware(app, Metrics())(scope, receive, send)
    finally:
        for name in ("rosetta.test-request-id", "rosetta.access"):
            logging.getLogger(name).removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["inside the use case", "GET /x 204"]
    assert {line["requestId"] for line in lines} == {"req-42"}
    assert lines[1]["status"] == 204 and lines[1]["style"] == "gateway"


def test_the_api_root_links_webhook_subscriptions_only_where_they_are_served(server: LiveServer) -> None:
    assert "webhook-subscriptions" not in httpx.get(server.base_url + "/api/v1").json()["_links"]
    with live_server(styles="rest,webhooks") as both:
        links = httpx.get(both.base_url + "/api/v1").json()["_links"]
        assert httpx.get(links["webhook-subscriptions"]["href"]).status_code == 200


def test_an_unknown_contract_is_a_localized_problem(server: LiveServer) -> None:
    response = httpx.get(server.base_url + "/contracts/nothing.txt", headers={"Accept-Language": "fr"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "MALFORMED_REQUEST" and problem["instance"] == "/contracts/nothing.txt"
    assert problem["title"] == "Requête mal formée"
    assert httpx.get(server.base_url + "/contracts/reservations.proto").status_code == 200


async def test_an_instrumented_view_for_a_principal_counts_like_the_service_and_enforces_ownership() -> None:
    from gateway.observability import InstrumentedApi, Metrics
    from services.core.access import Principal, Scope
    from services.core.errors import Forbidden
    from services.core.model import ReservationDraft
    from services.core.service import ReservationService
    from services.store import MemoryStore

    metrics = Metrics()
    api = InstrumentedApi(ReservationService(MemoryStore()), "rest", metrics)
    alice = api.acting_as(Principal("alice", frozenset({Scope.WRITE}), via="api-key"))
    bob = api.acting_as(Principal("bob", frozenset({Scope.WRITE}), via="api-key"))
    created = await alice.create_reservation(
        ReservationDraft("room-a", "Ada", "2026-12-01", "09:00", "10:00", 2)
    )
    with pytest.raises(Forbidden):
        await bob.cancel_reservation(created.reservation_id)
    sample = metrics.registry.get_sample_value
    assert sample("rosetta_operations_total", {"style": "rest", "operation": "cancelReservation"}) == 1
    errors = {"style": "rest", "operation": "cancelReservation", "code": "FORBIDDEN"}
    assert sample("rosetta_operation_errors_total", errors) == 1
    assert (await api.get_reservation(created.reservation_id)).owner == "alice"  # the plain api stays TRUSTED
