"""Identity: clients and their credentials, OAuth 2.0 access tokens (JWT, RS256) and their keys.

- **Clients** have an id (their name), scopes, an API key and a secret, both 256-bit random and kept
  as SHA-256 digests (a slow password hash protects guessable passwords; these are not guessable).
- **Access tokens** follow RFC 9068 (``typ: at+jwt``; iss, aud, sub, client_id, scope, iat, exp, jti),
  signed and verified by PyJWT with an RS256 key from the shared key table. Verification allows RS256
  only (never ``none``, never HS* keyed with a public key), checks exp (small leeway), iss and aud,
  and caches what it verified until the token expires, as Envoy's ``jwt_authn`` does: a repeated token
  costs a dictionary lookup, not an RSA verification.
- **Revocation**: the client's record is read through a cache of ``cache_seconds`` (1 s), for API
  keys, secrets and tokens alike, so revoking a client refuses its key and its tokens within that
  time in every process (at once in the process that revoked).
- **Key rotation** (``rosetta keys rotate``): the new key is published in the JWKS ``publish_ahead``
  seconds before it signs; the old one stays published until the last token it signed has expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway.security.store import Client, IdentityStore, SigningKey
from services.core.access import ALL_SCOPES, Principal, Scope
from services.core.errors import InvalidProperty, Unauthenticated

log = logging.getLogger("rosetta.gateway.identity")

ALGORITHM = "RS256"
TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1
API_KEY_PREFIX = "rk_"
SECRET_PREFIX = "rs_"
CLIENT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
DEMO_CLIENT = "demo"
DEMO_SCOPES = frozenset({Scope.READ.value, Scope.WRITE.value})


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _random(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def parse_scopes(text: str | None) -> frozenset[str]:
    """``"reservations:read reservations:write"`` (spaces or commas) -> the scopes; unknown ones refused."""
    names = frozenset(part for part in re.split(r"[\s,]+", text or "") if part)
    unknown = names - ALL_SCOPES
    if unknown:
        raise InvalidProperty(
            field="scope", params={"reason": "enum", "allowed": ", ".join(sorted(ALL_SCOPES))}
        )
    return names


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """What ``rosetta clients create`` prints once: the only time the key and secret exist in clear."""

    client_id: str
    client_secret: str
    api_key: str
    scopes: frozenset[str]

    def to_json(self) -> dict[str, str]:
        return {
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "apiKey": self.api_key,
            "scopes": " ".join(sorted(self.scopes)),
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str

    def to_json(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 answer."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


@dataclass
class IdentityOptions:
    issuer: str  # the iss of our tokens (the public base URL)
    audience: str = "urn:rosetta:api"  # the aud our tokens carry and we require
    token_seconds: int = 900
    leeway_seconds: int = 30  # clock skew tolerated on exp/iat
    cache_seconds: float = 1.0  # how stale a client's record (revocation) may be
    key_refresh_seconds: float = 30.0  # how often another process's new key is looked for
    publish_ahead_seconds: float = 300.0  # a rotated key is in the JWKS this long before it signs
    token_cache_size: int = 10_000
    key_bits: int = 2048
    clock: Callable[[], float] = field(default=time.time)


def _new_key(now: datetime, activates_at: datetime, bits: int) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = (
        base64.urlsafe_b64encode(hashlib.sha256(public_jwk["n"].encode()).digest()[:12]).decode().rstrip("=")
    )
    public_jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return SigningKey(kid, pem, public_jwk, now, activates_at, None)


class Identity:
    """Authenticates credentials into principals and issues access tokens; one per process."""

    def __init__(self, store: IdentityStore, options: IdentityOptions) -> None:
        self.store = store
        self.options = options
        self._clients: dict[str, tuple[float, Client | None]] = {}  # client id -> (read at, record)
        self._key_owners: dict[str, tuple[float, str | None]] = {}  # API key digest -> (read at, client id)
        self._tokens: dict[str, tuple[Principal, float]] = {}  # verified token -> (principal, exp)
        self._keys: list[SigningKey] = []
        self._verifiers: dict[str, Any] = {}  # kid -> public key object
        self._signers: dict[str, Any] = {}  # kid -> private key object
        self._keys_read_at = float("-inf")

    # -- clients ---------------------------------------------------------------------------------

    async def create_client(self, client_id: str, scopes: frozenset[str]) -> IssuedClient | None:
        """A new client with fresh credentials; None when the id is taken."""
        if not CLIENT_ID.fullmatch(client_id):
            raise InvalidProperty(
                field="name", params={"reason": "enum", "allowed": "[a-z0-9][a-z0-9._-]{0,63}"}
            )
        api_key, secret = _random(API_KEY_PREFIX), _random(SECRET_PREFIX)
        client = Client(client_id, scopes, digest(api_key), digest(secret), False, self._now())
        if not await self.store.add_client(client):
            return None
        return IssuedClient(client_id, secret, api_key, scopes)

    async def revoke(self, client_id: str) -> bool:
        revoked = await self.store.revoke(client_id)
        self._clients.pop(client_id, None)
        return revoked

    async def _client(self, client_id: str) -> Client | None:
        now = self.options.clock()
        cached = self._clients.get(client_id)
        if cached is not None and now - cached[0] < self.options.cache_seconds:
            return cached[1]
        client = await self.store.client(client_id)
        if len(self._clients) > self.options.token_cache_size:
            self._clients.clear()
        self._clients[client_id] = (now, client)
        return client

    async def _active(self, client_id: str) -> Client:
        client = await self._client(client_id)
        if client is None:
            raise Unauthenticated(params={"reason": "auth_invalid"})
        if client.revoked:
            raise Unauthenticated(params={"reason": "auth_revoked"})
        return client

    async def by_api_key(self, api_key: str) -> Principal:
        key_hash = digest(api_key)
        now = self.options.clock()
        cached = self._key_owners.get(key_hash)
        if cached is None or now - cached[0] >= self.options.cache_seconds:
            client = await self.store.client_by_key(key_hash)
            if len(self._key_owners) > self.options.token_cache_size:
                self._key_owners.clear()  # bounded: a flood of made-up keys cannot grow it
            cached = self._key_owners[key_hash] = (now, client.client_id if client else None)
            if client is not None:
                self._clients[client.client_id] = (now, client)
        if cached[1] is None:
            raise Unauthenticated(params={"reason": "auth_invalid"})
        client = await self._active(cached[1])
        return Principal(client.client_id, client.scopes, via="api-key")

    async def by_secret(self, client_id: str, secret: str, via: str = "basic") -> Principal:
        client = await self._client(client_id)
        # The digest is compared even for an unknown id, so timing does not tell ids apart.
        expected = client.secret_hash if client is not None else digest("\0")
        if not hmac.compare_digest(expected, digest(secret)) or client is None:
            raise Unauthenticated(params={"reason": "auth_invalid"})
        if client.revoked:
            raise Unauthenticated(params={"reason": "auth_revoked"})
        return Principal(client.client_id, client.scopes, via=via)

    # -- tokens ----------------------------------------------------------------------------------

    async def issue_token(
        self, principal: Principal, requested: frozenset[str] | None, *, seconds: int | None = None
    ) -> IssuedToken:
        """An access token for an authenticated client: the requested scopes, or all of its own
        (RFC 6749 §3.3); asking for one it does not hold is refused by the caller (invalid_scope)."""
        assert principal.client_id is not None
        granted = principal.scopes if not requested else requested & principal.scopes
        key = await self.signing_key()
        now = int(self.options.clock())
        lifetime = self.options.token_seconds if seconds is None else seconds
        scope = " ".join(sorted(granted))
        claims = {
            "iss": self.options.issuer,
            "aud": self.options.audience,
            "sub": principal.client_id,
            "client_id": principal.client_id,
            "scope": scope,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
        }
        signer = self._signers.get(key.kid)
        if signer is None:
            loaded = serialization.load_pem_private_key(key.private_pem.encode(), None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise RuntimeError(f"signing key {key.kid} is not an RSA key")
            signer = self._signers[key.kid] = loaded
        token = jwt.encode(claims, signer, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": TOKEN_TYPE})
        return IssuedToken(token, lifetime, scope)

    async def by_token(self, token: str) -> Principal:
        now = self.options.clock()
        cached = self._tokens.get(token)
        if cached is None:
            principal, expires = await self._verify(token, now)
            if len(self._tokens) >= self.options.token_cache_size:
                self._evict(now)
            self._tokens[token] = (principal, expires)
        else:
            principal, expires = cached
            if now >= expires + self.options.leeway_seconds:
                del self._tokens[token]
                raise Unauthenticated(params={"reason": "auth_expired"})
        assert principal.client_id is not None
        await self._active(principal.client_id)  # revocation reaches tokens too
        return principal

    def _evict(self, now: float) -> None:
        leeway = self.options.leeway_seconds
        for token in [t for t, (_, exp) in self._tokens.items() if now >= exp + leeway]:
            del self._tokens[token]
        while len(self._tokens) >= self.options.token_cache_size:
            del self._tokens[next(iter(self._tokens))]  # oldest first

    async def _verify(self, token: str, now: float) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated(params={"reason": "auth_invalid"}) from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthenticated(params={"reason": "auth_invalid"})
        key = self._verifiers.get(kid)
        if key is None:
            await self._load_keys(force=True)  # a key another process has just made
            key = self._verifiers.get(kid)
            if key is None:
                raise Unauthenticated(params={"reason": "auth_invalid"})
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.options.audience,
                issuer=self.options.issuer,
                # Times are checked below against the identity's clock (the one that issued them).
                options={
                    "require": ["exp", "iat", "iss", "aud", "sub", "jti", "scope"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise Unauthenticated(params={"reason": "auth_invalid"}) from None
        subject, scope, expiry, issued = claims["sub"], claims["scope"], claims["exp"], claims["iat"]
        if not (
            isinstance(subject, str)
            and isinstance(scope, str)
            and isinstance(expiry, int | float)
            and isinstance(issued, int | float)
        ):
            raise Unauthenticated(params={"reason": "auth_invalid"})
        leeway = self.options.leeway_seconds
        if issued > now + leeway:  # issued in the future: not one of ours
            raise Unauthenticated(params={"reason": "auth_invalid"})
        if now >= expiry + leeway:
            raise Unauthenticated(params={"reason": "auth_expired"})
        expires = float(expiry)
        principal = Principal(
            subject,
            frozenset(scope.split()) & ALL_SCOPES,
            expires_at=datetime.fromtimestamp(expires, UTC),
            via="jwt",
        )
        return principal, expires

    # -- keys ------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.options.clock(), UTC).replace(microsecond=0)

    async def _load_keys(self, *, force: bool = False) -> None:
        now = self.options.clock()
        # Forced reloads (unknown kid) are rate-limited too: made-up kids must not hammer the store.
        if now - self._keys_read_at < (1.0 if force else self.options.key_refresh_seconds):
            return
        self._keys_read_at = now
        self._keys = await self.store.keys()
        moment = self._now()
        self._verifiers = {
            k.kid: RSAAlgorithm.from_jwk(k.public_jwk) for k in self._keys if k.published(moment)
        }

    async def signing_key(self) -> SigningKey:
        """The newest active key; the first one is made here if the store has none."""
        await self._load_keys()
        moment = self._now()
        active = [k for k in self._keys if k.activates_at <= moment and k.published(moment)]
        if not active:
            await self.store.add_key(_new_key(moment, moment, self.options.key_bits))
            self._keys_read_at = float("-inf")
            await self._load_keys()
            active = [k for k in self._keys if k.activates_at <= moment and k.published(moment)]
        return active[-1]

    async def rotate(self, publish_ahead: float | None = None) -> SigningKey:
        """A new key, published now and signing after ``publish_ahead`` seconds; the current keys
        retire once the last token they can still sign has expired."""
        ahead = self.options.publish_ahead_seconds if publish_ahead is None else publish_ahead
        moment = self._now()
        activates = moment + timedelta(seconds=ahead)
        retires = activates + timedelta(seconds=self.options.token_seconds + self.options.leeway_seconds)
        key = _new_key(moment, activates, self.options.key_bits)
        await self.store.add_key(key, retire_others_at=retires)
        self._keys_read_at = float("-inf")
        return key

    async def jwks(self) -> dict[str, Any]:
        """The public keys that verify our tokens (RFC 7517), the next one included."""
        await self._load_keys()
        if not self._keys:
            await self.signing_key()
        moment = self._now()
        return {"keys": [k.public_jwk for k in self._keys if k.published(moment)]}
