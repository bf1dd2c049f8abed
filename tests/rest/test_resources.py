"""Every resource of /api/v1 over real HTTP: what a client sees for each operation."""

from __future__ import annotations

import httpx

from tests.rest.support import create, draft, fresh_date, problem


async def test_api_root_links_every_collection_and_the_links_work(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1")
    assert response.status_code == 200
    links = response.json()["_links"]
    assert {"self", "rooms", "reservations", "events", "openapi"} <= set(links)
    for rel in ("rooms", "reservations", "events"):
        assert (await http.get(links[rel]["href"])).status_code == 200


async def test_rooms_are_listed_and_fetched_with_links(http: httpx.AsyncClient) -> None:
    rooms = (await http.get("/api/v1/rooms")).json()["items"]
    assert [room["roomId"] for room in rooms] == ["room-a", "room-b", "room-c", "room-d"]
    room = (await http.get(rooms[0]["_links"]["self"]["href"])).json()
    assert room["name"] == "Ada" and room["capacity"] == 4
    assert room["_links"]["reservations"]["href"].endswith("/api/v1/rooms/room-a/reservations")


async def test_unknown_room_is_404_room_not_found(http: httpx.AsyncClient) -> None:
    problem(await http.get("/api/v1/rooms/room-z"), 404, "ROOM_NOT_FOUND")
    problem(await http.get("/api/v1/rooms/room-z/reservations"), 404, "ROOM_NOT_FOUND")


async def test_room_reservations_hold_only_that_room(http: httpx.AsyncClient) -> None:
    day = fresh_date()
    mine = await create(http, roomId="room-c", date=day)
    await create(http, roomId="room-d", date=day, attendees=1)
    response = await http.get("/api/v1/rooms/room-c/reservations", params={"dateFrom": day, "dateTo": day})
    assert [item["reservationId"] for item in response.json()["items"]] == [mine["reservationId"]]


async def test_reservations_filter_sort_and_page(http: httpx.AsyncClient) -> None:
    guest = "Filter Sortington"
    days = [fresh_date() for _ in range(3)]
    for day in days:
        await create(http, guestName=guest, date=day)
    canceled = await create(http, guestName=guest)
    await http.post(f"/api/v1/reservations/{canceled['reservationId']}/cancel")

    query = {"guestName": "sortington", "status": "RESERVED", "sort": "-date", "pageSize": "2"}
    body = (await http.get("/api/v1/reservations", params=query)).json()
    assert [item["date"] for item in body["items"]] == [days[2], days[1]]
    assert body["pagination"] == {"page": 1, "pageSize": 2, "totalItems": 3, "totalPages": 2}
    second = (await http.get("/api/v1/reservations", params={**query, "page": "2"})).json()
    assert [item["date"] for item in second["items"]] == [days[0]]
    window = {"guestName": guest, "dateFrom": days[1], "dateTo": days[1]}
    assert len((await http.get("/api/v1/reservations", params=window)).json()["items"]) == 1
    by_room = (await http.get("/api/v1/reservations", params={"guestName": guest, "roomId": "room-a"})).json()
    assert by_room["items"] == []


async def test_bad_query_values_are_refused_by_name(http: httpx.AsyncClient) -> None:
    body = problem(await http.get("/api/v1/reservations?pageSize=500"), 400, "INVALID_PROPERTY")
    assert body["errors"] == [{"field": "pageSize", "code": "INVALID_PROPERTY"}]
    body = problem(await http.get("/api/v1/reservations?colour=red"), 400, "INVALID_PROPERTY")
    assert body["errors"][0]["field"] == "colour"
    body = problem(await http.get("/api/v1/reservations?status=LOST"), 400, "INVALID_PROPERTY")
    assert body["errors"][0]["field"] == "status"


async def test_create_answers_201_with_location_of_the_new_reservation(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/reservations", json=draft(purpose="Thesis review"))
    assert response.status_code == 201
    created = response.json()
    assert (
        created["status"] == "RESERVED" and created["version"] == 1 and created["purpose"] == "Thesis review"
    )
    fetched = await http.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_patch_merges_changes_with_either_json_media_type(http: httpx.AsyncClient) -> None:
    created = await create(http, purpose="Exam prep")
    url = f"/api/v1/reservations/{created['reservationId']}"
    merge = await http.patch(
        url, content=b'{"attendees": 5}', headers={"content-type": "application/merge-patch+json"}
    )
    assert merge.status_code == 200
    assert merge.json()["attendees"] == 5 and merge.json()["version"] == 2
    assert merge.json()["purpose"] == "Exam prep"
    plain = await http.patch(url, json={"endTime": "10:30"})
    assert plain.status_code == 200 and plain.json()["endTime"] == "10:30" and plain.json()["version"] == 3


async def test_patch_null_clears_purpose_but_not_a_required_field(http: httpx.AsyncClient) -> None:
    created = await create(http, purpose="Exam prep")
    url = f"/api/v1/reservations/{created['reservationId']}"
    cleared = await http.patch(url, json={"purpose": None})
    assert cleared.status_code == 200 and cleared.json()["purpose"] is None
    body = problem(await http.patch(url, json={"guestName": None}), 400, "INVALID_PROPERTY")
    assert body["errors"] == [{"field": "guestName", "code": "INVALID_PROPERTY"}]


async def test_expected_version_is_a_header_not_a_body_field(http: httpx.AsyncClient) -> None:
    created = await create(http)
    url = f"/api/v1/reservations/{created['reservationId']}"
    body = problem(await http.patch(url, json={"expectedVersion": 1}), 400, "INVALID_PROPERTY")
    assert body["errors"][0]["field"] == "expectedVersion"


async def test_cancel_with_reason_then_again_is_409(http: httpx.AsyncClient) -> None:
    created = await create(http)
    url = f"/api/v1/reservations/{created['reservationId']}/cancel"
    canceled = await http.post(url, json={"reason": "Exam moved"})
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "CANCELED" and canceled.json()["cancelReason"] == "Exam moved"
    problem(await http.post(url), 409, "INVALID_STATE_TRANSITION")


async def test_cancel_without_body_and_refusing_unknown_fields(http: httpx.AsyncClient) -> None:
    created = await create(http)
    url = f"/api/v1/reservations/{created['reservationId']}/cancel"
    body = problem(await http.post(url, json={"why": "x"}), 400, "INVALID_PROPERTY")
    assert body["errors"][0]["field"] == "why"
    canceled = await http.post(url)
    assert canceled.status_code == 200 and canceled.json()["cancelReason"] is None


async def test_check_in(http: httpx.AsyncClient) -> None:
    created = await create(http)
    response = await http.post(f"/api/v1/reservations/{created['reservationId']}/check-in")
    assert response.status_code == 200
    assert response.json()["status"] == "CHECKED_IN" and response.json()["actions"] == []


async def test_unknown_reservation_is_404(http: httpx.AsyncClient) -> None:
    problem(await http.get("/api/v1/reservations/rsv_nope"), 404, "RESERVATION_NOT_FOUND")
    problem(await http.post("/api/v1/reservations/rsv_nope/check-in"), 404, "RESERVATION_NOT_FOUND")


async def test_events_poll_with_a_next_link_that_misses_nothing(http: httpx.AsyncClient) -> None:
    start = (await http.get("/api/v1/events", params={"after": 0, "limit": 1000})).json()
    next_url = start["_links"]["next"]["href"]
    created = await create(http)
    await http.post(f"/api/v1/reservations/{created['reservationId']}/check-in")

    page = (await http.get(next_url)).json()
    assert [(e["type"], e["data"]["reservationId"]) for e in page["items"]] == [
        ("reservation.created", created["reservationId"]),
        ("reservation.checked_in", created["reservationId"]),
    ]
    last = page["items"][-1]["sequence"]
    assert page["_links"]["next"]["href"].endswith(f"after={last}&limit=1000")
    assert (await http.get(page["_links"]["next"]["href"])).json()["items"] == []

    only = await http.get("/api/v1/events", params={"after": 0, "types": "reservation.checked_in"})
    assert {e["type"] for e in only.json()["items"]} == {"reservation.checked_in"}
    one = await http.get("/api/v1/events", params={"after": 0, "limit": 1})
    assert len(one.json()["items"]) == 1
    problem(await http.get("/api/v1/events?types=reservation.exploded"), 400, "INVALID_PROPERTY")
