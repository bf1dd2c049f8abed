"""The authorization server's HTTP face: ``POST /oauth/token`` (RFC 6749 §4.4 client credentials, errors
as §5.2), ``/.well-known/jwks.json`` (RFC 7517) and ``/.well-known/oauth-authorization-server`` (RFC 8414).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.security.identity import Identity, parse_scopes
from services.core.access import ALL_SCOPES, credentials_from_headers
from services.core.errors import InvalidProperty, Unauthenticated

TOKEN_PATH = "/oauth/token"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
MAX_FORM_BYTES = 8 * 1024


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(self, error: str, description: str, status: int = 400, basic: bool = False) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.basic = error, description, status, basic


async def _send_json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "the request body is too large")
        if not message.get("more_body"):
            return body


def metadata(issuer: str, base_url: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "token_endpoint": base_url + TOKEN_PATH,
        "jwks_uri": base_url + JWKS_PATH,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": [],  # no authorization endpoint: client credentials only
        "service_documentation": base_url + "/",
    }


def create_app(identity: Identity, base_url: str) -> dict[str, ASGIApp]:
    """The three routes, by path, for the gateway's dispatcher."""
    no_store = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]

    async def refuse_method(send: Send, allowed: bytes) -> None:
        await _send_json(
            send,
            405,
            {"error": "invalid_request", "error_description": "method not allowed"},
            [(b"allow", allowed)],
        )

    async def token(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] != "POST":
            await refuse_method(send, b"POST")
            return
        try:
            answer = await _token(scope, receive)
        except OAuthError as error:
            headers = list(no_store)
            if error.status == 401:
                challenge = 'Basic realm="rosetta"' if error.basic else 'Bearer realm="rosetta"'
                headers.append((b"www-authenticate", challenge.encode()))
            body = {"error": error.error, "error_description": error.description}
            await _send_json(send, error.status, body, headers)
            return
        await _send_json(send, 200, answer, no_store)

    async def _token(scope: Scope, receive: Receive) -> dict[str, Any]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        body = await _read_body(receive)
        if media_type != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded")
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "the form body could not be read") from None
        form: dict[str, str] = {}
        for name, value in pairs:
            if name in form:  # RFC 6749 §3.2: parameters must not be repeated
                raise OAuthError("invalid_request", f"the parameter {name} is repeated")
            form[name] = value
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        basic = headers.get("authorization")
        if basic is not None and ("client_id" in form and "client_secret" in form):
            raise OAuthError("invalid_request", "authenticate the client one way only (RFC 6749 2.3)")
        if basic is not None:
            credentials = credentials_from_headers(basic, None)
            if credentials.client_id is None:
                raise OAuthError(
                    "invalid_client", "the Authorization header is not HTTP Basic", 401, basic=True
                )
            client_id, secret = credentials.client_id, credentials.client_secret or ""
        elif "client_id" in form:
            client_id, secret = form["client_id"], form.get("client_secret", "")
        else:
            raise OAuthError("invalid_client", "client authentication is required", 401, basic=True)
        try:
            principal = await identity.by_secret(client_id, secret)
        except Unauthenticated as error:
            reason = (
                "the client is revoked" if error.params.get("reason") == "auth_revoked" else "unknown client"
            )
            raise OAuthError(
                "invalid_client", f"client authentication failed: {reason}", 401, basic=basic is not None
            ) from None
        if grant != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        try:
            requested = parse_scopes(form.get("scope"))
        except InvalidProperty:
            raise OAuthError("invalid_scope", "unknown scope; see scopes_supported in the metadata") from None
        if requested - principal.scopes and not principal.may("admin"):
            raise OAuthError(
                "invalid_scope",
                "the client may not request: " + " ".join(sorted(requested - principal.scopes)),
            )
        if not principal.scopes:
            raise OAuthError("unauthorized_client", "the client holds no scope")
        issued = await identity.issue_token(principal, requested or None)
        return issued.to_json()

    async def jwks(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] not in ("GET", "HEAD"):
            await refuse_method(send, b"GET, HEAD")
            return
        keys = await identity.jwks()
        # Short enough that a verifier sees a rotated key well before it signs (publish-ahead).
        await _send_json(send, 200, keys, [(b"cache-control", b"public, max-age=60")])

    document = metadata(identity.options.issuer, base_url.rstrip("/"))

    async def well_known(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] not in ("GET", "HEAD"):
            await refuse_method(send, b"GET, HEAD")
            return
        await _send_json(send, 200, document, [(b"cache-control", b"public, max-age=3600")])

    return {TOKEN_PATH: token, JWKS_PATH: jwks, METADATA_PATH: well_known}
