"""Concurrent creates of one slot against SQLite: exactly one wins, and one event records it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.rest.support import draft
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path: Path = tmp_path_factory.mktemp("rest-sqlite") / "x.db"
    with live_server(styles="rest", db=f"sqlite:///{path}") as running:
        yield running


async def test_twenty_concurrent_creates_of_one_slot(sqlite_server: LiveServer) -> None:
    body = draft(roomId="room-a", attendees=2)
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=sqlite_server.base_url, limits=limits) as http:
        responses = await asyncio.gather(
            *(http.post("/api/v1/reservations", json={**body, "guestName": f"Racer {n}"}) for n in range(20))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 19
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {"RESERVATION_CONFLICT"}
        winner = next(r.json() for r in responses if r.status_code == 201)

        events = (await http.get("/api/v1/events", params={"limit": 1000})).json()["items"]
        created = [
            e for e in events if e["type"] == "reservation.created" and e["data"]["date"] == body["date"]
        ]
        assert [e["data"]["reservationId"] for e in created] == [winner["reservationId"]]
