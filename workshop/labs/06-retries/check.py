"""Lab 06's checker: the fault injector drops answers after the commit and fails calls before it; the
learner's client must end with exactly one reservation, and must not retry what cannot succeed."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from workshop.checking import Hint, LabContext, check, unique_date

STYLES = ("rest", "graphql", "grpc", "soap", "websocket")


async def _faults(lab: LabContext, rules: list[dict[str, Any]]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.put(f"{lab.base_url}/workshop/faults", json={"faults": rules})
    if response.status_code == 404:
        raise Hint(
            "this server has no fault injector: start it with `rosetta workshop serve` (or --workshop)"
        )
    response.raise_for_status()
    return dict(response.json())


async def _snapshot(lab: LabContext) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        return dict((await http.get(f"{lab.base_url}/workshop/faults")).json())


async def _clear(lab: LabContext) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        await http.delete(f"{lab.base_url}/workshop/faults")


def _style(lab: LabContext) -> str:
    style = getattr(lab.load("client"), "STYLE", None)
    if style not in STYLES:
        raise Hint(f"set STYLE in client.py to the style your client speaks: one of {', '.join(STYLES)}")
    return str(style)


def _draft(guest: str, attendees: int = 2) -> dict[str, Any]:
    return {
        "roomId": "room-a",
        "guestName": guest,
        "date": unique_date(),
        "startTime": "15:00",
        "endTime": "16:00",
        "attendees": attendees,
    }


async def _held(lab: LabContext, guest: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        page = (await http.get(f"{lab.base_url}/api/v1/reservations", params={"guestName": guest})).json()
    return list(page.get("items", []))


async def _book_under(lab: LabContext, rule: dict[str, Any], lost: str) -> str:
    style = _style(lab)
    lab.cleanup.push_async_callback(_clear, lab)
    await _faults(lab, [{"style": style, "operation": "createReservation", **rule}])
    guest = f"Lab 06 {secrets.token_hex(4)}"
    server = {"http": lab.base_url, "grpc": lab.grpc_target, "headers": lab.headers()}
    try:
        returned = await lab.load("client").book(server, _draft(guest))
    except Exception as error:
        held = await _held(lab, guest)
        if held and "drop" in rule:
            raise Hint(
                f"your client reported {type(error).__name__} but the reservation exists: the answer was "
                "lost after the commit. Retry — and send the same idempotency key with every attempt, or the "
                "retry collides with your own first attempt instead of getting its result"
            ) from None
        raise Hint(
            f"your client gave up with {type(error).__name__}: {error}. {lost} — retry INTERNAL/UNAVAILABLE "
            "(and timeouts) a few times with a growing pause"
        ) from None
    finally:
        await _clear(lab)
    held = await _held(lab, guest)
    if len(held) != 1:
        raise Hint(f"the server holds {len(held)} reservations for one booking: retries must not duplicate")
    if held[0]["reservationId"] != returned:
        raise Hint("book() should return the reservationId the server holds")
    return style


@check("Two answers dropped after the commit: one reservation, its id returned", "book(server, draft) -> id")
async def dropped(lab: LabContext) -> str:
    style = await _book_under(lab, {"drop": 1, "times": 2}, "The first two answers were dropped")
    return f"{style}: 2 answers lost, 1 reservation"


@check("Two calls failed before the commit: still one reservation", "retry INTERNAL errors.")
async def failed(lab: LabContext) -> str:
    style = await _book_under(lab, {"fail": 1, "times": 2}, "The first two calls failed with INTERNAL")
    return f"{style}: 2 failures, 1 reservation"


@check(
    "Two calls refused as UNAVAILABLE: still one reservation",
    "retry UNAVAILABLE (HTTP 503, gRPC UNAVAILABLE, a Server.UNAVAILABLE fault) after the wait it names.",
)
async def unavailable(lab: LabContext) -> str:
    lost = "The first two calls were refused as UNAVAILABLE, each naming a one-second wait"
    style = await _book_under(lab, {"unavailable": 1, "times": 2}, lost)
    return f"{style}: 2 refusals, 1 reservation"


@check("A client mistake is not retried", "only retry what may succeed next time.")
async def not_retried(lab: LabContext) -> str:
    style = _style(lab)
    await _faults(lab, [])  # no faults, but the injector counts the calls
    server = {"http": lab.base_url, "grpc": lab.grpc_target, "headers": lab.headers()}
    try:
        await lab.load("client").book(server, _draft(f"Lab 06 {secrets.token_hex(4)}", attendees=99))
    except Exception:
        pass
    else:
        raise Hint("99 attendees in a room for 4 should fail: book() must raise when the server refuses")
    calls = (await _snapshot(lab))["calls"].get(f"{style}.createReservation", 0)
    if calls != 1:
        raise Hint(
            f"your client sent a CAPACITY_EXCEEDED request {calls} times: a 4xx (or INVALID_ARGUMENT, "
            "FAILED_PRECONDITION, a Client fault) cannot succeed by repeating it"
        )
    return "CAPACITY_EXCEEDED tried once"


CHECKS = [dropped, failed, unavailable, not_retried]
