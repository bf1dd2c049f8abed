"""HTTP semantics: item ranges, ETags and preconditions, idempotency keys, OPTIONS, HEAD and 405."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.rest.support import create, draft, problem


async def test_range_answers_206_with_content_range_and_416_beyond_the_end(http: httpx.AsyncClient) -> None:
    guest = f"Ranger {uuid.uuid4().hex[:8]}"
    for _ in range(12):
        await create(http, guestName=guest)
    url, params = "/api/v1/reservations", {"guestName": guest}

    whole = await http.get(url, params=params)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "items"
    first = await http.get(url, params=params, headers={"range": "items=0-9"})
    assert first.status_code == 206
    assert first.headers["content-range"] == "items 0-9/12"
    assert len(first.json()["items"]) == 10
    rest = await http.get(url, params=params, headers={"range": "items=10-19"})
    assert rest.headers["content-range"] == "items 10-11/12"
    assert [i["reservationId"] for i in first.json()["items"] + rest.json()["items"]] == [
        i["reservationId"] for i in whole.json()["items"]
    ]
    beyond = await http.get(url, params=params, headers={"range": "items=12-20"})
    refused = problem(beyond, 416, "INVALID_PROPERTY")
    assert beyond.headers["content-range"] == "items */12"
    assert (
        refused["detail"]
        == "The property 'Range' is invalid: the requested range lies outside the collection."
    )
    assert refused["errors"] == [{"field": "Range", "code": "INVALID_PROPERTY"}]  # the header at fault
    rooms = await http.get("/api/v1/rooms", headers={"range": "items=1-2"})
    assert rooms.status_code == 206 and rooms.headers["content-range"] == "items 1-2/4"


async def test_range_is_capped_at_100_items(http: httpx.AsyncClient) -> None:
    guest = f"Capper {uuid.uuid4().hex[:8]}"
    await asyncio.gather(*(create(http, guestName=guest) for _ in range(105)))
    response = await http.get(
        "/api/v1/reservations", params={"guestName": guest}, headers={"range": "items=0-499"}
    )
    assert response.status_code == 206
    assert response.headers["content-range"] == "items 0-99/105"
    assert len(response.json()["items"]) == 100


async def test_etag_if_none_match_and_if_match(http: httpx.AsyncClient) -> None:
    created = await create(http)
    url = created["_links"]["self"]["href"]
    first = await http.get(url)
    etag = first.headers["etag"]
    assert created["reservationId"] in etag and etag.endswith('.1"')

    unchanged = await http.get(url, headers={"if-none-match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag

    changed = await http.patch(url, json={"attendees": 2}, headers={"if-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert (await http.get(url, headers={"if-none-match": etag})).status_code == 200

    stale = await http.patch(url, json={"attendees": 1}, headers={"if-match": etag})
    problem(stale, 412, "VERSION_MISMATCH")
    assert (await http.get(url)).json()["attendees"] == 2


@pytest.mark.parametrize("version", ["0", "x", "99999999999999"])
async def test_an_if_match_with_a_version_this_reservation_never_had_is_412(
    http: httpx.AsyncClient, version: str
) -> None:
    created = await create(http)
    url = created["_links"]["self"]["href"]
    tag = f'"{created["reservationId"]}.{version}"'
    refused = await http.patch(url, json={"attendees": 2}, headers={"if-match": tag})
    # The precondition fails, as for any stale ETag: not a 400 about a field the client never sent.
    problem(refused, 412, "VERSION_MISMATCH")
    assert (await http.get(url)).json()["version"] == 1


async def test_idempotency_key_replays_create_and_cancel(http: httpx.AsyncClient) -> None:
    body = draft(guestName="Idem Potent")
    key = {"idempotency-key": uuid.uuid4().hex}
    first = await http.post("/api/v1/reservations", json=body, headers=key)
    again = await http.post("/api/v1/reservations", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    listed = await http.get(
        "/api/v1/reservations", params={"guestName": "Idem Potent", "dateFrom": body["date"]}
    )
    assert listed.json()["pagination"]["totalItems"] == 1

    reused = await http.post("/api/v1/reservations", json={**body, "attendees": 4}, headers=key)
    problem(reused, 422, "IDEMPOTENCY_KEY_REUSED")

    cancel_url = first.headers["location"] + "/cancel"
    cancel_key = {"idempotency-key": uuid.uuid4().hex}
    canceled = await http.post(cancel_url, json={"reason": "ill"}, headers=cancel_key)
    replayed = await http.post(cancel_url, json={"reason": "ill"}, headers=cancel_key)
    assert canceled.status_code == replayed.status_code == 200
    assert replayed.json() == canceled.json()


RESOURCES = {
    "/api/v1": "GET, HEAD, OPTIONS",
    "/api/v1/rooms": "GET, HEAD, OPTIONS",
    "/api/v1/rooms/room-a": "GET, HEAD, OPTIONS",
    "/api/v1/rooms/room-a/reservations": "GET, HEAD, OPTIONS",
    "/api/v1/reservations": "GET, HEAD, POST, OPTIONS",
    "/api/v1/reservations/rsv_x": "GET, HEAD, PATCH, OPTIONS",
    "/api/v1/reservations/rsv_x/cancel": "POST, OPTIONS",
    "/api/v1/reservations/rsv_x/check-in": "POST, OPTIONS",
    "/api/v1/events": "GET, HEAD, OPTIONS",
}


@pytest.mark.parametrize(("path", "allow"), RESOURCES.items())
async def test_options_answers_allow_and_a_wrong_method_is_405(
    http: httpx.AsyncClient, path: str, allow: str
) -> None:
    options = await http.options(path)
    assert options.status_code == 204 and options.headers["allow"] == allow and options.content == b""
    wrong = await http.put(path, json={})
    problem(wrong, 405, "MALFORMED_REQUEST")
    assert wrong.headers["allow"] == allow


async def test_head_works_where_get_does(http: httpx.AsyncClient) -> None:
    created = await create(http)
    for url in (created["_links"]["self"]["href"], "/api/v1/reservations", "/api/v1/rooms", "/api/v1"):
        got = await http.get(url)
        head = await http.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers.get("etag") == got.headers.get("etag")
    assert (await http.head("/api/v1/reservations/rsv_missing")).status_code == 404
