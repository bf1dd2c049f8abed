"""Lab 09: a client of a gateway that checks who calls and how often.

Write the three functions. ``server`` is {"http": base URL, "grpc": host:port}. The checker runs its own
server, with authentication on and a small quota, and calls each function.
"""

from typing import Any

import httpx


async def get_token(base_url: str, client_id: str, client_secret: str) -> str:
    """Exchange the client's id and secret for an access token, and return the token."""
    # TODO: OAuth 2.0 client credentials (RFC 6749 §4.4): which endpoint, which grant, and how is the
    # secret sent? /.well-known/oauth-authorization-server says where.
    raise NotImplementedError("get_token")


async def reservation_ids(server: dict[str, Any], token: str, style: str, guest: str) -> list[str]:
    """The ids of the reservations whose guest name contains ``guest``; style is rest, graphql or grpc."""
    async with httpx.AsyncClient(timeout=10) as http:
        # TODO: this request carries no credential. Then do the same in GraphQL and gRPC.
        response = await http.get(f"{server['http']}/api/v1/reservations", params={"guestName": guest})
        response.raise_for_status()
        return [item["reservationId"] for item in response.json()["items"]]


async def get_rooms(server: dict[str, Any], token: str, room_ids: list[str]) -> list[dict[str, Any]]:
    """Each room by id over REST, in order. The quota is small: some answers will be 429."""
    rooms = []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        for room_id in room_ids:
            response = await http.get(f"{server['http']}/api/v1/rooms/{room_id}")
            # TODO: a 429 is not a failure: it says how long to wait (Retry-After). Wait, then ask again.
            response.raise_for_status()
            rooms.append(response.json())
    return rooms
