"""Lab 09's checker: against a server of its own with authentication on and a small quota, the learner's
client gets a token by client credentials, carries it in three styles, and waits out a 429 for as long as
its Retry-After says (counted: a client that asks again too soon is refused more often than it calls)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx

from gateway.settings import Settings
from workshop.checking import Hint, LabContext, check, unique_date
from workshop.server import RunningServer, lab_server

QUOTA = "2/s burst 6"  # six calls at once, then two a second: a Retry-After of one second
STYLES = ("rest", "graphql", "grpc")
ROOMS = ["room-a", "room-b", "room-c", "room-d"] * 2


def _server(lab: LabContext) -> RunningServer:
    """The checker's own server: the workshop server runs without identity checks or quotas."""
    if "server" not in lab.state:
        settings = Settings(
            db="memory://", access_log=False, log_level="warning", auth=True, rate_limit=QUOTA
        )
        lab.state["server"] = lab.cleanup.enter_context(lab_server(settings))
    server: RunningServer = lab.state["server"]
    return server


def _where(server: RunningServer) -> dict[str, Any]:
    return {"http": server.base_url, "grpc": server.grpc_target}


@check(
    "A token from /oauth/token (client credentials)",
    "get_token should POST grant_type=client_credentials to the token endpoint named in "
    "/.well-known/oauth-authorization-server, with the client's id and secret (HTTP Basic or form fields), "
    "and return the answer's access_token.",
)
async def token(lab: LabContext) -> str:
    server = _server(lab)
    assert server.demo is not None
    issued = await lab.load("client").get_token(
        server.base_url, server.demo["clientId"], server.demo["clientSecret"]
    )
    if not isinstance(issued, str) or issued.count(".") != 2:
        raise Hint(
            f"get_token returned {issued!r}: return the access_token of the answer (a JWT: three parts)"
        )
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(
            f"{server.base_url}/api/v1/reservations", headers={"Authorization": f"Bearer {issued}"}
        )
    if answer.status_code != 200:
        raise Hint(
            f"the server refused the token get_token returned ({answer.status_code}): is it the access_token?"
        )
    lab.state["token"] = issued
    return "a bearer token the server accepts"


CARRIED = (
    "each style carries the token its own way: an Authorization: Bearer header over HTTP (REST, GraphQL), "
    "authorization metadata in gRPC."
)


@check("The same token carried in REST, GraphQL and gRPC", CARRIED)
async def styles(lab: LabContext) -> str:
    server = _server(lab)
    bearer = {"Authorization": f"Bearer {lab.state['token']}"}
    guest = f"Lab 09 {secrets.token_hex(4)}"
    draft = {
        "roomId": "room-b", "guestName": guest, "date": unique_date(),
        "startTime": "10:00", "endTime": "11:00", "attendees": 2,
    }  # fmt: skip
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(f"{server.base_url}/api/v1/reservations", json=draft, headers=bearer)
    created.raise_for_status()
    expected = [created.json()["reservationId"]]
    for style in STYLES:
        try:
            found = await lab.load("client").reservation_ids(_where(server), lab.state["token"], style, guest)
        except Exception as error:
            refused = "401" in str(error) or "UNAUTHENTICATED" in str(error).upper()
            why = "the server did not see the token" if refused else f"{type(error).__name__}: {error}"
            raise Hint(f"{style}: {why}. {CARRIED}") from None
        if list(found) != expected:
            raise Hint(
                f"{style}: reservation_ids returned {found!r}, expected the one reservation {expected}"
            )
    return "one reservation found in " + ", ".join(STYLES)


def _refusals(metrics: str) -> float:
    pattern = r'rosetta_access_refusals_total\{client="demo",code="RATE_LIMITED",style="rest"\} ([0-9.]+)'
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


@check(
    "A 429 waited out for its Retry-After, then asked again",
    "a 429 is not a failure: wait as many seconds as its Retry-After header says, then ask again.",
)
async def patience(lab: LabContext) -> str:
    server = _server(lab)
    async with httpx.AsyncClient(timeout=10) as http:
        before = _refusals((await http.get(f"{server.base_url}/metrics")).text)
        rooms = await lab.load("client").get_rooms(_where(server), lab.state["token"], list(ROOMS))
        refused = _refusals((await http.get(f"{server.base_url}/metrics")).text) - before
    if [room.get("roomId") for room in rooms] != ROOMS:
        raise Hint(f"get_rooms should return the {len(ROOMS)} rooms asked for, in order")
    if refused == 0:
        raise Hint("the quota never refused a call: get_rooms must call the server once per room, in turn")
    if refused > len(ROOMS):
        raise Hint(
            f"{len(ROOMS)} rooms took {refused:.0f} refusals: your client asked again before the Retry-After "
            "had passed. Sleep for the whole wait the header names"
        )
    return f"{len(ROOMS)} rooms, refused {refused:.0f} times, each refusal waited out"


CHECKS = [token, styles, patience]
