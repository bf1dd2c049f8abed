"""Lab 06: a client that books a reservation. Make it survive lost answers and server failures.

Pick the style you want to work in (STYLE) and write `book`. The checker's fault injector will drop the
server's answers *after* the reservation was committed, and fail calls *before* it.
"""

from typing import Any

import httpx

STYLE = "rest"  # or "graphql", "grpc", "soap", "websocket" (then change book() accordingly)


async def book(server: dict[str, Any], draft: dict[str, Any]) -> str:
    """Create `draft`, return its reservationId. server: {"http": base URL, "grpc": target, "headers": {}}."""
    async with httpx.AsyncClient(headers=server["headers"], timeout=10) as http:
        response = await http.post(f"{server['http']}/api/v1/reservations", json=draft)
        response.raise_for_status()
        return str(response.json()["reservationId"])
