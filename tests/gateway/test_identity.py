"""Identity: clients, API keys, secrets, access tokens (RFC 9068 JWT, RS256), rotation and revocation,
over every store that can hold them; forged tokens refused."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.security.identity import Identity, IdentityOptions
from gateway.security.store import (
    IdentityStore,
    MemoryIdentityStore,
    PostgresIdentityStore,
    SqliteIdentityStore,
    open_identity_store,
)
from services.core.access import Scope
from services.core.errors import Unauthenticated
from tests.support.postgres import fresh_schema

PG_DSN = os.environ.get("ROSETTA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
ISSUER = "http://127.0.0.1:8000"
RW = frozenset({Scope.READ.value, Scope.WRITE.value})


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with fresh_schema("rosetta_id") as name:
        yield name


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdentityStore]:
    if request.param == "memory":
        made: IdentityStore = MemoryIdentityStore()
    elif request.param == "sqlite":
        made = SqliteIdentityStore(tmp_path / "rosetta.db")
    else:
        name = request.getfixturevalue("pg_schema")
        made = PostgresIdentityStore(PG_DSN, schema=name)
    await made.open()
    yield made
    await made.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def identity(store: IdentityStore, clock: Clock) -> Identity:
    return Identity(store, IdentityOptions(issuer=ISSUER, clock=clock, key_bits=2048))


async def test_a_client_authenticates_by_api_key_by_secret_and_by_token(identity: Identity) -> None:
    issued = await identity.create_client("alice", RW)
    assert issued is not None
    assert issued.api_key.startswith("rk_") and issued.client_secret.startswith("rs_")
    assert issued.to_json()["scopes"] == "reservations:read reservations:write"
    stored = await identity.store.client("alice")
    assert (
        stored is not None and issued.api_key not in repr(stored) and issued.client_secret not in repr(stored)
    )

    by_key = await identity.by_api_key(issued.api_key)
    assert (by_key.client_id, by_key.scopes, by_key.via) == ("alice", RW, "api-key")
    by_secret = await identity.by_secret("alice", issued.client_secret)
    assert by_secret.client_id == "alice"
    token = await identity.issue_token(by_secret, frozenset({Scope.READ.value}))
    assert token.scope == "reservations:read" and token.expires_in == 900
    by_token = await identity.by_token(token.access_token)
    assert (by_token.client_id, by_token.scopes, by_token.via) == (
        "alice",
        frozenset({Scope.READ.value}),
        "jwt",
    )
    assert by_token.expires_at is not None

    assert await identity.create_client("alice", RW) is None  # the id is taken
    for attempt in (
        identity.by_api_key("rk_made-up"),
        identity.by_secret("alice", "wrong"),
        identity.by_secret("nobody", issued.client_secret),
    ):
        with pytest.raises(Unauthenticated) as caught:
            await attempt
        assert caught.value.params["reason"] == "auth_invalid"


async def test_the_token_carries_the_rfc_9068_claims_and_verifies_against_the_published_jwks(
    identity: Identity, clock: Clock
) -> None:
    issued = await identity.create_client("alice", RW)
    assert issued is not None
    token = (await identity.issue_token(await identity.by_api_key(issued.api_key), None)).access_token
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt"
    jwks = jwt.PyJWKSet.from_dict(await identity.jwks())
    claims = jwt.decode(
        token,
        jwks[header["kid"]].key,
        algorithms=["RS256"],
        audience="urn:rosetta:api",
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == claims["client_id"] == "alice"
    assert claims["scope"] == "reservations:read reservations:write"
    assert claims["exp"] - claims["iat"] == 900 and len(claims["jti"]) == 32


def _forge(claims: dict[str, object], key: rsa.RSAPrivateKey, alg: str, kid: str) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"})


async def test_forged_tokens_are_refused(identity: Identity, clock: Clock) -> None:
    issued = await identity.create_client("alice", RW)
    assert issued is not None
    good = (await identity.issue_token(await identity.by_api_key(issued.api_key), None)).access_token
    kid = jwt.get_unverified_header(good)["kid"]
    claims = jwt.decode(good, options={"verify_signature": False})
    public_pem = serialization.load_pem_public_key(
        jwt.PyJWK.from_dict((await identity.jwks())["keys"][0]).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def unsigned(body: dict[str, object]) -> str:
        def part(data: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{part(body)}."

    head, _, signature = good.rsplit(".", 2)[0], None, good.rsplit(".", 1)[1]
    tampered_body = (
        base64.urlsafe_b64encode(json.dumps({**claims, "scope": "admin"}).encode()).rstrip(b"=").decode()
    )
    forged: dict[str, str | Awaitable[str]] = {
        "alg none": unsigned({**claims, "scope": "admin"}),
        "HS256 keyed with the public key": _hs256(claims, public_pem, kid),
        "another key": _forge(claims, stranger, "RS256", kid),
        "wrong audience": _forge_with(identity, {**claims, "aud": "urn:someone:else"}),
        "wrong issuer": _forge_with(identity, {**claims, "iss": "https://evil.example"}),
        "tampered payload": f"{good.split('.')[0]}.{tampered_body}.{signature}",
        "not a JWT": "abc.def",
    }
    del head
    for name, token in forged.items():
        with pytest.raises(Unauthenticated) as caught:
            await identity.by_token(await token if not isinstance(token, str) else token)
        assert caught.value.params["reason"] == "auth_invalid", name

    clock.now += 900 + 31  # past exp and the leeway
    with pytest.raises(Unauthenticated) as caught:
        await identity.by_token(good)  # cached as verified, yet expired now
    assert caught.value.params["reason"] == "auth_expired"


def _hs256(claims: dict[str, object], secret: bytes, kid: str) -> str:
    # PyJWT itself refuses to HMAC with a PEM key; an attacker's library would not.
    import hashlib
    import hmac

    def part(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


async def _forge_with(identity: Identity, claims: dict[str, object]) -> str:
    """Signed with our own key: only the claim is wrong."""
    key = await identity.signing_key()
    private = serialization.load_pem_private_key(key.private_pem.encode(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return _forge(claims, private, "RS256", key.kid)


async def test_revoking_a_client_refuses_its_key_secret_and_tokens(identity: Identity, clock: Clock) -> None:
    issued = await identity.create_client("alice", RW)
    assert issued is not None
    token = (await identity.issue_token(await identity.by_api_key(issued.api_key), None)).access_token
    await identity.by_token(token)  # verified and cached
    assert await identity.revoke("alice")
    for attempt in (
        identity.by_api_key(issued.api_key),
        identity.by_secret("alice", issued.client_secret),
        identity.by_token(token),
    ):
        with pytest.raises(Unauthenticated) as caught:
            await attempt
        assert caught.value.params["reason"] == "auth_revoked"
    assert not await identity.revoke("nobody")


async def test_another_process_sees_a_revocation_within_the_cache_time(
    store: IdentityStore, clock: Clock
) -> None:
    serving = Identity(store, IdentityOptions(issuer=ISSUER, clock=clock))
    admin = Identity(store, IdentityOptions(issuer=ISSUER, clock=clock))
    issued = await admin.create_client("bob", RW)
    assert issued is not None
    await serving.by_api_key(issued.api_key)
    await admin.revoke("bob")
    await serving.by_api_key(issued.api_key)  # still within the 1 s the record is cached
    clock.now += 1.0
    with pytest.raises(Unauthenticated):
        await serving.by_api_key(issued.api_key)


async def test_rotation_publishes_the_next_key_first_and_keeps_the_old_until_its_tokens_expire(
    store: IdentityStore, clock: Clock
) -> None:
    identity = Identity(store, IdentityOptions(issuer=ISSUER, clock=clock, key_refresh_seconds=0))
    issued = await identity.create_client("alice", RW)
    assert issued is not None
    alice = await identity.by_api_key(issued.api_key)
    old_token = (await identity.issue_token(alice, None)).access_token
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_key = await identity.rotate(publish_ahead=300)
    kids = [k["kid"] for k in (await identity.jwks())["keys"]]
    assert kids == [old_kid, new_key.kid]  # published before it signs
    assert jwt.get_unverified_header((await identity.issue_token(alice, None)).access_token)["kid"] == old_kid

    clock.now += 300  # the new key signs now; the old one's tokens are still good
    last_old = old_token
    newer = (await identity.issue_token(alice, None)).access_token
    assert jwt.get_unverified_header(newer)["kid"] == new_key.kid
    assert (await identity.by_token(newer)).client_id == "alice"

    clock.now += 900 + 30  # the last token the old key signed has expired: the old key leaves
    assert [k["kid"] for k in (await identity.jwks())["keys"]] == [new_key.kid]
    with pytest.raises(Unauthenticated):
        await identity.by_token(last_old)


async def test_the_identity_tables_live_beside_the_core_in_one_sqlite_file(tmp_path: Path) -> None:
    from services.store import SqliteStore

    path = tmp_path / "rosetta.db"
    core = SqliteStore(path)
    await core.open()
    identity_store = open_identity_store(f"sqlite:///{path}")
    await identity_store.open()
    identity = Identity(identity_store, IdentityOptions(issuer=ISSUER))
    assert await identity.create_client("alice", RW) is not None
    await identity_store.close()
    again = open_identity_store(f"sqlite:///{path}")
    await again.open()  # migrates nothing twice
    assert [c.client_id for c in await again.clients()] == ["alice"]
    await again.close()
    await core.close()
