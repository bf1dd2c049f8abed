"""Lab 03: a client that books a room and cancels it. It works — until the server moves a URL.

Rewrite it so that it builds no URL itself: start at `entry` (the API root) and follow links.
"""

from typing import Any

import httpx


async def book_and_cancel(
    http: httpx.AsyncClient, entry: str, draft: dict[str, Any], reason: str
) -> dict[str, Any]:
    """Create the reservation `draft`, then cancel it with `reason`; return the canceled reservation."""
    base = entry.rsplit("/api/", 1)[0]
    created = await http.post(f"{base}/api/v1/reservations", json=draft)
    created.raise_for_status()
    reservation_id = created.json()["reservationId"]
    canceled = await http.post(f"{base}/api/v1/reservations/{reservation_id}/cancel", json={"reason": reason})
    canceled.raise_for_status()
    return dict(canceled.json())
