"""``GatewayGuard``: the core's ``Guard`` as the gateway implements it, one per style.

authenticate (identity) -> authorize (the core's scope table) -> charge / stream (the quotas).
Every refusal is counted in ``/metrics`` by style, code and client.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from prometheus_client import Counter

from gateway.security.identity import Identity
from services.core.access import ANONYMOUS, Credentials, Principal, QuotaState, authorize
from services.core.errors import AccessError


class Limiter(Protocol):
    """What the guard needs of the quotas (gateway/quota.py's ``Quotas``)."""

    async def charge(
        self, principal: Principal, style: str, operation: str, cost: int = 1
    ) -> QuotaState | None: ...

    def stream(self, principal: Principal, style: str) -> AbstractAsyncContextManager[None]: ...


class Unlimited:
    """No quotas: every charge passes and streams are not counted."""

    async def charge(
        self, principal: Principal, style: str, operation: str, cost: int = 1
    ) -> QuotaState | None:
        return None

    @contextlib.asynccontextmanager
    async def stream(self, principal: Principal, style: str) -> AsyncIterator[None]:
        yield


def client_label(principal: Principal | None) -> str:
    if principal is None:
        return "unknown"  # a credential that named nobody: never its made-up value (cardinality)
    return principal.client_id or ("anonymous" if principal.via != "trusted" else "trusted")


class GatewayGuard:
    """Authenticates, authorizes and charges for one style; ``for_style`` shares everything else."""

    def __init__(
        self, identity: Identity, limiter: Any | None, refusals: Counter, style: str = "gateway"
    ) -> None:
        self.identity = identity
        self.limiter: Limiter = limiter if limiter is not None else Unlimited()
        self.refusals = refusals
        self.style = style

    def for_style(self, style: str) -> GatewayGuard:
        return GatewayGuard(self.identity, self.limiter, self.refusals, style)

    def _refused(self, error: AccessError, principal: Principal | None) -> None:
        self.refusals.labels(self.style, error.code, client_label(principal)).inc()

    async def authenticate(self, credentials: Credentials) -> Principal:
        identity = self.identity
        try:
            if credentials.bearer is not None:
                principal = await identity.by_token(credentials.bearer)
            elif credentials.api_key is not None:
                principal = await identity.by_api_key(credentials.api_key)
            elif credentials.client_id is not None:
                via = "wsse" if self.style == "soap" and credentials.client_secret is not None else "basic"
                principal = await identity.by_secret(
                    credentials.client_id, credentials.client_secret or "", via
                )
            else:
                return ANONYMOUS.at(credentials.address)
        except AccessError as error:
            self._refused(error, None)
            raise
        return principal.at(credentials.address)

    def authorize(self, principal: Principal, operation: str) -> None:
        try:
            authorize(principal, operation)
        except AccessError as error:
            self._refused(error, principal)
            raise

    async def charge(
        self, principal: Principal, style: str, operation: str, cost: int = 1
    ) -> QuotaState | None:
        return await self.limiter.charge(principal, style, operation, cost)

    def stream(self, principal: Principal, style: str) -> AbstractAsyncContextManager[None]:
        return self.limiter.stream(principal, style)

    async def admit(
        self, credentials: Credentials, operation: str, cost: int = 1
    ) -> tuple[Principal, QuotaState | None]:
        """The three checks of one request in their order (a convenience for the gateway's own routes)."""
        principal = await self.authenticate(credentials)
        self.authorize(principal, operation)
        return principal, await self.charge(principal, self.style, operation, cost)
