"""Lab 05's checker: serves the learner's GraphQL app over a real server's data (through the REST client),
counts the store calls a rooms-with-reservations query makes, and checks the answer."""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

import httpx

from services.core.model import ReservationQuery
from services.rest.client import RestClient
from workshop.checking import Hint, LabContext, check, unique_date
from workshop.server import serve_asgi

QUERY = (
    "query Day($date: String!) { rooms { roomId name reservations(date: $date) { guestName startTime } } }"
)


class CountingApi:
    """The operations the learner's resolvers may call, each a real request to the server, counted."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.calls: Counter[str] = Counter()

    async def list_rooms(self) -> Any:
        self.calls["list_rooms"] += 1
        async with RestClient(self.base_url) as client:  # one per call: the app runs on its own loop
            return await client.list_rooms()

    async def list_reservations(self, query: ReservationQuery) -> Any:
        self.calls["list_reservations"] += 1
        async with RestClient(self.base_url) as client:
            return await client.list_reservations(query)


async def _book(lab: LabContext, room: str, date: str, start: str) -> str:
    guest = f"Lab 05 {secrets.token_hex(3)}"
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        made = await http.post(
            f"{lab.base_url}/api/v1/reservations",
            json={
                "roomId": room,
                "guestName": guest,
                "date": date,
                "startTime": start,
                "endTime": f"{int(start[:2]) + 1:02d}:00",
                "attendees": 1,
            },
        )
    made.raise_for_status()
    return guest


async def _query(lab: LabContext, date: str) -> dict[str, list[str]]:
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.post(
            f"{lab.state['app']}/graphql", json={"query": QUERY, "variables": {"date": date}}
        )
    answer = response.json()
    if answer.get("errors"):
        raise Hint(f"your schema answered with an error: {answer['errors'][0].get('message')}")
    rooms = answer["data"]["rooms"]
    return {room["roomId"]: sorted(r["guestName"] for r in room["reservations"]) for room in rooms}


@check("The rooms page is right", "create_app(api) returns a strawberry GraphQL ASGI app (see the starter).")
async def correct(lab: LabContext) -> str:
    api = CountingApi(lab.base_url)
    lab.state["api"] = api
    app = lab.load("schema").create_app(api)
    lab.state["app"] = f"http://127.0.0.1:{lab.cleanup.enter_context(serve_asgi(app))}"
    date = unique_date()
    lab.state["date"] = date
    expected = {
        "room-a": sorted(
            [await _book(lab, "room-a", date, "09:00"), await _book(lab, "room-a", date, "11:00")]
        ),
        "room-b": [await _book(lab, "room-b", date, "09:00")],
    }
    got = await _query(lab, date)
    for room, guests in expected.items():
        if got.get(room) != guests:
            raise Hint(f"{room} should list {len(guests)} reservation(s) on {date}; yours: {got.get(room)}")
    if any(guests for room, guests in got.items() if room not in expected):
        raise Hint("rooms with no reservation that day should list none: filter by room and date")
    return f"{len(got)} rooms, their reservations on {date}"


@check(
    "One store call for all the rooms' reservations (no N+1)", "batch the per-room loads with a DataLoader."
)
async def batched(lab: LabContext) -> str:
    api: CountingApi = lab.state["api"]
    api.calls.clear()
    got = await _query(lab, lab.state["date"])
    calls = api.calls["list_reservations"]
    if calls > 1:
        raise Hint(
            f"{calls} list_reservations calls for {len(got)} rooms: one per room, the N+1 problem. "
            "Collect the rooms' keys in a DataLoader (strawberry.dataloader) and load them in one call"
        )
    return f"{len(got)} rooms: list_rooms ×{api.calls['list_rooms']}, list_reservations ×{calls}"


@check("A new reservation shows up in the next request", "create the DataLoader per request, not once.")
async def fresh(lab: LabContext) -> str:
    guest = await _book(lab, "room-b", lab.state["date"], "13:00")
    got = await _query(lab, lab.state["date"])
    if guest not in got.get("room-b", []):
        raise Hint(
            "the second request did not see a new reservation: your DataLoader caches across requests. "
            "Build it in the request's context (get_context), so its cache lives for one request"
        )
    return "the loader's cache lives for one request"


CHECKS = [correct, batched, fresh]
