"""Fixtures of the GraphQL tests: one live gateway (GraphQL only) per module, and clients for it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.core.model import ReservationDraft
from services.graphql.client import GraphQLClient
from tests.support.drafts import draft as base_draft
from tests.support.server import LiveServer, live_server

_days = itertools.count(1)


def free_date() -> str:
    """A date no other test of the session has used, so reservations never collide."""
    return (date(2031, 1, 1) + timedelta(days=next(_days))).isoformat()


def draft(**changes: Any) -> ReservationDraft:
    values = {"guest_name": "Ada Lovelace", "date": free_date(), "start_time": "10:00", "end_time": "11:30"}
    return base_draft(**values | {"purpose": "study group"} | changes)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="graphql") as running:
        yield running


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[GraphQLClient]:
    async with GraphQLClient(server.base_url) as opened:
        yield opened


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url) as opened:
        yield opened


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *, language: str = "en"
) -> dict[str, Any]:
    """POST one GraphQL request and return the JSON body (asserting GraphQL's HTTP 200)."""
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"accept-language": language}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
