"""Conditional requests per RFC 9110 §13.1 and the refusals of empty or unread query values (issue 15)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.rest.support import create, problem


async def _reservation(http: httpx.AsyncClient) -> tuple[str, str, dict[str, Any]]:
    created = await create(http)
    url = created["_links"]["self"]["href"]
    etag = (await http.get(url)).headers["etag"]
    return url, etag, created


async def test_if_match_uses_the_strong_comparison_so_a_weak_tag_never_matches(
    http: httpx.AsyncClient,
) -> None:
    url, etag, _ = await _reservation(http)
    refused = await http.patch(url, json={"attendees": 2}, headers={"if-match": "W/" + etag})
    problem(refused, 412, "VERSION_MISMATCH")
    assert (await http.get(url)).json()["version"] == 1


@pytest.mark.parametrize("tag", ['"abc"', '"999"', '"rsv_nobody.1"', '""'])
async def test_a_well_formed_tag_that_matches_nothing_is_412_not_400(
    http: httpx.AsyncClient, tag: str
) -> None:
    url, _, _ = await _reservation(http)
    problem(await http.patch(url, json={"attendees": 2}, headers={"if-match": tag}), 412, "VERSION_MISMATCH")
    assert (await http.get(url)).json()["attendees"] == 3


@pytest.mark.parametrize("header", ["abc", '"unterminated', "W/abc", '"a" "b"'])
async def test_an_if_match_that_is_not_a_list_of_entity_tags_is_400(
    http: httpx.AsyncClient, header: str
) -> None:
    url, _, _ = await _reservation(http)
    body = problem(
        await http.patch(url, json={"attendees": 2}, headers={"if-match": header}), 400, "INVALID_PROPERTY"
    )
    assert body["errors"] == [{"field": "If-Match", "code": "INVALID_PROPERTY"}]


async def test_every_tag_of_an_if_match_list_is_compared(http: httpx.AsyncClient) -> None:
    url, etag, _ = await _reservation(http)
    other = (await create(http))["reservationId"]
    header = f'"{other}.1", W/{etag}, {etag}'
    changed = await http.patch(url, json={"attendees": 2}, headers={"if-match": header})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    # The HAL representation's tag names the same version of the same reservation.
    hal_tag = changed.headers["etag"].replace('.2"', '.2.hal"')
    again = await http.patch(url, json={"attendees": 1}, headers={"if-match": f'"nope", {hal_tag}'})
    assert again.status_code == 200 and again.json()["version"] == 3


async def test_another_reservations_etag_is_412_and_says_which_tag_was_expected(
    http: httpx.AsyncClient,
) -> None:
    url, _, _ = await _reservation(http)
    other_url, other_tag, _ = await _reservation(http)
    refused = await http.patch(url, json={"attendees": 2}, headers={"if-match": other_tag})
    body = problem(refused, 412, "VERSION_MISMATCH")
    assert "not the expected version 1" not in body["detail"]
    assert other_tag.strip('"') in body["detail"]


async def test_if_none_match_compares_every_tag_weakly(http: httpx.AsyncClient) -> None:
    url, etag, _ = await _reservation(http)
    unchanged = await http.get(url, headers={"if-none-match": f'"nope", W/{etag}'})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag
    assert (await http.get(url, headers={"if-none-match": '"nope"'})).status_code == 200


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/reservations?sort=", "sort"),
        ("/api/v1/reservations?status=", "status"),
        ("/api/v1/rooms/room-a/reservations?sort=", "sort"),
        ("/api/v1/events?types=", "types"),
        ("/api/v1/events?types=,", "types"),
    ],
)
async def test_an_empty_query_value_is_refused_not_ignored(
    http: httpx.AsyncClient, path: str, field: str
) -> None:
    body = problem(await http.get(path), 400, "INVALID_PROPERTY")
    assert body["errors"] == [{"field": field, "code": "INVALID_PROPERTY"}]


@pytest.mark.parametrize(("query", "field"), [("page=null", "page"), ("pageSize=0", "pageSize")])
async def test_paging_parameters_are_checked_even_beside_a_range_header(
    http: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await http.get(f"/api/v1/reservations?{query}", headers={"range": "items=0-9"})
    body = problem(response, 400, "INVALID_PROPERTY")
    assert body["errors"] == [{"field": field, "code": "INVALID_PROPERTY"}]
