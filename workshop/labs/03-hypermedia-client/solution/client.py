"""Lab 03, a reference answer: every URL comes from the server; `actions` says what is allowed."""

from typing import Any

import httpx


async def _follow(
    http: httpx.AsyncClient, document: dict[str, Any], rel: str, **kwargs: Any
) -> httpx.Response:
    link = document["_links"][rel]
    response = await http.request(link.get("method", "GET"), link["href"], **kwargs)
    response.raise_for_status()
    return response


async def book_and_cancel(
    http: httpx.AsyncClient, entry: str, draft: dict[str, Any], reason: str
) -> dict[str, Any]:
    root = (await http.get(entry)).raise_for_status().json()
    collection = (await _follow(http, root, "reservations")).json()
    reservation = (await _follow(http, collection, "create", json=draft)).json()
    if "cancel" not in reservation["actions"]:  # the server decides what is possible, not the client
        raise RuntimeError(f"the server does not offer cancel: {reservation['actions']}")
    canceled = await _follow(http, reservation, "cancel", json={"reason": reason})
    return dict(canceled.json())
