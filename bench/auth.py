"""``rosetta bench --auth off|apikey|jwt``: the servers' authentication and the credential the bench's
clients and load generators send.

Each style server is a fresh ``rosetta serve --db memory://``, which seeds a ``demo`` client and prints
its API key and secret in its banner: ``apikey`` sends that key (``X-Api-Key``, gRPC ``x-api-key``),
``jwt`` exchanges the secret for an access token at ``/oauth/token`` once per server and sends it as
``Authorization: Bearer`` (the gateway caches a verified token, as gateways do). ``off`` serves with
``ROSETTA_AUTH=off``: the protocols alone. Quotas stay off in every mode: the bench measures the checks,
not the limiter refusing its load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypedDict

import httpx

MODES: tuple[str, ...] = ("off", "apikey", "jwt")
DEFAULT = "apikey"  # the gateway's default is authentication on; the bench measures what users run
_API_KEY = re.compile(r"API key\s+(\S+)")
_SECRET = re.compile(r"client secret\s+(\S+)")


class ClientCredential(TypedDict, total=False):
    """The credential keyword arguments every style's client takes."""

    api_key: str
    token: str


@dataclass(frozen=True)
class Credential:
    """What every request of the bench carries (nothing when authentication is off)."""

    mode: str = "off"
    api_key: str | None = None
    token: str | None = None

    def client_kwargs(self) -> ClientCredential:
        """Keyword arguments of every style's client (``api_key=`` or ``token=``)."""
        if self.token is not None:
            return {"token": self.token}
        if self.api_key is not None:
            return {"api_key": self.api_key}
        return {}

    def grpc_metadata(self) -> list[tuple[str, str]]:
        if self.token is not None:
            return [("authorization", f"Bearer {self.token}")]
        if self.api_key is not None:
            return [("x-api-key", self.api_key)]
        return []


NONE = Credential()
_current = NONE


def current() -> Credential:
    """The credential of the server being measured now (the bench drives one server at a time)."""
    return _current


def server_env(mode: str) -> dict[str, str]:
    if mode not in MODES:
        raise ValueError(f"--auth {mode!r}: choose one of {', '.join(MODES)}")
    if mode == "off":
        return {"ROSETTA_AUTH": "off"}
    # A token outlives any bench run; quotas off (the rate and the open streams per client: fan-out opens 100
    # streams as one client) so that no request of the load is refused.
    return {
        "ROSETTA_AUTH": "on",
        "ROSETTA_AUTH_TOKEN_SECONDS": "86400",
        "ROSETTA_RATE_LIMIT": "off",
        "ROSETTA_STREAM_LIMIT": "0",
    }


def activate(mode: str, banner: str, http_url: str) -> Credential:
    """Make the credential for a server that printed ``banner`` the current one, and return it."""
    global _current
    _current = credential_for(mode, banner, http_url)
    return _current


def credential_for(mode: str, banner: str, http_url: str) -> Credential:
    if mode == "off":
        return NONE
    key, secret = _API_KEY.search(banner), _SECRET.search(banner)
    if key is None or secret is None:
        raise RuntimeError("the server printed no demo client (is ROSETTA_AUTH_DEMO off?)")
    if mode == "apikey":
        return Credential(mode, api_key=key.group(1))
    response = httpx.post(
        http_url.rstrip("/") + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo", secret.group(1)),
        timeout=30,
    )
    response.raise_for_status()
    return Credential(mode, token=response.json()["access_token"])
