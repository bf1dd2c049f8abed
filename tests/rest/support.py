"""Helpers for the REST tests: fresh, non-overlapping reservation bodies and quick creation."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import httpx

_days = itertools.count()


def fresh_date() -> str:
    """A date no other test in this process has used, so slots never collide by accident."""
    return (date(2031, 1, 1) + timedelta(days=next(_days))).isoformat()


def draft(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "roomId": "room-b",
        "guestName": "Grace Hopper",
        "date": fresh_date(),
        "startTime": "09:00",
        "endTime": "10:00",
        "attendees": 3,
    }
    body.update(overrides)
    return body


async def create(http: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await http.post("/api/v1/reservations", json=draft(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with this status and catalog code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body
