"""Errors: catalog codes in errors[].extensions, messages in the caller's language, nothing internal."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import httpx
import pytest

from services.core.api import ServerApi
from services.core.errors import (
    CapacityExceeded,
    InvalidProperty,
    MissingMandatoryProperty,
    RateLimited,
    ReservationConflict,
    RoomNotFound,
)
from services.core.events import InProcessNotifier
from services.core.model import ReservationQuery
from services.core.service import ReservationService
from services.graphql.app import create_app
from services.graphql.client import GraphQLClient
from services.graphql.context import RosettaContext
from services.graphql.errors import method_not_supported, operation_needs_post, subscription_needs_websocket
from services.graphql.options import GraphQLOptions
from services.graphql.schema import build_schema
from services.store import MemoryStore
from tests.graphql.conftest import draft, post
from tests.support.server import LiveServer

CREATE = "mutation($input: CreateReservationInput!) { createReservation(input: $input) { reservationId } }"
CREATE_INPUT = {
    "roomId": "room-a",
    "guestName": "Ada",
    "date": "2031-01-01",
    "startTime": "10:00",
    "endTime": "11:00",
}


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


async def test_missing_field_reaches_the_core_and_names_it_in_korean(server: LiveServer) -> None:
    async with GraphQLClient(server.base_url, language="ko") as client:
        with pytest.raises(MissingMandatoryProperty) as caught:
            await client.create_reservation(draft(guest_name=None))

    assert caught.value.field == "guestName"
    assert str(caught.value) == "'guestName' 속성은 필수입니다."


async def test_bad_filter_date_is_the_cores_invalid_property_in_french(server: LiveServer) -> None:
    async with GraphQLClient(server.base_url, language="fr") as client:
        with pytest.raises(InvalidProperty) as caught:
            await client.list_reservations(ReservationQuery(date_from="2031-13-45"))

    assert caught.value.field == "dateFrom"
    assert (
        str(caught.value)
        == "La propriété « dateFrom » est invalide : une date au format AAAA-MM-JJ est attendue."
    )


async def test_accept_language_q_values_pick_the_language(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql",
        json={"query": '{ room(roomId: "room-z") { name } }'},
        headers={"accept-language": "de;q=1, fr;q=0.5, ko;q=0.8"},
    )

    error = only_error(response.json())
    assert response.status_code == 200
    assert response.headers["content-language"] == "ko"
    assert error["extensions"] == {"code": "ROOM_NOT_FOUND"}
    assert error["message"] == "ID가 'room-z'인 회의실이 없습니다."
    assert error["path"] == ["room"]


async def test_rule_violations_keep_their_codes(client: GraphQLClient) -> None:
    with pytest.raises(CapacityExceeded) as too_many:
        await client.create_reservation(draft(room_id="room-d", attendees=3))
    taken = await client.create_reservation(draft(room_id="room-a", attendees=1))
    with pytest.raises(ReservationConflict):
        await client.create_reservation(draft(room_id="room-a", date=taken.date, attendees=1))
    with pytest.raises(RoomNotFound) as no_room:
        await client.create_reservation(draft(room_id="room-zz"))

    assert too_many.value.field == "attendees"
    assert no_room.value.field == "roomId"


async def test_wrong_type_in_variables_names_the_input_field(client: GraphQLClient) -> None:
    with pytest.raises(InvalidProperty) as caught:
        await client.create_reservation(draft(attendees="three"))

    assert caught.value.field == "attendees"


async def test_unknown_input_property_is_named(http: httpx.AsyncClient) -> None:
    body = await post(http, CREATE, {"input": {"roomId": "room-a", "colour": "red"}})

    error = only_error(body)
    assert "data" not in body
    assert error["extensions"] == {"code": "INVALID_PROPERTY", "field": "colour"}
    assert error["message"] == "The property 'colour' is invalid: this property is not recognised."


async def test_null_for_a_field_other_than_purpose_is_refused_as_rest_does(
    http: httpx.AsyncClient, client: GraphQLClient
) -> None:
    created = await client.create_reservation(draft())
    modify = (
        "mutation($id: ID!, $input: ModifyReservationInput!) "
        "{ modifyReservation(reservationId: $id, input: $input) { guestName purpose version } }"
    )

    refused = await post(http, modify, {"id": created.reservation_id, "input": {"guestName": None}})
    cleared = await post(http, modify, {"id": created.reservation_id, "input": {"purpose": None}})

    assert only_error(refused)["extensions"] == {"code": "INVALID_PROPERTY", "field": "guestName"}
    assert cleared == {
        "data": {"modifyReservation": {"guestName": "Ada Lovelace", "purpose": None, "version": 2}}
    }


@pytest.mark.parametrize(
    ("query", "extensions"),
    [
        ("{ rooms { roomId colour } }", {"code": "INVALID_PROPERTY", "field": "colour"}),
        ('{ room(roomId: "room-a", size: 3) { name } }', {"code": "INVALID_PROPERTY", "field": "size"}),
        ('{ reservations(filter: {day: "x"}) { page } }', {"code": "INVALID_PROPERTY", "field": "day"}),
        ('{ reservations(pageSize: "ten") { page } }', {"code": "INVALID_PROPERTY", "field": "pageSize"}),
        ("{ room { name } }", {"code": "MISSING_MANDATORY_PROPERTY", "field": "roomId"}),
        (
            "query($id: ID!) { reservation(reservationId: $id) { version } }",
            {"code": "MISSING_MANDATORY_PROPERTY", "field": "id"},
        ),
        # a wrong literal several lines down, written without a space after the colon
        (
            '{\n  rooms {\n    reservations(first:"x") { roomId }\n  }\n}',
            {"code": "INVALID_PROPERTY", "field": "first"},
        ),
        ("{ events(types: [7]) { sequence } }", {"code": "INVALID_PROPERTY", "field": "types"}),
        # a later item of a list names the list too
        (
            '{ events(types: ["reservation.created", 7]) { sequence } }',
            {"code": "INVALID_PROPERTY", "field": "types"},
        ),
        # no argument to name (a variable's default; a list where a string was due, which GraphQL
        # reports without a location): a request that cannot be read, never a failure of the server
        ('query($n: Int = "x") { events(after: $n) { sequence } }', {"code": "MALFORMED_REQUEST"}),
        ('{ events(types: ["reservation.created", [7]]) { sequence } }', {"code": "MALFORMED_REQUEST"}),
        ("{ rooms { name ", {"code": "MALFORMED_REQUEST"}),
        ("{ rooms { ...Missing } }", {"code": "MALFORMED_REQUEST"}),
    ],
)
async def test_graphql_validation_errors_get_catalog_codes(
    http: httpx.AsyncClient, query: str, extensions: dict[str, str]
) -> None:
    body = await post(http, query, language="fr")

    error = only_error(body)
    assert error["extensions"] == extensions
    assert "data" not in body
    assert error["message"].startswith(("La propriété", "La requête"))


async def test_core_validation_beats_graphql_for_page_values(http: httpx.AsyncClient) -> None:
    body = await post(http, "{ reservations(page: 0) { page } }")

    assert only_error(body)["extensions"] == {"code": "INVALID_PROPERTY", "field": "page"}


@pytest.mark.parametrize(
    ("content", "expected_status", "code", "message"),
    [
        (b"{not json", 400, "MALFORMED_REQUEST", "요청을 읽을 수 없습니다: 본문 형식이 올바르지 않습니다."),
        (b"[1, 2]", 400, "MALFORMED_REQUEST", "요청을 읽을 수 없습니다: 본문 형식이 올바르지 않습니다."),
        (b'{"variables": {}}', 400, "MISSING_MANDATORY_PROPERTY", "'query' 속성은 필수입니다."),
        (
            b'{"query": 42}',
            400,
            "INVALID_PROPERTY",
            "'query' 속성이 올바르지 않습니다: 값의 형식이 잘못되었습니다.",
        ),
    ],
)
async def test_unreadable_bodies_are_malformed_requests(
    http: httpx.AsyncClient, content: bytes, expected_status: int, code: str, message: str
) -> None:
    response = await http.post(
        "/graphql", content=content, headers={"content-type": "application/json", "accept-language": "ko"}
    )

    assert response.status_code == expected_status
    error = only_error(response.json())
    assert error["extensions"]["code"] == code
    assert error["message"] == message  # in the caller's language, as every other error
    assert response.headers["content-language"] == "ko"


async def test_oversized_body_is_refused(http: httpx.AsyncClient, server: LiveServer) -> None:
    filler = "#" * (server.settings.max_body_bytes + 1)

    response = await http.post("/graphql", json={"query": "{ rooms { name } }" + filler})

    assert response.status_code == 413
    assert only_error(response.json())["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}


async def test_mutation_over_get_is_not_allowed(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql", params={"query": 'mutation { checkInReservation(reservationId: "x") { version } }'}
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert only_error(response.json())["extensions"] == {"code": "MALFORMED_REQUEST"}


async def test_query_over_get_works(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": '{ room(roomId: "room-a") { name } }'})

    assert response.json() == {"data": {"room": {"name": "Ada"}}}


class _BrokenApi:
    """A core stand-in whose store has failed: every call raises an unexpected exception."""

    async def list_rooms(self) -> list[object]:
        raise RuntimeError("database password is hunter2")


@pytest.fixture
async def broken() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(cast(ServerApi, _BrokenApi()))  # a partial fake of the port
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://rosetta") as http:
        yield http


async def test_unexpected_failures_are_internal_and_say_nothing(
    broken: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await broken.post(
        "/graphql", json={"query": "{ rooms { name } }"}, headers={"accept-language": "fr"}
    )

    error = only_error(response.json())
    assert response.status_code == 200
    assert error["extensions"] == {"code": "INTERNAL"}
    assert error["message"] == "Une erreur inattendue s'est produite sur le serveur."
    assert "hunter2" not in response.text
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records)


class _SpentQuotaApi:
    """A core stand-in behind a spent quota: every call is refused with the wait."""

    async def list_rooms(self) -> list[object]:
        raise RateLimited(params={"retryAfter": 0.25})


async def test_a_spent_quota_carries_the_wait_in_extensions_and_the_client_reads_it() -> None:
    transport = httpx.ASGITransport(
        create_app(cast(ServerApi, _SpentQuotaApi()))
    )  # a partial fake of the port
    async with httpx.AsyncClient(transport=transport, base_url="http://rosetta") as http:
        response = await http.post(
            "/graphql", json={"query": "{ rooms { name } }"}, headers={"accept-language": "ko"}
        )
    error = only_error(response.json())
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 0.25}
    assert error["message"] == "요청이 너무 많습니다. 잠시 후 다시 시도하세요."
    async with GraphQLClient("http://rosetta", transport=transport) as client:
        with pytest.raises(RateLimited) as refused:
            await client.list_rooms()
    assert refused.value.retry_after == 0.25


async def test_subscription_over_http_points_to_the_websocket(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": "subscription { reservationEvents { sequence } }"})

    assert response.status_code == 400
    assert only_error(response.json())["extensions"] == {"code": "MALFORMED_REQUEST"}


async def test_unknown_operation_name_is_named(http: httpx.AsyncClient) -> None:
    body = {"query": "query A { rooms { name } } query B { rooms { roomId } }", "operationName": "C"}

    response = await http.post("/graphql", json=body)
    chosen = await http.post("/graphql", json={**body, "operationName": "B"})

    assert only_error(response.json())["extensions"] == {"code": "INVALID_PROPERTY", "field": "operationName"}
    assert chosen.json()["data"]["rooms"][0] == {"roomId": "room-a"}


def test_http_refusals_of_graphql_over_http_are_localized_from_the_catalog() -> None:
    assert method_not_supported().localized("ko") == (
        "요청을 읽을 수 없습니다: 이 리소스에는 이 메서드를 사용할 수 없습니다."
    )
    assert subscription_needs_websocket().localized("fr") == (
        "La requête n'a pas pu être lue : les abonnements exigent un WebSocket (graphql-transport-ws)."
    )
    assert operation_needs_post("mutation").localized("en") == (
        "The request could not be read: mutation operations need POST."
    )


async def first_subscription_errors(
    query: str, variables: dict[str, Any], language: str
) -> list[dict[str, Any]]:
    """The errors of a subscription's first answer, in process, as graphql-transport-ws runs it."""
    schema = build_schema(GraphQLOptions())
    core = ReservationService(MemoryStore(), notifier=InProcessNotifier())
    context = RosettaContext(core, language, cache=False)
    answer = await schema.subscribe(query, variable_values=variables, context_value=context)
    if isinstance(answer, AsyncGenerator):
        first = await anext(answer)
        await answer.aclose()
    else:
        first = answer
    assert first.errors, first
    return [dict(error.formatted) for error in first.errors]


async def test_subscription_errors_are_coded_localized_and_keep_their_location() -> None:
    refused = await first_subscription_errors(
        "subscription($types: [String!]) { reservationEvents(after: 0, types: $types) { sequence } }",
        {"types": ["reservation.exploded"]},
        "fr",
    )
    unknown = await first_subscription_errors("subscription {\n  nothing\n}", {}, "ko")
    unfinished = await first_subscription_errors("subscription {\n  reservationEvents {", {}, "fr")

    # The core refused the filter when the stream started: no location or path of GraphQL's own.
    assert len(refused) == 1 and set(refused[0]) == {"message", "extensions"}, refused
    assert refused[0]["extensions"] == {"code": "INVALID_PROPERTY", "field": "types"}
    assert refused[0]["message"].startswith("La propriété « types » est invalide : ")
    assert unknown == [
        {
            "message": "'nothing' 속성이 올바르지 않습니다: 알 수 없는 속성입니다.",
            "locations": [{"line": 2, "column": 3}],
            "extensions": {"code": "INVALID_PROPERTY", "field": "nothing"},
        }
    ]
    assert unfinished == [  # a syntax error: located by its position in the text, not by a node
        {
            "message": "La requête n'a pas pu être lue : le corps n'est pas bien formé.",
            "locations": [{"line": 2, "column": 22}],
            "extensions": {"code": "MALFORMED_REQUEST"},
        }
    ]


@pytest.mark.parametrize(
    ("options", "query", "message"),
    [
        (
            GraphQLOptions(max_depth=2),
            "{ rooms { reservations(first: 1) { room { roomId } } } }",
            "la requête est imbriquée sur plus de 2 niveaux.",
        ),
        (
            GraphQLOptions(max_aliases=1),
            "{ a: rooms { roomId } b: rooms { roomId } }",
            "la requête utilise plus de 1 alias.",
        ),
        (
            GraphQLOptions(max_tokens=12),
            "{ rooms { roomId name capacity location roomId name capacity location } }",
            "la requête compte plus de 12 jetons.",
        ),
        (
            GraphQLOptions(max_cost=60),
            "{ rooms { reservations(first: 50) { roomId } } }",
            "la requête coûterait 2551, au-delà de la limite de 60 (chaque champ compte 1 ; "
            "une liste multiplie ce qu'elle contient par sa taille de page).",
        ),
    ],
    ids=["depth", "aliases", "tokens", "cost"],
)
async def test_a_query_over_a_limit_is_an_invalid_query_naming_the_limit(
    options: GraphQLOptions, query: str, message: str
) -> None:
    core = ReservationService(MemoryStore(), notifier=InProcessNotifier())
    transport = httpx.ASGITransport(create_app(core, options))
    async with httpx.AsyncClient(transport=transport, base_url="http://rosetta") as http:
        response = await http.post("/graphql", json={"query": query}, headers={"accept-language": "fr"})

    error = only_error(response.json())
    assert "data" not in response.json()
    assert error["extensions"] == {"code": "INVALID_PROPERTY", "field": "query"}
    assert error["message"] == "La propriété « query » est invalide : " + message


async def test_a_graphql_syntax_error_is_a_malformed_request_saying_so() -> None:
    core = ReservationService(MemoryStore(), notifier=InProcessNotifier())
    transport = httpx.ASGITransport(create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://rosetta") as http:
        response = await http.post(
            "/graphql", json={"query": "{ rooms { name "}, headers={"accept-language": "fr"}
        )

    error = only_error(response.json())
    assert error["extensions"] == {"code": "MALFORMED_REQUEST"}
    assert error["message"] == "La requête n'a pas pu être lue : le corps n'est pas bien formé."


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        ("query($after: Int!) { events(after: $after) { sequence } }", {"after": "ten"}, "after"),
        (CREATE, {"input": {**CREATE_INPUT, "attendees": "three"}}, "attendees"),
    ],
    ids=["variable", "input-field"],
)
async def test_a_variable_of_the_wrong_type_names_itself_or_its_input_field(
    query: str, variables: dict[str, Any], field: str
) -> None:
    core = ReservationService(MemoryStore(), notifier=InProcessNotifier())
    transport = httpx.ASGITransport(create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://rosetta") as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers={"accept-language": "fr"}
        )

    error = only_error(response.json())
    assert error["extensions"] == {"code": "INVALID_PROPERTY", "field": field}
    assert error["message"] == f"La propriété « {field} » est invalide : la valeur n'a pas le bon type."
