"""A client nobody here wrote: the gql library, over its own httpx transport, against a live server."""

from __future__ import annotations

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from tests.graphql.conftest import free_date
from tests.support.server import LiveServer


def gql_client(server: LiveServer, language: str = "en") -> Client:
    transport = HTTPXAsyncTransport(url=server.base_url + "/graphql", headers={"accept-language": language})
    # fetch_schema_from_transport: gql introspects the server and validates documents against it.
    return Client(transport=transport, fetch_schema_from_transport=True)


async def test_gql_runs_a_query(server: LiveServer) -> None:
    async with gql_client(server) as session:
        result = await session.execute(gql("query { rooms { roomId capacity } }"))

    assert result["rooms"][0] == {"roomId": "room-a", "capacity": 4}


async def test_gql_runs_a_mutation_with_variables(server: LiveServer) -> None:
    mutation = gql(
        """
        mutation Reserve($input: CreateReservationInput!) {
          createReservation(input: $input) { reservationId status actions room { name } }
        }
        """
    )
    mutation.variable_values = {
        "input": {
            "roomId": "room-b",
            "guestName": "Grace Hopper",
            "date": free_date(),
            "startTime": "14:00",
            "endTime": "15:00",
            "attendees": 6,
        }
    }

    async with gql_client(server) as session:
        result = await session.execute(mutation)

    created = result["createReservation"]
    assert created["reservationId"].startswith("rsv_")
    assert (created["status"], created["actions"], created["room"]) == (
        "RESERVED",
        ["MODIFY", "CANCEL", "CHECK_IN"],
        {"name": "Babbage"},
    )


async def test_gql_sees_coded_localized_errors(server: LiveServer) -> None:
    query = gql('query { reservation(reservationId: "rsv_nope") { reservationId } }')

    async with gql_client(server, language="fr") as session:
        with pytest.raises(TransportQueryError) as caught:
            await session.execute(query)

    assert caught.value.errors is not None
    error = caught.value.errors[0]
    assert error["extensions"] == {"code": "RESERVATION_NOT_FOUND"}
    assert error["message"] == "Aucune réservation ne porte l'identifiant « rsv_nope »."
