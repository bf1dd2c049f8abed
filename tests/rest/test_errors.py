"""RFC 9457 problems: shape, localization, body handling, and no 5xx for a client's mistake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import cast

import httpx
from fastapi import Body

from services.core.api import ServerApi
from services.core.model import Reservation
from services.core.service import ReservationService
from services.rest.app import RestOptions, create_app
from services.store import MemoryStore
from tests.rest.support import create, draft, problem


async def test_problem_carries_every_member_and_the_field(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/reservations", json=draft(date="2031-02-30"))
    body = problem(response, 400, "INVALID_PROPERTY")
    assert body["type"] == "urn:rosetta:problem:invalid-property"
    assert body["title"] == "Invalid property"
    assert body["detail"] == "The property 'date' is invalid: expected a date as YYYY-MM-DD."
    assert body["instance"] == "/api/v1/reservations"
    assert body["errors"] == [{"field": "date", "code": "INVALID_PROPERTY"}]
    assert response.headers["content-language"] == "en"


async def test_problem_language_follows_accept_language_q_values(http: httpx.AsyncClient) -> None:
    url = "/api/v1/rooms/room-z"
    korean = await http.get(url, headers={"accept-language": "ko-KR"})
    assert korean.json()["detail"] == "ID가 'room-z'인 회의실이 없습니다."
    assert korean.json()["title"] == "회의실을 찾을 수 없음"
    assert korean.headers["content-language"] == "ko"
    french = await http.get(url, headers={"accept-language": "ko;q=0.4, fr-CA;q=0.8, de"})
    assert french.headers["content-language"] == "fr"
    assert french.json()["title"] == "Salle introuvable"
    fallback = await http.get(url, headers={"accept-language": "de, ja;q=0.5"})
    assert fallback.headers["content-language"] == "en"


async def test_missing_conflict_and_capacity_map_to_their_statuses(http: httpx.AsyncClient) -> None:
    body = draft()
    del body["guestName"]
    missing = problem(await http.post("/api/v1/reservations", json=body), 400, "MISSING_MANDATORY_PROPERTY")
    assert missing["errors"] == [{"field": "guestName", "code": "MISSING_MANDATORY_PROPERTY"}]
    taken = await create(http)
    clash = draft(date=taken["date"], startTime="09:30", endTime="10:30")
    problem(await http.post("/api/v1/reservations", json=clash), 409, "RESERVATION_CONFLICT")
    crowd = problem(
        await http.post("/api/v1/reservations", json=draft(attendees=99)), 422, "CAPACITY_EXCEEDED"
    )
    assert crowd["errors"][0]["field"] == "attendees"


async def test_bodies_that_cannot_be_read_are_400(http: httpx.AsyncClient) -> None:
    json_type = {"content-type": "application/json"}
    for raw in (b'{"roomId": ', b"[1, 2]", b'"text"', b"NaN", b"[" * 100_000, b"\xff\xfe{"):
        response = await http.post("/api/v1/reservations", content=raw, headers=json_type)
        refused = problem(response, 400, "MALFORMED_REQUEST")
        assert refused["detail"] in {
            "The request could not be read: the body is not well-formed.",
            "The request could not be read: the body must be a JSON object.",
        }, raw
    unreadable = await http.post("/api/v1/reservations", content=b'{"roomId": ', headers=json_type)
    assert problem(unreadable, 400, "MALFORMED_REQUEST")["detail"] == (
        "The request could not be read: the body is not well-formed."
    )
    unknown = await http.post("/api/v1/reservations", json=draft(colour="blue"))
    assert problem(unknown, 400, "INVALID_PROPERTY")["errors"] == [
        {"field": "colour", "code": "INVALID_PROPERTY"}
    ]


async def test_a_body_over_the_limit_is_413(http: httpx.AsyncClient, server: object) -> None:
    huge = json.dumps(draft(purpose="x" * 300_000)).encode()
    problem(
        await http.post("/api/v1/reservations", content=huge, headers={"content-type": "application/json"}),
        413,
        "PAYLOAD_TOO_LARGE",
    )

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(30):
            yield b" " * 10_000

    streamed = await http.post(
        "/api/v1/reservations", content=chunks(), headers={"content-type": "application/json"}
    )
    problem(streamed, 413, "PAYLOAD_TOO_LARGE")


async def test_wrong_content_type_is_415(http: httpx.AsyncClient) -> None:
    body = json.dumps(draft()).encode()
    for content_type in ("text/plain", "application/xml", None):
        headers = {"content-type": content_type} if content_type else {}
        problem(
            await http.post("/api/v1/reservations", content=body, headers=headers), 415, "MALFORMED_REQUEST"
        )
    created = await create(http)
    url = created["_links"]["self"]["href"]
    patch = await http.patch(url, content=b'{"attendees": 2}', headers={"content-type": "text/plain"})
    problem(patch, 415, "MALFORMED_REQUEST")
    assert "application/merge-patch+json" in patch.headers["accept-patch"]
    cancel = await http.post(url + "/cancel", content=b"reason=ill", headers={"content-type": "text/plain"})
    problem(cancel, 415, "MALFORMED_REQUEST")


async def test_unknown_paths_are_404_problems(http: httpx.AsyncClient) -> None:
    for path in ("/api/v2/rooms", "/api/v1/rooms/room-a/chairs", "/api/v1/rooms/"):
        body = problem(await http.get(path), 404, "MALFORMED_REQUEST")
        assert body["instance"] == path


async def test_http_refusals_speak_the_callers_language(http: httpx.AsyncClient) -> None:
    korean = {"accept-language": "ko"}
    nowhere = problem(await http.get("/api/v1/chairs", headers=korean), 404, "MALFORMED_REQUEST")
    assert nowhere["detail"] == "요청을 읽을 수 없습니다: 이 경로에는 리소스가 없습니다."
    wrong = problem(await http.put("/api/v1/rooms", headers=korean), 405, "MALFORMED_REQUEST")
    assert wrong["detail"] == "요청을 읽을 수 없습니다: 이 리소스에는 이 메서드를 사용할 수 없습니다."
    french = {"accept-language": "fr", "content-type": "text/plain"}
    media = problem(
        await http.post("/api/v1/reservations", content=b"{}", headers=french), 415, "MALFORMED_REQUEST"
    )
    assert media["detail"] == (
        "La requête n'a pas pu être lue : "
        "le corps doit être envoyé dans l'un des types de média pris en charge."
    )
    array = {"accept-language": "fr"}
    not_object = problem(
        await http.post("/api/v1/reservations", json=[1], headers=array), 400, "MALFORMED_REQUEST"
    )
    assert not_object["detail"] == "La requête n'a pas pu être lue : le corps doit être un objet JSON."


def _app_with(api: object) -> httpx.AsyncClient:
    app = create_app(cast(ServerApi, api), RestOptions())  # a partial fake of the port
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rest.test")


async def test_fastapi_validation_errors_are_mapped_to_the_catalog() -> None:
    """A route declared the FastAPI way (typed parameters) still answers with catalog problems."""
    app = create_app(ReservationService(MemoryStore()), RestOptions())

    @app.post("/api/v1/probe/{count}")
    async def probe(count: int, size: int, payload: dict[str, int] = Body()) -> dict[str, int]:  # noqa: B008
        return {"count": count}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rest.test") as http:
        path = await http.post("/api/v1/probe/x?size=1", json={})
        assert problem(path, 400, "INVALID_PROPERTY")["errors"][0]["field"] == "count"
        query = await http.post("/api/v1/probe/1", json={})
        assert problem(query, 400, "MISSING_MANDATORY_PROPERTY")["errors"][0]["field"] == "size"
        body = await http.post("/api/v1/probe/1?size=1", json={"a": "b"})
        assert problem(body, 400, "INVALID_PROPERTY")["errors"][0]["field"] == "a"
        broken = await http.post(
            "/api/v1/probe/1?size=1", content=b"{", headers={"content-type": "application/json"}
        )
        assert problem(broken, 400, "MALFORMED_REQUEST")["detail"] == (
            "The request could not be read: the body is not well-formed."
        )


class _BrokenApi:
    async def get_reservation(self, reservation_id: str) -> Reservation:
        raise RuntimeError("database password is hunter2")


async def test_unexpected_failures_are_500_without_internals() -> None:
    async with _app_with(_BrokenApi()) as http:
        response = await http.get("/api/v1/reservations/rsv_x", headers={"accept-language": "fr"})
    body = problem(response, 500, "INTERNAL")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["detail"] == "Une erreur inattendue s'est produite sur le serveur."
