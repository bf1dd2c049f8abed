"""The OpenAPI contract: served, deterministic, exemplified, and true to the server (schemathesis)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as st_checks

from services.core.service import ReservationService
from services.rest.app import RestOptions, create_app
from services.rest.openapi import build_document
from services.store import MemoryStore
from tests.support.server import LiveServer

METHODS = ("get", "post", "patch", "put", "delete")


async def test_openapi_is_served_and_deterministic(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    served = response.json()
    assert served["openapi"] == "3.1.0"
    assert json.dumps(build_document()) == json.dumps(build_document()) == json.dumps(served)


def test_every_route_is_documented_and_every_operation_routed() -> None:
    app = create_app(ReservationService(MemoryStore()), RestOptions())
    routed = {
        (route.path, method.lower())  # type: ignore[attr-defined]
        for route in app.routes
        for method in route.app.handlers  # type: ignore[attr-defined]
        if method not in ("HEAD",) and route.path.startswith("/api/")  # type: ignore[attr-defined]
    }
    documented = {(path, method) for path, item in build_document()["paths"].items() for method in item}
    assert routed == documented


def test_every_operation_and_every_response_has_examples() -> None:
    document = build_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"] and operation["summary"], (path, method)
            body = operation.get("requestBody")
            if body:
                assert all("example" in media for media in body["content"].values()), (path, method)
            for status, response in operation["responses"].items():
                for media_type, media in response.get("content", {}).items():
                    assert "example" in media or media.get("examples"), (path, method, status, media_type)
                if status.startswith(("4", "5")):
                    content: dict[str, Any] = response["content"]["application/problem+json"]
                    assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
                    for example in content["examples"].values():
                        assert example["value"]["status"] == int(status), (path, method, status)


async def test_docs_page_points_at_the_document(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server.base_url, checks=CHECKS)

        exercise()
