"""Identity and permissions as every style enforces them, seen through each style's own client and
through peers nobody here wrote (PyJWT, httpx, zeep's WS-Security, grpcio call credentials)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from services.core.access import ANONYMOUS, Scope
from services.core.errors import RosettaError, Unauthenticated
from services.core.model import ReservationDraft, ReservationQuery
from services.core.service import ReservationService
from services.store import MemoryStore
from tests.conformance.targets import style_client
from tests.support.credentials import Credential, client_fixture, forged_tokens, provision, token_for
from tests.support.server import LiveServer, live_server
from tests.support.subprotocols import GRAPHQL_TRANSPORT_WS, ROSETTA_V1

# REST enforces through its FastAPI Security dependencies, written against the same guard.
STYLES = ("rest", "graphql", "grpc", "soap", "websocket")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(auth=True, auth_cache_seconds=0.0) as running:
        yield running


alice = client_fixture("alice")
bob = client_fixture("bob")
reader = client_fixture("reader", frozenset({Scope.READ.value}))


def draft(day: int, hour: int = 9) -> ReservationDraft:
    return ReservationDraft("room-b", "Grace", f"2031-05-{day:02d}", f"{hour:02d}:00", f"{hour:02d}:30", 2)


async def _refusal(style: str, server: LiveServer, call: str, *args: Any, **credential: Any) -> RosettaError:
    client = style_client(style, server, **credential)
    try:
        with pytest.raises(RosettaError) as caught:
            await getattr(client, call)(*args)
    finally:
        await client.aclose()
    return caught.value


async def test_the_core_itself_refuses_like_the_styles() -> None:
    """The reference: what every style must answer for the cases below."""
    service = ReservationService(MemoryStore()).acting_as(ANONYMOUS)
    assert len(await service.list_rooms()) == 4
    with pytest.raises(Unauthenticated):
        await service.get_reservation("rsv_unknown")


@pytest.mark.parametrize("style", STYLES)
async def test_anonymous_callers_read_the_catalog_and_are_never_told_whether_a_reservation_exists(
    style: str, server: LiveServer, alice: Credential
) -> None:
    client = style_client(style, server)
    try:
        assert [room.room_id for room in await client.list_rooms()][:1] == ["room-a"]
    finally:
        await client.aclose()
    owner = style_client(style, server, api_key=alice.api_key)
    try:
        existing = await owner.create_reservation(draft(STYLES.index(style) + 1))
    finally:
        await owner.aclose()
    for reservation_id in (existing.reservation_id, "rsv_doesnotexist0000"):
        error = await _refusal(style, server, "get_reservation", reservation_id)
        assert (error.code, error.field) == ("UNAUTHENTICATED", None)
    error = await _refusal(style, server, "create_reservation", draft(20))
    assert error.code == "UNAUTHENTICATED"


@pytest.mark.parametrize("style", STYLES)
async def test_forged_expired_and_foreign_tokens_and_made_up_keys_are_refused(
    style: str, server: LiveServer, alice: Credential
) -> None:
    for name, token in forged_tokens(server, alice).items():
        error = await _refusal(style, server, "list_rooms", token=token)
        assert error.code == "UNAUTHENTICATED", (style, name)
    error = await _refusal(style, server, "list_rooms", api_key="rk_made-up")
    assert error.code == "UNAUTHENTICATED"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("kind", ["api_key", "token"])
async def test_a_missing_scope_is_forbidden_and_names_it(
    style: str, kind: str, server: LiveServer, reader: Credential
) -> None:
    credential = {"api_key": reader.api_key} if kind == "api_key" else {"token": reader.token}
    client = style_client(style, server, **credential)
    try:
        await client.list_reservations(ReservationQuery())
    finally:
        await client.aclose()
    error = await _refusal(style, server, "create_reservation", draft(21), **credential)
    assert (error.code, error.field) == ("FORBIDDEN", "reservations:write")


@pytest.mark.parametrize("style", STYLES)
async def test_another_clients_reservation_is_forbidden_to_change_but_readable(
    style: str, server: LiveServer, alice: Credential, bob: Credential
) -> None:
    owner = style_client(style, server, token=alice.token)
    try:
        mine = await owner.create_reservation(draft(10 + STYLES.index(style)))
    finally:
        await owner.aclose()
    stranger = style_client(style, server, api_key=bob.api_key)
    try:
        assert (await stranger.get_reservation(mine.reservation_id)).reservation_id == mine.reservation_id
    finally:
        await stranger.aclose()
    for call in ("cancel_reservation", "check_in_reservation"):
        error = await _refusal(style, server, call, mine.reservation_id, api_key=bob.api_key)
        assert (error.code, error.field) == ("FORBIDDEN", None), (style, call)


@pytest.mark.parametrize("style", STYLES)
async def test_a_revoked_client_is_refused_at_once(style: str, server: LiveServer) -> None:
    doomed = provision(server, f"doomed-{style}")
    client = style_client(style, server, api_key=doomed.api_key)
    try:
        await client.list_rooms()
    finally:
        await client.aclose()
    assert server.runtime.identity is not None
    from tests.support.credentials import on_server

    on_server(server, server.runtime.identity.store.revoke(doomed.client_id))
    for credential in ({"api_key": doomed.api_key}, {"token": doomed.token}):
        error = await _refusal(style, server, "list_rooms", **credential)
        assert error.code == "UNAUTHENTICATED"
        assert "revoked" in str(error)


@pytest.mark.parametrize("style", ["rest", "websocket", "grpc", "graphql"])
async def test_a_stream_ends_unauthenticated_when_its_token_expires_and_resumes_with_a_new_one(
    style: str, server: LiveServer, alice: Credential
) -> None:
    short = token_for(server, alice, seconds=2)
    client = style_client(style, server, token=short)
    writer = style_client(style, server, api_key=alice.api_key)
    seen: list[int] = []
    try:
        created = await writer.create_reservation(
            draft(24 + ["rest", "websocket", "grpc", "graphql"].index(style), 14)
        )
        start = max(0, (await writer.watch_events(0, limit=1000))[-1].sequence - 1)
        with pytest.raises(Unauthenticated) as caught:
            async with asyncio.timeout(15):
                async for event in client.stream_events(start):
                    seen.append(event.sequence)
        assert caught.value.code == "UNAUTHENTICATED"
        assert seen and seen[0] == start + 1
        fresh = style_client(style, server, token=alice.token)
        try:
            await writer.cancel_reservation(created.reservation_id)
            async with asyncio.timeout(10), contextlib.aclosing(fresh.stream_events(seen[-1])) as events:
                async for event in events:  # closed on the way out, so its connection is too
                    assert event.sequence > seen[-1]
                    break
        finally:
            await fresh.aclose()
    finally:
        await client.aclose()
        await writer.aclose()


# -- peers nobody here wrote --------------------------------------------------------------------


def test_httpx_basic_auth_gets_a_token_that_pyjwt_verifies_against_the_served_jwks(
    server: LiveServer, alice: Credential
) -> None:
    base = server.base_url
    metadata = httpx.get(f"{base}/.well-known/oauth-authorization-server").json()
    assert metadata["token_endpoint"] == f"{base}/oauth/token"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    answer = httpx.post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "reservations:read"},
        auth=(alice.client_id, alice.secret),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["token_type"], body["scope"], body["expires_in"]) == ("Bearer", "reservations:read", 900)
    signing_key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(body["access_token"])
    claims = jwt.decode(
        body["access_token"], signing_key.key, algorithms=["RS256"], audience="urn:rosetta:api", issuer=base
    )
    assert claims["sub"] == "alice" and claims["scope"] == "reservations:read"
    rooms = httpx.post(
        f"{base}/graphql",
        json={"query": "{ reservations { totalItems } }"},
        headers={"authorization": f"Bearer {body['access_token']}"},
    )
    assert "errors" not in rooms.json()


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("alice", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, "alice", 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "admin"}, "alice", 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "nonsense"}, "alice", 400, "invalid_scope"),
        ({"scope": "reservations:read"}, "alice", 400, "invalid_request"),
    ],
)
def test_the_token_endpoint_answers_rfc_6749_errors(
    server: LiveServer,
    alice: Credential,
    form: dict[str, str],
    auth: Any,
    status: int,
    error: str,
) -> None:
    credentials = (alice.client_id, alice.secret) if auth == "alice" else auth
    answer = httpx.post(f"{server.base_url}/oauth/token", data=form, auth=credentials)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")


def test_client_credentials_in_the_form_body_work_too(server: LiveServer, alice: Credential) -> None:
    form = {"grant_type": "client_credentials", "client_id": alice.client_id, "client_secret": alice.secret}
    answer = httpx.post(f"{server.base_url}/oauth/token", data=form)
    assert answer.status_code == 200 and answer.json()["scope"] == "reservations:read reservations:write"


async def test_zeep_with_a_ws_security_username_token_calls_soap(
    server: LiveServer, alice: Credential
) -> None:
    from services.soap.client import SoapClient

    async with SoapClient(server.base_url, client_id=alice.client_id, client_secret=alice.secret) as client:
        created = await client.create_reservation(draft(28))
        assert (await client.get_reservation(created.reservation_id)).guest_name == "Grace"
    async with SoapClient(server.base_url, client_id=alice.client_id, client_secret="wrong") as client:
        with pytest.raises(Unauthenticated):
            await client.list_rooms()


async def test_grpcio_call_credentials_carry_the_token(server: LiveServer, alice: Credential) -> None:
    from services.grpc.generated import reservations_pb2 as pb
    from services.grpc.generated import reservations_pb2_grpc as pb_grpc

    assert server.grpc_target is not None
    call_credentials = grpc.access_token_call_credentials(alice.token)
    channel_credentials = grpc.composite_channel_credentials(
        grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP), call_credentials
    )
    async with grpc.aio.secure_channel(server.grpc_target, channel_credentials) as channel:
        stub = pb_grpc.ReservationServiceStub(channel)
        page = await stub.ListReservations(pb.ListReservationsRequest())
        assert page.page == 1
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.ReservationServiceStub(channel).ListReservations(pb.ListReservationsRequest())
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_a_browser_authenticates_a_websocket_with_a_frame(
    server: LiveServer, alice: Credential
) -> None:
    async with connect(server.ws_url, subprotocols=[ROSETTA_V1]) as ws:
        await ws.send(json.dumps({"id": 1, "type": "getReservation", "payload": {"reservationId": "rsv_x"}}))
        assert json.loads(await ws.recv())["payload"]["code"] == "UNAUTHENTICATED"
        await ws.send(json.dumps({"id": 2, "type": "authenticate", "payload": {"token": alice.token}}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "result" and answer["payload"]["clientId"] == "alice"
        await ws.send(json.dumps({"id": 3, "type": "getReservation", "payload": {"reservationId": "rsv_x"}}))
        assert json.loads(await ws.recv())["payload"]["code"] == "RESERVATION_NOT_FOUND"


def test_refusals_are_counted_by_style_code_and_client(server: LiveServer, reader: Credential) -> None:
    httpx.post(
        f"{server.base_url}/graphql",
        json={"query": 'mutation { cancelReservation(reservationId: "x") { version } }'},
        headers={"x-api-key": reader.api_key},
    )
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'rosetta_access_refusals_total{client="reader",code="FORBIDDEN",style="graphql"}' in metrics


async def test_a_graphql_subscription_authenticates_in_its_connection_init_payload(
    server: LiveServer, alice: Credential
) -> None:
    writer = style_client("graphql", server, api_key=alice.api_key)
    try:
        await writer.create_reservation(draft(27, 16))  # an event to receive
    finally:
        await writer.aclose()
    url = server.base_url.replace("http://", "ws://", 1) + "/graphql"
    subscribe = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": "subscription { reservationEvents(after: 0) { sequence } }"},
    }
    async with connect(url, subprotocols=[GRAPHQL_TRANSPORT_WS]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {alice.token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps(subscribe))
        first = json.loads(await ws.recv())
        assert first["type"] == "next" and "errors" not in first["payload"], first
    async with connect(url, subprotocols=[GRAPHQL_TRANSPORT_WS]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))  # anonymous
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps(subscribe))
        refused = json.loads(await ws.recv())
        assert refused["type"] in ("error", "next"), refused
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with connect(url, subprotocols=[GRAPHQL_TRANSPORT_WS]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": "rk_made-up"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
