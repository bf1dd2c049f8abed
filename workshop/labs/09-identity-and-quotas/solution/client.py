"""Lab 09, a reference answer: a token by OAuth 2.0 client credentials, the same token carried the way each
style carries it, and a REST client that waits out a 429 for as long as its Retry-After says."""

import asyncio
from typing import Any

import grpc
import httpx

from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc

PATIENCE = 10  # refusals in a row before giving up: a server that keeps refusing is down, not busy


async def get_token(base_url: str, client_id: str, client_secret: str) -> str:
    """The client's id and secret for an access token (RFC 6749 §4.4), sent by HTTP Basic."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
        )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def reservation_ids(server: dict[str, Any], token: str, style: str, guest: str) -> list[str]:
    """The ids of the reservations whose guest name contains ``guest``, asked in ``style``."""
    bearer = {"Authorization": f"Bearer {token}"}
    if style == "rest":
        async with httpx.AsyncClient(headers=bearer, timeout=10) as http:
            response = await http.get(f"{server['http']}/api/v1/reservations", params={"guestName": guest})
        response.raise_for_status()
        return [item["reservationId"] for item in response.json()["items"]]
    if style == "graphql":
        query = "query($g: String) { reservations(filter: {guestName: $g}) { items { reservationId } } }"
        async with httpx.AsyncClient(headers=bearer, timeout=10) as http:
            response = await http.post(
                f"{server['http']}/graphql", json={"query": query, "variables": {"g": guest}}
            )
        answer = response.json()
        if answer.get("errors"):  # GraphQL answers 200 with errors: look inside
            raise RuntimeError(answer["errors"][0]["message"])
        return [item["reservationId"] for item in answer["data"]["reservations"]["items"]]
    if style == "grpc":
        async with grpc.aio.insecure_channel(server["grpc"]) as channel:
            stub = pb_grpc.ReservationServiceStub(channel)
            answer = await stub.ListReservations(
                pb.ListReservationsRequest(guest_name=guest), metadata=(("authorization", f"Bearer {token}"),)
            )
        return [item.reservation_id for item in answer.items]
    raise ValueError(style)


async def get_rooms(server: dict[str, Any], token: str, room_ids: list[str]) -> list[dict[str, Any]]:
    """Each room by id (REST), one after another; a 429 is waited out for its Retry-After, then retried."""
    rooms = []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        for room_id in room_ids:
            for _ in range(PATIENCE):
                response = await http.get(f"{server['http']}/api/v1/rooms/{room_id}")
                if response.status_code != 429:
                    break
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            response.raise_for_status()
            rooms.append(response.json())
    return rooms
