"""Subscriptions over graphql-transport-ws: events pushed after mutations, localized errors, the cap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from services.graphql.client import GraphQLClient
from tests.graphql.conftest import draft
from tests.support.server import LiveServer
from tests.support.subprotocols import GRAPHQL_TRANSPORT_WS

EVENTS = (
    "subscription($after: Int!, $types: [String!]) { reservationEvents(after: $after, types: $types) "
    "{ sequence type occurredAt data { reservationId status version room { name } } } }"
)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    return message


async def subscribe(ws: ClientConnection, id: str, variables: dict[str, Any]) -> None:
    await ws.send(
        json.dumps({"id": id, "type": "subscribe", "payload": {"query": EVENTS, "variables": variables}})
    )


@pytest.fixture
async def ws(server: LiveServer) -> AsyncIterator[ClientConnection]:
    url = server.base_url.replace("http://", "ws://") + "/graphql?lang=ko"
    async with connect(url, subprotocols=[GRAPHQL_TRANSPORT_WS]) as opened:
        await opened.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert await receive(opened) == {"type": "connection_ack"}
        yield opened


async def last_sequence(client: GraphQLClient) -> int:
    events = await client.watch_events(0, limit=1000)
    return events[-1].sequence if events else 0


async def test_subscriber_receives_the_events_of_later_mutations(
    ws: ClientConnection, client: GraphQLClient
) -> None:
    after = await last_sequence(client)
    await subscribe(ws, "s1", {"after": after})

    created = await client.create_reservation(draft(room_id="room-c"))
    first = await receive(ws)
    canceled = await client.cancel_reservation(created.reservation_id, reason="rain")
    second = await receive(ws)

    assert first["id"] == "s1" and first["type"] == "next"
    event = first["payload"]["data"]["reservationEvents"]
    assert event["sequence"] == after + 1
    assert event["type"] == "reservation.created"
    assert event["data"] == {
        "reservationId": created.reservation_id,
        "status": "RESERVED",
        "version": 1,
        "room": {"name": "Curie"},
    }
    assert second["payload"]["data"]["reservationEvents"]["data"]["status"] == "CANCELED"
    assert second["payload"]["data"]["reservationEvents"]["data"]["version"] == canceled.version
    await ws.send(json.dumps({"id": "s1", "type": "complete"}))


async def test_type_filter_skips_other_events(ws: ClientConnection, client: GraphQLClient) -> None:
    after = await last_sequence(client)
    await subscribe(ws, "checks", {"after": after, "types": ["reservation.checked_in"]})

    created = await client.create_reservation(draft())
    await client.check_in_reservation(created.reservation_id)
    message = await receive(ws)

    event = message["payload"]["data"]["reservationEvents"]
    assert (event["type"], event["data"]["reservationId"]) == (
        "reservation.checked_in",
        created.reservation_id,
    )


async def test_subscription_errors_are_coded_and_in_the_connection_language(ws: ClientConnection) -> None:
    await subscribe(ws, "bad", {"after": 0, "types": ["reservation.exploded"]})

    message = await receive(ws)

    # The core refuses the filter when the stream starts: a result with errors, then completion.
    assert (message["id"], message["type"]) == ("bad", "next")
    errors = message["payload"]["errors"]
    assert errors[0]["extensions"] == {"code": "INVALID_PROPERTY", "field": "types"}
    assert errors[0]["message"].startswith("'types' 속성이 올바르지 않습니다")
    assert await receive(ws) == {"id": "bad", "type": "complete"}


async def test_invalid_subscription_document_is_refused_with_a_code(ws: ClientConnection) -> None:
    await ws.send(
        json.dumps({"id": "v", "type": "subscribe", "payload": {"query": "subscription { nothing }"}})
    )

    message = await receive(ws)

    assert message["type"] == "error"
    assert message["payload"][0]["extensions"] == {"code": "INVALID_PROPERTY", "field": "nothing"}


async def test_subscriptions_per_connection_are_capped(ws: ClientConnection, server: LiveServer) -> None:
    cap = 10  # GraphQLOptions.max_subscriptions_per_connection
    for n in range(cap):
        await subscribe(ws, f"s{n}", {"after": 10**6})

    await subscribe(ws, "one-too-many", {"after": 10**6})
    message = await receive(ws)

    assert message["id"] == "one-too-many"
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"] == {"code": "RATE_LIMITED"}
    assert message["payload"][0]["message"] == "요청이 너무 많습니다. 잠시 후 다시 시도하세요."
