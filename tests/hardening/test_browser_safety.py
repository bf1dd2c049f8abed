"""Issue 15 findings 4, 5 and 8 (SOAP, SSRF): other sites' pages cannot use the server, slow clients
cannot hold it, and the smaller wire details (raw sockets, raw HTTP, raw WebSocket handshakes)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.protection import CONTENT_SECURITY_POLICY, with_security_headers
from tests.soap.envelopes import envelope, fault_of
from tests.support.server import LiveServer, live_server
from tests.support.subprotocols import GRAPHQL_TRANSPORT_WS, ROSETTA_V1

MUTATION = (
    'mutation { createReservation(input: {roomId: "room-a", guestName: "Mallory", date: "2031-05-05", '
    'startTime: "09:00", endTime: "10:00", attendees: 1}) { reservationId } }'
)


def soap_create(day: int) -> bytes:
    return envelope(
        "<r:CreateReservation><r:roomId>room-a</r:roomId><r:guestName>Mallory</r:guestName>"
        f"<r:date>2031-06-{day:02d}</r:date><r:startTime>09:00</r:startTime><r:endTime>10:00</r:endTime>"
        "<r:attendees>1</r:attendees></r:CreateReservation>"
    )


APP_ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(cors_origins=APP_ORIGIN, header_timeout=0.5, body_timeout=0.5) as running:
        yield running


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


async def reservations(http: httpx.AsyncClient) -> int:
    total: int = (await http.get("/api/v1/reservations")).json()["pagination"]["totalItems"]
    return total


# -- WebSocket origins -----------------------------------------------------------------------------


async def handshake(server: LiveServer, origin: str | None) -> int:
    """101 when the WebSocket opened, else the HTTP status of the refusal."""
    headers = {"Origin": origin} if origin else {}
    try:
        async with connect(
            server.ws_url,
            subprotocols=[ROSETTA_V1],
            additional_headers=headers,
            origin=None,
        ) as ws:
            await ws.send('{"id": 1, "type": "listRooms"}')
            await ws.recv()
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def test_a_websocket_handshake_from_another_sites_page_is_refused(server: LiveServer) -> None:
    assert await handshake(server, "http://evil.example") == 403
    assert await handshake(server, "null") == 403  # sandboxed frames, file:// pages
    assert await handshake(server, server.base_url.replace("127.0.0.1", "localhost")) == 403


async def test_same_origin_configured_origins_and_non_browsers_may_connect(server: LiveServer) -> None:
    assert await handshake(server, server.base_url) == 101  # the playground, served by this server
    assert await handshake(server, APP_ORIGIN) == 101  # ROSETTA_CORS_ORIGINS
    assert await handshake(server, None) == 101  # no Origin: not a browser


async def test_graphql_subscriptions_take_the_same_origins(server: LiveServer) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    for origin, opened in (("http://evil.example", False), (APP_ORIGIN, True)):
        try:
            async with connect(
                url,
                subprotocols=[GRAPHQL_TRANSPORT_WS],
                additional_headers={"Origin": origin},
                origin=None,
            ):
                accepted = True
        except InvalidStatus:
            accepted = False
        assert accepted is opened, origin


# -- state changes only from JSON / XML bodies -----------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_graphql_runs_nothing_sent_as_a_body_a_foreign_page_may_post(
    http: httpx.AsyncClient, content_type: str | None
) -> None:
    before = await reservations(http)
    headers = {"Origin": "http://evil.example"}
    if content_type:
        headers["Content-Type"] = content_type
    body = ('{"query": ' + __import__("json").dumps(MUTATION) + "}").encode()
    answer = await http.post("/graphql", content=body, headers=headers)
    assert answer.status_code == 415
    error = answer.json()["errors"][0]["extensions"]
    assert error == {"code": "MALFORMED_REQUEST", "field": "Content-Type"}
    assert await reservations(http) == before
    assert "access-control-allow-origin" not in answer.headers


async def test_graphql_get_never_runs_a_mutation(http: httpx.AsyncClient) -> None:
    before = await reservations(http)
    answer = await http.get("/graphql", params={"query": MUTATION})
    assert answer.status_code == 405
    assert await reservations(http) == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
async def test_soap_runs_nothing_sent_as_a_body_a_foreign_page_may_post(
    http: httpx.AsyncClient, content_type: str
) -> None:
    before = await reservations(http)
    day = len(content_type) % 28 + 1  # one free date per case
    answer = await http.post("/soap", content=soap_create(day), headers={"Content-Type": content_type})
    assert answer.status_code == 415
    fault = fault_of(answer.content)
    assert (fault["code"], fault["field"]) == ("MALFORMED_REQUEST", "Content-Type")
    assert await reservations(http) == before
    accepted = await http.post("/soap", content=soap_create(day), headers={"Content-Type": "text/xml"})
    assert accepted.status_code == 200
    assert await reservations(http) == before + 1


# -- CORS and security headers ---------------------------------------------------------------------


async def test_cors_answers_only_configured_origins(http: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = await http.options("/graphql", headers={"Origin": APP_ORIGIN, **preflight})
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    refused = await http.options("/graphql", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers
    simple = await http.get("/api/v1/rooms", headers={"Origin": APP_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == APP_ORIGIN


async def test_no_cors_by_default() -> None:
    with live_server(styles="rest") as plain:
        async with httpx.AsyncClient(base_url=plain.base_url) as http:
            answer = await http.get("/api/v1/rooms", headers={"Origin": APP_ORIGIN})
            assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize(
    ("method", "path", "html"),
    [
        ("GET", "/", True),
        ("GET", "/playground", True),
        ("GET", "/docs", True),
        ("GET", "/api/v1/rooms", False),
        ("POST", "/graphql", False),
        ("POST", "/soap", False),
        ("GET", "/healthz", False),
        ("GET", "/nowhere", False),
    ],
)
async def test_security_headers_on_html_and_api_answers(
    http: httpx.AsyncClient, method: str, path: str, html: bool
) -> None:
    answer = await http.request(method, path, headers={"Accept": "text/html"} if html else {})
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    if html:
        assert answer.headers["content-type"].startswith("text/html")
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
        assert "unsafe-eval" not in policy


def test_an_answer_keeps_the_security_headers_it_sets_itself_and_only_html_gets_a_policy() -> None:
    policy = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
    json_answer = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    own = [(b"Content-Type", b"text/html; charset=utf-8"), (b"X-Frame-Options", b"SAMEORIGIN")]
    own_policy = [(b"content-type", b"text/html"), (b"content-security-policy", b"default-src 'none'")]

    assert with_security_headers(json_answer) == [
        *json_answer,
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]
    assert with_security_headers(own) == [
        *own,
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        policy,
    ]
    assert [name for name, _ in with_security_headers(own_policy)].count(b"content-security-policy") == 1
    assert with_security_headers(()) == [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]


# -- slow clients ----------------------------------------------------------------------------------


def test_partial_request_headers_are_timed_out_and_the_server_keeps_answering(server: LiveServer) -> None:
    held: list[socket.socket] = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /api/v1/rooms HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        held.append(sock)
    started = time.monotonic()
    for sock in held:
        assert sock.recv(1024) == b""  # closed by the server
        sock.close()
    assert time.monotonic() - started < 5  # 0.5 s configured here (10 s by default)
    assert httpx.get(server.base_url + "/healthz").status_code == 200


def test_a_stalled_request_body_is_answered_408_and_closed(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"query": '
        )
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"MALFORMED_REQUEST" in answer


def test_a_keep_alive_connection_that_starts_a_second_request_and_stalls_is_closed(
    server: LiveServer,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
        rest = b""
        while chunk := sock.recv(4096):
            rest += chunk
        assert rest == b""


# -- finding 8 (SOAP, SSRF) ------------------------------------------------------------------------


async def test_a_soap_1_2_envelope_gets_a_version_mismatch_fault(http: httpx.AsyncClient) -> None:
    soap12 = (
        b'<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:r="urn:rosetta:reservations:v1"><env:Body><r:ListRooms/></env:Body></env:Envelope>'
    )
    answer = await http.post("/soap", content=soap12, headers={"Content-Type": "application/soap+xml"})
    assert answer.status_code == 500
    fault = fault_of(answer.content)
    assert fault["faultcode"] == "soap11env:VersionMismatch"
    assert fault["code"] == "MALFORMED_REQUEST"
    assert "SOAP 1.1" in (fault["faultstring"] or "")


async def test_the_ssrf_refusal_reads_as_english(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/v1/webhook-subscriptions", json={"url": "http://0.0.0.0:9/hook"})
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert "a unspecified" not in detail
    assert "0.0.0.0, which is unspecified" in detail
