"""GET /api/v1/events as text/event-stream: live events, ids = sequences, resume with Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from tests.support.server import LiveServer

BODY = {"roomId": "room-c", "guestName": "SSE", "startTime": "09:00", "endTime": "10:00", "attendees": 2}


async def _frames(response: httpx.Response, count: int) -> AsyncIterator[dict[str, str]]:
    frame: dict[str, str] = {}
    seen = 0
    async for line in response.aiter_lines():
        if line == "":
            if "data" in frame:
                yield frame
                seen += 1
                if seen == count:
                    return
            frame = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            frame[name] = value


async def test_event_stream_pushes_new_events_and_resumes_from_last_event_id(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        start = (await http.get("/api/v1/events", params={"after": 0, "limit": 1000})).json()["items"]
        after = start[-1]["sequence"] if start else 0
        headers = {"Accept": "text/event-stream"}
        async with http.stream("GET", "/api/v1/events", params={"after": after}, headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            created = (await http.post("/api/v1/reservations", json={**BODY, "date": "2032-01-05"})).json()
            await http.post(f"/api/v1/reservations/{created['reservationId']}/check-in")
            frames = [frame async for frame in _frames(stream, 2)]
        assert [f["event"] for f in frames] == ["reservation.created", "reservation.checked_in"]
        assert [int(f["id"]) for f in frames] == [after + 1, after + 2]
        payload = json.loads(frames[0]["data"])
        assert (
            payload["sequence"] == after + 1 and payload["data"]["reservationId"] == created["reservationId"]
        )

        # Reconnect as EventSource does: Last-Event-ID wins over ?after, no gap and no duplicate.
        resume = {**headers, "Last-Event-ID": frames[0]["id"]}
        async with http.stream("GET", "/api/v1/events", params={"after": 0}, headers=resume) as stream:
            again = [frame async for frame in _frames(stream, 1)]
        assert again[0]["id"] == frames[1]["id"]


async def test_event_stream_refuses_bad_arguments_before_streaming(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.get(
            "/api/v1/events",
            params={"types": "reservation.exploded"},
            headers={"Accept": "text/event-stream"},
        )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_PROPERTY" and response.json()["errors"][0]["field"] == "types"
