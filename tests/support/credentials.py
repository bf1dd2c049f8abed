"""Credentials for tests against a live server with authentication on: clients made on the server's
own loop (its store may be a PostgreSQL pool bound to that loop), tokens it issued, and forgeries."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.core.access import Scope
from tests.support.server import LiveServer

T = TypeVar("T")
READ_WRITE = frozenset({Scope.READ.value, Scope.WRITE.value})


@dataclass(frozen=True)
class Credential:
    client_id: str
    api_key: str
    secret: str
    token: str  # an access token for all of the client's scopes


def on_server(server: LiveServer, work: Coroutine[Any, Any, T]) -> T:
    loop = server.runtime.loop
    assert loop is not None, "authentication is off on this server"
    return asyncio.run_coroutine_threadsafe(work, loop).result(30)


def provision(
    server: LiveServer, name: str, scopes: frozenset[str] = READ_WRITE, *, token_seconds: int | None = None
) -> Credential:
    identity = server.runtime.identity
    assert identity is not None

    async def make() -> Credential:
        issued = await identity.create_client(name, scopes)
        assert issued is not None, f"client {name} exists"
        principal = await identity.by_api_key(issued.api_key)
        token = await identity.issue_token(principal, None, seconds=token_seconds)
        return Credential(name, issued.api_key, issued.client_secret, token.access_token)

    return on_server(server, make())


def client_fixture(
    name: str, scopes: frozenset[str] = READ_WRITE, *, server: str = "server"
) -> Callable[..., Credential]:
    """A module-scoped fixture named ``name``: a client provisioned on the module's live server
    (the fixture named ``server``), e.g. ``alice = client_fixture("alice", server="secured")``."""

    @pytest.fixture(scope="module", name=name)
    def provisioned(request: pytest.FixtureRequest) -> Credential:
        return provision(request.getfixturevalue(server), name, scopes)

    return provisioned


def token_for(server: LiveServer, credential: Credential, *, seconds: int) -> str:
    identity = server.runtime.identity
    assert identity is not None

    async def make() -> str:
        principal = await identity.by_api_key(credential.api_key)
        return (await identity.issue_token(principal, None, seconds=seconds)).access_token

    return on_server(server, make())


def _part(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(server: LiveServer, credential: Credential) -> dict[str, str]:
    """Tokens an attacker could make from a real one and the public JWKS; each must be refused."""
    identity = server.runtime.identity
    assert identity is not None
    key = on_server(server, identity.signing_key())
    private = serialization.load_pem_private_key(key.private_pem.encode(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(credential.token, options={"verify_signature": False})
    admin = {**claims, "scope": "admin"}
    head, body, signature = credential.token.split(".")
    hs_input = f"{_part({'alg': 'HS256', 'typ': 'at+jwt', 'kid': key.kid})}.{_part(admin)}"
    hs_mac = hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()

    def signed(changes: dict[str, object]) -> str:
        headers = {"kid": key.kid, "typ": "at+jwt"}
        return jwt.encode({**claims, **changes}, private, algorithm="RS256", headers=headers)

    return {
        "alg none": f"{_part({'alg': 'none', 'typ': 'at+jwt', 'kid': key.kid})}.{_part(admin)}.",
        "HS256 keyed with the public key": hs_input
        + "."
        + base64.urlsafe_b64encode(hs_mac).rstrip(b"=").decode(),
        "expired": signed({"iat": claims["iat"] - 3600, "exp": claims["iat"] - 1800}),
        "wrong audience": signed({"aud": "urn:another:api"}),
        "tampered payload": f"{head}.{_part(admin)}.{signature}",
    }
