"""Content negotiation (JSON, HAL, Siren, CSV; 406 otherwise) and Vary on every response."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from services.rest.negotiation import COLLECTION_MEDIA, CSV, HAL, ITEM_MEDIA, JSON, SIREN, choose
from tests.rest.support import create, problem


@pytest.mark.parametrize(
    ("accept", "offers", "expected"),
    [
        (None, ITEM_MEDIA, JSON),
        ("*/*", ITEM_MEDIA, JSON),
        ("application/*", COLLECTION_MEDIA, JSON),
        ("text/*", COLLECTION_MEDIA, CSV),
        ("application/hal+json", ITEM_MEDIA, HAL),
        ("application/hal+json;q=0.5, application/vnd.siren+json", ITEM_MEDIA, SIREN),
        ("application/json;q=0, */*", ITEM_MEDIA, HAL),
        ("text/csv, */*;q=0.1", COLLECTION_MEDIA, CSV),
        ("text/csv", ITEM_MEDIA, None),
        ("application/xml", COLLECTION_MEDIA, None),
        ("APPLICATION/VND.SIREN+JSON ; q=0.9", ITEM_MEDIA, SIREN),
    ],
)
def test_choose_honours_q_values_and_wildcards(
    accept: str | None, offers: tuple[str, ...], expected: str
) -> None:
    assert choose(accept, offers) == expected


async def test_json_is_the_default(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"accept": "*/*"}):
        response = await http.get("/api/v1/rooms/room-a", headers=headers)
        assert response.headers["content-type"] == "application/json"


async def test_hal_embeds_collection_items(http: httpx.AsyncClient) -> None:
    created = await create(http, guestName="Hal Embedder")
    response = await http.get(
        "/api/v1/reservations", params={"guestName": "Hal Embedder"}, headers={"accept": HAL}
    )
    assert response.headers["content-type"] == HAL
    body = response.json()
    assert "items" not in body
    embedded = body["_embedded"]["reservations"]
    assert [item["reservationId"] for item in embedded] == [created["reservationId"]]
    assert body["_links"]["self"]["href"]
    item = (await http.get(created["_links"]["self"]["href"], headers={"accept": HAL})).json()
    assert item["_links"]["cancel"]["href"].endswith("/cancel")


async def test_siren_has_class_properties_links_and_actions_with_fields(http: httpx.AsyncClient) -> None:
    created = await create(http, guestName="Siren Singer")
    response = await http.get(created["_links"]["self"]["href"], headers={"accept": SIREN})
    assert response.headers["content-type"] == SIREN
    entity = response.json()
    assert entity["class"] == ["reservation"]
    assert entity["properties"]["reservationId"] == created["reservationId"]
    assert {tuple(link["rel"]) for link in entity["links"]} == {("self",), ("room",), ("collection",)}
    actions = {action["name"]: action for action in entity["actions"]}
    assert set(actions) == {"modify", "cancel", "check-in"}
    assert (
        actions["modify"]["method"] == "PATCH" and actions["modify"]["type"] == "application/merge-patch+json"
    )
    assert actions["cancel"]["href"].endswith("/cancel") and actions["cancel"]["method"] == "POST"
    assert actions["cancel"]["fields"] == [{"name": "reason", "type": "text"}]

    collection = (
        await http.get(
            "/api/v1/reservations", params={"guestName": "Siren Singer"}, headers={"accept": SIREN}
        )
    ).json()
    assert collection["properties"]["totalItems"] == 1
    assert collection["entities"][0]["rel"] == ["item"]
    create_action = next(a for a in collection["actions"] if a["name"] == "create-reservation")
    assert create_action["method"] == "POST" and {f["name"] for f in create_action["fields"]} >= {
        "roomId",
        "date",
    }


async def test_csv_for_collections_has_a_camel_case_header_row(http: httpx.AsyncClient) -> None:
    created = await create(http, guestName="=Csv Writer")
    response = await http.get(
        "/api/v1/reservations", params={"guestName": "Csv Writer"}, headers={"accept": CSV}
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0])[:4] == ["reservationId", "roomId", "guestName", "date"]
    assert rows[0]["reservationId"] == created["reservationId"]
    assert rows[0]["guestName"] == "'=Csv Writer"  # no formula injection into spreadsheets
    rooms = list(csv.reader(io.StringIO((await http.get("/api/v1/rooms", headers={"accept": CSV})).text)))
    assert rooms[0] == ["roomId", "name", "capacity", "location"] and len(rooms) == 5


async def test_unsupported_media_types_are_406_problems(http: httpx.AsyncClient) -> None:
    refused = problem(
        await http.get("/api/v1/reservations", headers={"accept": "application/xml"}),
        406,
        "MALFORMED_REQUEST",
    )
    assert (
        refused["detail"]
        == "The request could not be read: none of the accepted media types can be produced."
    )
    problem(await http.get("/api/v1/rooms/room-a", headers={"accept": "text/csv"}), 406, "MALFORMED_REQUEST")


async def test_vary_is_on_every_response(http: httpx.AsyncClient) -> None:
    created = await create(http)
    url = created["_links"]["self"]["href"]
    etag = (await http.get(url)).headers["etag"]
    responses = [
        await http.get("/api/v1"),
        await http.get(url),
        await http.get(url, headers={"if-none-match": etag}),
        await http.get("/api/v1/reservations/rsv_missing"),
        await http.get("/api/v1/nowhere"),
        await http.options(url),
        await http.delete(url),
        await http.post("/api/v1/reservations", json={}),
        await http.get("/openapi.json"),
    ]
    assert {r.status_code for r in responses} == {200, 304, 404, 204, 405, 400}
    for response in responses:
        assert response.headers["vary"] == "Accept, Accept-Language"
