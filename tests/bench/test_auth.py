"""``rosetta bench --auth``: the credential read from a server's banner works in every mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import auth
from bench.auth_cost import app_cpu_ms
from gateway.cli import banner
from services.core.errors import Unauthenticated
from services.core.model import ReservationQuery
from services.graphql.client import GraphQLClient
from services.grpc.client import GrpcClient
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(auth=True, styles="graphql,grpc") as running:
        yield running


def printed_banner(server: LiveServer) -> str:
    assert server.runtime.demo is not None  # a fresh store seeds the demo client
    return banner(server.settings, server.runtime.grpc_port, server.runtime.demo)


@pytest.mark.parametrize("mode", ["apikey", "jwt"])
async def test_the_demo_clients_credential_is_accepted_by_every_style(server: LiveServer, mode: str) -> None:
    credential = auth.credential_for(mode, printed_banner(server), server.base_url)
    assert credential.mode == mode
    assert (credential.api_key is not None) == (mode == "apikey")
    assert (credential.token is not None) == (mode == "jwt")
    assert server.grpc_target is not None
    async with GraphQLClient(server.base_url, **credential.client_kwargs()) as graphql:
        assert not (await graphql.list_reservations(ReservationQuery())).items
    async with GrpcClient(server.grpc_target, **credential.client_kwargs()) as grpc_api:
        assert not (await grpc_api.list_reservations(ReservationQuery())).items
    [(name, value)] = credential.grpc_metadata()
    assert (name, value) == (
        ("x-api-key", credential.api_key)
        if mode == "apikey"
        else ("authorization", f"Bearer {credential.token}")
    )


async def test_without_a_credential_the_same_call_is_refused(server: LiveServer) -> None:
    assert auth.credential_for("off", printed_banner(server), server.base_url) == auth.NONE
    async with GraphQLClient(server.base_url, **auth.NONE.client_kwargs()) as graphql:
        with pytest.raises(Unauthenticated):
            await graphql.list_reservations(ReservationQuery())


def test_server_environment_per_mode() -> None:
    assert auth.server_env("off") == {"ROSETTA_AUTH": "off"}
    assert auth.server_env("jwt")["ROSETTA_AUTH"] == "on"
    assert auth.server_env("apikey")["ROSETTA_RATE_LIMIT"] == "off"  # the load is never refused
    assert auth.server_env("apikey")["ROSETTA_STREAM_LIMIT"] == "0"  # nor fan-out's 100 streams of one client
    with pytest.raises(ValueError, match="--auth"):
        auth.server_env("basic")
    with pytest.raises(RuntimeError, match="no demo client"):
        auth.credential_for("apikey", "Rosetta is serving rest", "http://127.0.0.1:1")


@pytest.mark.parametrize("style", ["rest", "graphql"])
@pytest.mark.parametrize("mode", ["off", "apikey", "jwt"])
async def test_auth_cost_measures_a_get_answered_in_every_mode(style: str, mode: str) -> None:
    """``python -m bench.auth_cost``'s figure is of a request the app answered (200, no errors)."""
    assert await app_cpu_ms(style, mode, 20) > 0
