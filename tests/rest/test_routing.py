"""The compiled routes answer exactly as FastAPI's own request handling of the same operations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute, request_response
from starlette.datastructures import QueryParams

from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.rest.app import RestOptions, create_app
from services.rest.routing import CompiledRoute, Plan
from services.store import MemoryStore
from tests.rest.support import draft

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/v1", {}),
    ("GET", "/api/v1/rooms", {"headers": {"accept": "text/csv"}}),
    ("GET", "/api/v1/rooms", {"headers": {"range": "items=1-2"}}),
    ("GET", "/api/v1/rooms/room-z", {"headers": {"accept-language": "ko"}}),
    ("GET", "/api/v1/rooms/room-a/reservations", {"params": {"pageSize": "1", "sort": "-date"}}),
    ("GET", "/api/v1/reservations", {"params": {"page": "x"}}),
    ("GET", "/api/v1/reservations", {"params": {"pageSize": "0", "status": "RESERVED"}}),
    ("GET", "/api/v1/reservations", {"params": {"colour": "blue"}}),
    ("GET", "/api/v1/reservations", {"params": {"status": "", "guestName": "gue"}}),
    ("GET", "/api/v1/reservations", {"params": {"page": "2", "pageSize": "1", "dateFrom": "2031-01-01"}}),
    ("GET", "/api/v1/reservations", {"params": {"page": "1.5", "pageSize": "101", "dateTo": "2031"}}),
    ("GET", "/api/v1/reservations", {"params": [("page", "1"), ("page", "2")]}),
    ("GET", "/api/v1/rooms/room-a/reservations", {"params": {"status": "NOPE", "page": " 1"}}),
    ("GET", "/api/v1/reservations", {"headers": {"accept": "application/vnd.siren+json"}}),
    ("GET", "/api/v1/reservations/{id}", {"headers": {"accept": "application/hal+json"}}),
    ("GET", "/api/v1/reservations/{id}", {"headers": {"if-none-match": '"{id}.1"'}}),
    ("GET", "/api/v1/reservations/{id}", {"headers": {"accept": "image/png"}}),
    ("PATCH", "/api/v1/reservations/{id}", {"json": {"attendees": 2}, "headers": {"if-match": '"{id}.9"'}}),
    ("GET", "/api/v1/events", {"params": {"after": "-1"}}),
    ("GET", "/api/v1/events", {"params": [("types", "reservation.created"), ("limit", "2")]}),
    ("GET", "/api/v1/events", {"params": [("types", "reservation.created,reservation.canceled")]}),
    ("GET", "/api/v1/events", {"params": {"limit": "0", "after": "x"}}),
    ("OPTIONS", "/api/v1/reservations/{id}", {}),
    ("DELETE", "/api/v1/reservations/{id}", {}),
    ("POST", "/api/v1/reservations/{id}/check-in", {"json": {"now": True}}),
    ("POST", "/api/v1/reservations/{id}/cancel", {"json": {"reason": "rain"}}),
]


def _fastapi_handled(app: Any) -> Any:
    for route in app.routes:
        if isinstance(route, CompiledRoute):
            route.app = request_response(APIRoute.get_route_handler(route))
    return app


async def _answers(app: Any) -> list[tuple[int, str, bytes]]:
    answers = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rest.test") as http:
        created = await http.post("/api/v1/reservations", json=draft(roomId="room-a", date="2031-03-03"))
        reservation_id = created.json()["reservationId"]
        for method, path, options in REQUESTS:
            if "headers" in options:
                options = {
                    **options,
                    "headers": {k: v.replace("{id}", reservation_id) for k, v in options["headers"].items()},
                }
            response = await http.request(method, path.replace("{id}", reservation_id), **options)
            answers.append((response.status_code, response.headers.get("allow", ""), response.content))
    return [
        (status, allow, body.replace(reservation_id.encode(), b"{id}")) for status, allow, body in answers
    ]


@pytest.mark.parametrize("base_url", ["", "http://127.0.0.1:8000"])
async def test_compiled_and_fastapi_handling_answer_alike(base_url: str) -> None:
    def app() -> Any:
        service = ReservationService(MemoryStore(), notifier=InProcessNotifier())
        return create_app(service, RestOptions(base_url=base_url))

    compiled = app()
    assert sum(isinstance(r, CompiledRoute) and r.plan is not None for r in compiled.routes) >= 11
    mine, theirs = await _answers(compiled), await _answers(_fastapi_handled(app()))
    # Timestamps differ between the two stores: compare everything else.
    assert [(s, a) for s, a, _ in mine] == [(s, a) for s, a, _ in theirs]
    assert [len(b) for _, _, b in mine] == [len(b) for _, _, b in theirs]
    # A refusal carries no timestamp: the same problem, word for word.
    assert [b for s, _, b in mine if s >= 400] == [b for s, _, b in theirs if s >= 400]
    assert {s for s, _, _ in mine} >= {200, 204, 206, 304, 400, 404, 405, 406, 412}


def _plans(plan: Plan) -> list[Plan]:
    return [plan, *(found for step in plan.steps for found in _plans(step.plan))]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "page=2&pageSize=5&sort=-date",
        "page=x&pageSize=0&limit=1001",
        "page=1.5&pageSize= 7&after=-1",
        "status=RESERVED&guestName=a&roomId=room-a&dateFrom=2031-01-01&dateTo=",
        "types=reservation.created&types=b,c&limit=3&after=12",
        "page=1&page=2&types=",
    ],
)
def test_query_parameters_are_read_as_fastapi_reads_them(query: str) -> None:
    app = create_app(ReservationService(MemoryStore(), notifier=InProcessNotifier()))
    plans = [p for r in app.routes if isinstance(r, CompiledRoute) and r.plan for p in _plans(r.plan)]
    read = [plan for plan in plans if plan.queries]
    assert len(read) >= 3 and not any(plan.other_queries for plan in plans)
    source = QueryParams(query)
    for plan in read:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for parameter in plan.queries:
            parameter.read(source, values, errors)
        assert (values, errors) == request_params_to_args([p.field for p in plan.queries], source)
