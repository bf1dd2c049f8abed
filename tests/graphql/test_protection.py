"""Protection: depth, alias and token limits, introspection switch, GraphiQL, WebSocket origins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.graphql.conftest import post
from tests.support.server import LiveServer, live_server
from tests.support.subprotocols import GRAPHQL_TRANSPORT_WS


def nested(depth: int) -> str:
    """A query whose deepest field sits ``depth`` levels down (rooms > reservations > room > ...).

    Pages of one reservation keep it under the cost limit: only its depth is at stake here.
    """
    inner = "roomId"
    for level in range(depth - 1, 0, -1):
        inner = f"{'reservations(first: 1)' if level % 2 else 'room'} {{ {inner} }}"
    return f"{{ rooms {{ {inner} }} }}" if depth > 1 else "{ rooms { roomId } }"


def limit_error(body: dict[str, Any]) -> dict[str, Any]:
    assert "data" not in body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"] == {"code": "INVALID_PROPERTY", "field": "query"}
    return error


async def test_depth_limit(http: httpx.AsyncClient, server: LiveServer) -> None:
    limit = server.settings.graphql_max_depth

    allowed = await post(http, nested(limit))
    refused = await post(http, nested(limit + 1), language="ko")

    assert "errors" not in allowed
    assert (
        limit_error(refused)["message"]
        == f"'query' 속성이 올바르지 않습니다: 쿼리 중첩이 {limit}단계를 넘습니다."
    )


async def test_alias_limit(http: httpx.AsyncClient, server: LiveServer) -> None:
    limit = server.settings.graphql_max_aliases

    def aliased(count: int) -> str:
        return "{ " + " ".join(f"r{n}: rooms {{ roomId }}" for n in range(count)) + " }"

    allowed = await post(http, aliased(limit))
    refused = await post(http, aliased(limit + 1))

    assert len(allowed["data"]) == limit
    assert (
        limit_error(refused)["message"]
        == f"The property 'query' is invalid: the query uses more than {limit} aliases."
    )


async def test_token_limit(http: httpx.AsyncClient, server: LiveServer) -> None:
    limit = server.settings.graphql_max_tokens

    # '{ events(types: [' + n strings + ']) { sequence } }' is n + 12 tokens (the end of input is one).
    def listing(count: int) -> str:
        return "{ events(types: [" + '"reservation.created" ' * count + "]) { sequence } }"

    allowed = await post(http, listing(limit - 12))
    refused = await post(http, listing(limit - 11), language="fr")

    assert "errors" not in allowed
    assert limit_error(refused)["message"] == (
        f"La propriété « query » est invalide : la requête compte plus de {limit} jetons."
    )


async def test_comments_count_against_the_token_limit(http: httpx.AsyncClient, server: LiveServer) -> None:
    padding = "# padding\n" * (server.settings.graphql_max_tokens + 1)

    limit_error(await post(http, padding + "{ rooms { name } }"))


async def test_introspection_is_on_by_default(http: httpx.AsyncClient) -> None:
    body = await post(http, '{ __type(name: "ReservationStatus") { enumValues { name } } }')

    assert [value["name"] for value in body["data"]["__type"]["enumValues"]] == [
        "RESERVED",
        "CHECKED_IN",
        "CANCELED",
    ]


@pytest.fixture(scope="module")
def closed_server() -> Iterator[LiveServer]:
    with live_server(styles="graphql", graphql_introspection=False) as running:
        yield running


async def test_introspection_can_be_switched_off(closed_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=closed_server.base_url) as http:
        refused = await post(http, "{ __schema { queryType { name } } }")
        ordinary = await post(http, '{ room(roomId: "room-a") { name } }')

    assert refused["errors"][0]["extensions"] == {"code": "INVALID_PROPERTY", "field": "__schema"}
    assert ordinary == {"data": {"room": {"name": "Ada"}}}


async def test_graphiql_is_served_to_browsers(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html,application/xhtml+xml"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_cross_origin_websocket_is_refused_same_origin_accepted(server: LiveServer) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"

    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=[GRAPHQL_TRANSPORT_WS], origin=Origin("https://evil.example")):
            pass
    async with connect(url, subprotocols=[GRAPHQL_TRANSPORT_WS], origin=Origin(server.base_url)) as ws:
        assert ws.subprotocol == "graphql-transport-ws"

    assert refused.value.response.status_code == 403
