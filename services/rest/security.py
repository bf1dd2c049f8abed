"""The gateway's identity, scopes and quotas as FastAPI ``Security`` dependencies (REST and webhooks).

Credentials come from ``Authorization: Bearer``, ``X-Api-Key`` or HTTP Basic (a client id and
secret). The schemes are FastAPI's security classes, so the generated document declares them
(an API key header, OAuth2 client credentials at ``/oauth/token``, HTTP Basic) and every operation
the scope it needs. Per request, in the order every style follows (services/core/access.py):
authenticate -> authorize(operation) -> charge -> ``api.acting_as(principal)``. Without a guard
(authentication off) an operation gets the service itself, and nothing else runs. Refusals are
catalog errors: 401 with ``WWW-Authenticate``, 403, 429 with ``Retry-After``; with quotas on, every
answer carries ``RateLimit-Policy`` and ``RateLimit`` (``QuotaHeaders``).
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the dependencies
# defined in a closure, so they must be evaluated where the closure's names exist.

import base64
import binascii
import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials, OAuth2
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.access import OPERATION_SCOPES, TRUSTED, Credentials, Guard, Principal, QuotaState
from services.core.access import Scope as AccessScope
from services.core.api import ServerApi
from services.core.errors import Unauthenticated

STYLE = "rest"
SCOPE_DESCRIPTIONS = {
    AccessScope.READ.value: "Read reservations and follow the event log.",
    AccessScope.WRITE.value: "Create, modify, cancel and check in reservations.",
    AccessScope.WEBHOOKS.value: "Manage webhook subscriptions.",
    AccessScope.ADMIN.value: "Every scope, and every client's reservations.",
}


class _Basic(HTTPBasic):
    """HTTP Basic whose malformed header is a catalog UNAUTHENTICATED, not FastAPI's bare 401."""

    async def __call__(  # type: ignore[override]  # the same override as FastAPI's own HTTPBasic
        self, request: HTTPConnection
    ) -> HTTPBasicCredentials | None:
        scheme, _, param = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, colon, password = base64.b64decode(param, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise Unauthenticated(params={"reason": "auth_invalid"}) from None
        if not colon:
            raise Unauthenticated(params={"reason": "auth_invalid"})
        return HTTPBasicCredentials(username=user, password=password)


class _Bearer(OAuth2):
    """OAuth2 client credentials: the token of ``Authorization: Bearer <token>``."""

    async def __call__(self, request: HTTPConnection) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


API_KEY = APIKeyHeader(
    name="X-Api-Key", scheme_name="apiKey", description="A client's API key.", auto_error=False
)
BEARER = _Bearer(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token", scopes=SCOPE_DESCRIPTIONS)
    ),
    scheme_name="oauth2",
    description="A JWT from `POST /oauth/token` (client credentials).",
    auto_error=False,
)
BASIC = _Basic(scheme_name="basic", description="The client id and secret.", auto_error=False)


def quota_headers(state: QuotaState) -> list[tuple[bytes, bytes]]:
    """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers)."""
    policy = f'"{state.policy}";q={state.limit};w={math.ceil(state.window_seconds)}'
    current = f'"{state.policy}";r={state.remaining};t={math.ceil(state.reset_seconds)}'
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", current.encode())]


QUOTA_KEY = "rosetta.quota"


class QuotaHeaders:
    """Puts the caller's quota state on every answer, refusals included (set by ``access``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state", {}).get(QUOTA_KEY)
                if state is not None:
                    message = {**message, "headers": [*message.get("headers", ()), *quota_headers(state)]}
            await send(message)

        await self.app(scope, receive, with_quota)


PRINCIPAL_KEY = "rosetta.principal"


def _state(request: Request) -> dict[str, Any]:
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


def admission(guard: Guard, operation: str, style: str = STYLE) -> Callable[..., Awaitable[Principal]]:
    """The ``Security`` dependency of one operation: who calls, allowed and charged, or a refusal.

    The scope it needs is declared on the OAuth2 scheme, so the document lists it per operation.
    """
    needed = OPERATION_SCOPES[operation]
    scopes = [needed.value] if needed is not None else []

    async def admit(
        request: Request,
        api_key: Annotated[str | None, Security(API_KEY)],
        bearer: Annotated[str | None, Security(BEARER, scopes=scopes)],
        basic: Annotated[HTTPBasicCredentials | None, Security(BASIC)],
    ) -> Principal:
        credentials = Credentials(
            api_key=api_key,
            bearer=bearer,
            client_id=basic.username if basic else None,
            client_secret=basic.password if basic else None,
            address=request.client.host if request.client else None,
        )
        principal = await guard.authenticate(credentials)
        _state(request)[PRINCIPAL_KEY] = principal
        guard.authorize(principal, operation)  # by name only: before any lookup
        quota = await guard.charge(principal, style, operation)
        if quota is not None:
            _state(request)[QUOTA_KEY] = quota
        return principal

    return admit


def caller(api: ServerApi, guard: Guard | None, operation: str) -> Callable[..., Awaitable[ServerApi]]:
    """The dependency giving ``operation`` the service to call: ``api`` itself without a guard
    (authentication off: nothing else runs), else ``api.acting_as(principal)`` once admitted."""
    if guard is None:

        async def trusted() -> ServerApi:
            return api

        return trusted

    admit = admission(guard, operation)

    async def acting(principal: Annotated[Principal, Security(admit)]) -> ServerApi:
        return api.acting_as(principal)

    return acting


def principal_of(request: Request) -> Principal:
    """Who this request runs for (TRUSTED when authentication is off)."""
    found = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    return found if isinstance(found, Principal) else TRUSTED
