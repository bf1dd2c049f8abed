"""Richardson level 3: links and actions follow the state; collections link their pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from services.rest import representations as rep
from tests.rest.support import create


async def test_reserved_reservation_links_every_available_action(http: httpx.AsyncClient) -> None:
    created = await create(http)
    links = created["_links"]
    self_href = links["self"]["href"]
    assert self_href.endswith(f"/api/v1/reservations/{created['reservationId']}")
    assert links["room"]["href"].endswith("/api/v1/rooms/room-b")
    assert links["collection"]["href"].endswith("/api/v1/reservations")
    assert links["modify"] == {"href": self_href, "method": "PATCH"}
    assert links["cancel"] == {"href": self_href + "/cancel", "method": "POST"}
    assert links["check-in"] == {"href": self_href + "/check-in", "method": "POST"}
    assert created["actions"] == ["modify", "cancel", "check-in"]


async def test_following_an_action_link_removes_the_actions(http: httpx.AsyncClient) -> None:
    created = await create(http)
    cancel = created["_links"]["cancel"]
    done = (await http.request(cancel["method"], cancel["href"])).json()
    assert done["actions"] == []
    assert set(done["_links"]) == {"self", "room", "collection"}


async def test_a_page_item_is_the_reservation_as_read_and_follows_its_state(http: httpx.AsyncClient) -> None:
    """A page reuses its items' encoded links (``Links.encoded_reservation_links``): after a change the
    page shows the new state's links, and in JSON and HAL an item is the reservation as read alone."""
    guest = "Page Statewise"
    created = await create(http, guestName=guest)
    hal = {"accept": "application/hal+json"}

    async def listed(headers: dict[str, str]) -> dict[str, Any]:
        page = (await http.get("/api/v1/reservations", params={"guestName": guest}, headers=headers)).json()
        (item,) = page["items"] if "items" in page else page["_embedded"]["reservations"]
        return dict(item)

    assert await listed({}) == created
    assert set((await listed(hal))["_links"]) == {
        "self",
        "room",
        "collection",
        "modify",
        "cancel",
        "check-in",
    }
    await http.post(created["_links"]["cancel"]["href"])
    read = (await http.get(created["_links"]["self"]["href"])).json()
    assert await listed({}) == read and set(read["_links"]) == {"self", "room", "collection"}
    assert await listed(hal) == (await http.get(created["_links"]["self"]["href"], headers=hal)).json()


def _link_header(value: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]*)>; rel="([^"]+)"', value)}


async def test_collection_pages_carry_links_in_body_and_link_header(http: httpx.AsyncClient) -> None:
    guest = "Page Linkmann"
    for _ in range(5):
        await create(http, guestName=guest)
    response = await http.get("/api/v1/reservations", params={"guestName": guest, "pageSize": 2, "page": 2})
    body = response.json()
    assert body["pagination"] == {"page": 2, "pageSize": 2, "totalItems": 5, "totalPages": 3}
    links = {rel: link["href"] for rel, link in body["_links"].items() if rel != "create"}
    assert set(links) == {"self", "first", "prev", "next", "last"}
    assert _link_header(response.headers["link"]) == links
    assert "page=3" in links["last"] and "page=1" in links["first"]

    following = (await http.get(links["next"])).json()
    assert following["pagination"]["page"] == 3
    assert {item["guestName"] for item in following["items"]} == {guest}  # the filter is kept
    assert "next" not in following["_links"]
    first = (await http.get(links["first"])).json()
    assert "prev" not in first["_links"]


async def test_rooms_carry_links(http: httpx.AsyncClient) -> None:
    body = (await http.get("/api/v1/rooms")).json()
    assert body["pagination"]["totalItems"] == 4
    for room in body["items"]:
        assert set(room["_links"]) == {"self", "reservations", "collection"}


async def test_page_links_of_a_long_filter_are_built_but_not_kept(http: httpx.AsyncClient) -> None:
    """Page URLs are kept for the usual short filters; a client's long filter text is not (memory)."""
    rep._page_links.cache_clear()  # module-wide: other tests' listings are kept in it too
    kept_before = rep._page_links.cache_info().currsize
    long_name = "Linkmann " * 100
    response = await http.get("/api/v1/reservations", params={"guestName": long_name, "pageSize": 2})
    assert response.status_code == 200
    links = response.json()["_links"]
    assert parse_qs(urlsplit(links["self"]["href"]).query)["guestName"] == [long_name]
    assert _link_header(response.headers["link"])["first"] == links["first"]["href"]
    assert rep._page_links.cache_info().currsize == kept_before
    await http.get("/api/v1/reservations", params={"guestName": "short", "pageSize": 2})
    assert rep._page_links.cache_info().currsize == kept_before + 1
