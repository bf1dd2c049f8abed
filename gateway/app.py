"""The composition root: build the store and the core once, hand them to every enabled style.

What it serves besides the styles (landing page, contracts, vendored assets, workshop docs) is
in ``gateway/pages.py``. Size: ``build_app`` is over 80 lines: it wires every style in one place
on purpose, so that what one process serves reads top to bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.dispatch import open_notifier, start_notifier, webhook_options
from gateway.faults import FaultInjector, FaultsRefused, parse_faults
from gateway.observability import InstrumentedApi, Metrics, ObservabilityMiddleware
from gateway.pages import (
    CONTRACTS,
    faults_control,
    landing_page,
    project_dir,
    respond,
    send_problem,
    vendor_files,
    workshop_docs,
)
from gateway.protection import BodyReadTimeout, SecurityHeaders, cors, parse_origins
from gateway.quota import Quotas, quotas_from_settings
from gateway.security.guard import GatewayGuard
from gateway.security.identity import DEMO_CLIENT, DEMO_SCOPES, Identity, IdentityOptions, IssuedClient
from gateway.security.store import open_identity_store
from gateway.settings import STYLES, Settings
from services.core.access import Principal
from services.core.api import ServerApi
from services.core.ports import EventNotifier, Store
from services.core.service import ReservationService
from services.store import open_store, open_webhook_store
from services.webhooks.ports import WebhookStore

log = logging.getLogger("rosetta.gateway")


class PathDispatcher:
    """Routes by path prefix to each style's own ASGI app (paths are passed on unchanged)."""

    def __init__(self, routes: dict[str, ASGIApp], default: ASGIApp) -> None:
        self.routes = sorted(routes.items(), key=lambda item: -len(item[0]))
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for prefix, app in self.routes:
                if path == prefix or path.startswith(prefix + "/"):
                    await app(scope, receive, send)
                    return
        await self.default(scope, receive, send)


@dataclass
class Runtime:
    """What the running process holds: the store, the core, and the servers beside HTTP."""

    settings: Settings
    store: Store
    notifier: EventNotifier
    service: ReservationService
    metrics: Metrics
    quotas: Quotas  # the buckets and stream slots the guard charges (gateway/quota.py)
    grpc_port: int | None = None
    background: list[Any] = field(default_factory=list)
    faults: FaultInjector | None = None  # only in workshop (or test) mode
    _webhook_store: WebhookStore | None = None
    identity: Identity | None = None  # None: authentication is off
    guard: GatewayGuard | None = None
    demo: IssuedClient | None = None  # seeded at this start (its key and secret exist only now)
    loop: asyncio.AbstractEventLoop | None = None  # the server's loop (tests provision clients on it)

    def guard_for(self, style: str) -> GatewayGuard | None:
        """The guard a style's create_app receives (None when authentication is off)."""
        return self.guard.for_style(style) if self.guard is not None else None

    def style_api(self, style: str) -> ServerApi:
        """What one style's adapter is handed: the core, instrumented, with faults in workshop mode."""
        api = InstrumentedApi(self.service, style, self.metrics)
        return cast(ServerApi, self.faults.wrap(api, style)) if self.faults is not None else api

    def webhook_store(self) -> WebhookStore:
        """The webhook subscriptions, cursors and deliveries, kept beside the core's store."""
        if self._webhook_store is None:
            self._webhook_store = open_webhook_store(self.settings.db)
        return self._webhook_store


def build_runtime(settings: Settings) -> Runtime:
    store = open_store(settings.db)
    notifier = open_notifier(store)
    service = ReservationService(store, notifier=notifier)
    if settings.faults and not settings.workshop:
        raise FaultsRefused(
            "fault injection is for workshops and tests only: start the server with --workshop"
        )
    faults = FaultInjector(parse_faults(settings.faults)) if settings.workshop else None
    metrics = Metrics()
    quotas = quotas_from_settings(settings, metrics)  # a bad ROSETTA_RATE_LIMIT stops start-up here
    runtime = Runtime(
        settings=settings,
        store=store,
        notifier=notifier,
        service=service,
        metrics=metrics,
        quotas=quotas,
        faults=faults,
    )
    if settings.auth:  # quotas are charged by the guard: with authentication off nothing is limited
        runtime.identity = build_identity(settings)
        runtime.guard = GatewayGuard(runtime.identity, quotas, metrics.refusals)
    return runtime


def build_identity(settings: Settings) -> Identity:
    """Clients and signing keys in the same database as the reservations (every process agrees)."""
    options = IdentityOptions(
        issuer=settings.issuer,
        audience=settings.auth_audience,
        token_seconds=settings.auth_token_seconds,
        cache_seconds=settings.auth_cache_seconds,
    )
    return Identity(open_identity_store(settings.db), options)


def build_app(settings: Settings, runtime: Runtime | None = None) -> ASGIApp:  # pylint: disable=function-too-long
    """The one ASGI app: every enabled HTTP style, /healthz, /metrics and the landing page."""
    rt = runtime or build_runtime(settings)

    def api(style: str) -> ServerApi:
        return rt.style_api(style)

    routes: dict[str, ASGIApp] = {}
    rest_app: ASGIApp | None = None
    if "rest" in settings.styles or "webhooks" in settings.styles:
        # One FastAPI app and one OpenAPI document for REST and the webhook management API.
        from services.rest.app import Extension, RestOptions
        from services.rest.app import create_app as create_rest

        extensions: list[Extension] = []
        if "webhooks" in settings.styles:
            from gateway.webhook_api import webhook_operations

            extensions.append(
                webhook_operations(
                    api("webhooks"), rt.webhook_store(), webhook_options(settings), rt.guard_for("webhooks")
                )
            )
        rest_app = create_rest(
            api("rest"),
            RestOptions(
                base_url=settings.base_url,
                max_body_bytes=settings.max_body_bytes,
                webhooks="webhooks" in settings.styles,
                resources="rest" in settings.styles,
            ),
            guard=rt.guard_for("rest"),
            extensions=extensions,
        )
    if "graphql" in settings.styles:
        from services.graphql.app import GraphQLOptions
        from services.graphql.app import create_app as create_graphql

        routes["/graphql"] = graphql = create_graphql(
            api("graphql"),
            guard=rt.guard_for("graphql"),
            options=GraphQLOptions(
                max_depth=settings.graphql_max_depth,
                max_tokens=settings.graphql_max_tokens,
                max_aliases=settings.graphql_max_aliases,
                introspection=settings.graphql_introspection,
                max_cost=settings.graphql_max_cost,
                max_seconds=settings.graphql_max_seconds,
                max_body_bytes=settings.max_body_bytes,
                # GraphiQL served from the public URL may open subscriptions (strawberry checks Origin).
                allowed_origins=(settings.base_url, *parse_origins(settings.cors_origins)),
            ),
        )
        rt.background.append(graphql.worker.aclose)  # its worker thread stops with the server
    if "soap" in settings.styles:
        from services.soap.app import SoapOptions
        from services.soap.app import create_app as create_soap

        routes["/soap"] = create_soap(
            api("soap"),
            SoapOptions(public_url=settings.base_url + "/soap", max_body_bytes=settings.max_body_bytes),
            rt.guard_for("soap"),
        )
    if "websocket" in settings.styles:
        from services.websocket.app import WebSocketOptions
        from services.websocket.app import create_app as create_ws

        routes["/ws"] = create_ws(
            api("websocket"),
            WebSocketOptions(
                max_frame_bytes=settings.ws_max_frame_bytes,
                rate_per_second=settings.ws_rate_per_second,
                # Same origin is always allowed; the public URL and ROSETTA_CORS_ORIGINS besides.
                allowed_origins=(settings.base_url, *parse_origins(settings.cors_origins)),
            ),
            rt.guard_for("websocket"),
        )

    async def healthz(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await rt.store.ping()
        except Exception:
            log.exception("health check failed")
            down = {"status": "unavailable", "store": "down"}
            await respond(send, 503, json.dumps(down).encode(), "application/json")
            return
        body: dict[str, object] = {
            "status": "ok",
            "store": "up",
            "styles": sorted(settings.styles),
            "grpcPort": rt.grpc_port,
            # Redis down is not a 503: by ROSETTA_QUOTA_ON_REDIS_DOWN requests still pass or are refused.
            "quota": await rt.quotas.health(),
        }
        await respond(send, 200, json.dumps(body).encode(), "application/json")

    async def metrics(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, 200, generate_latest(rt.metrics.registry), CONTENT_TYPE_LATEST)

    root = project_dir(settings)

    async def contracts(scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"].removeprefix("/contracts/")
        if name == "openapi.json" and rest_app is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [(b"location", b"/openapi.json"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        entry = CONTRACTS.get(name)
        path = root / entry[0] if entry else None
        if entry is None or path is None or not path.is_file():
            await send_problem(send, 404, scope, "no_route")
            return
        await respond(send, 200, path.read_bytes(), entry[1])

    routes["/contracts"] = contracts
    if rt.identity is not None:  # the authorization server: token endpoint, JWKS, RFC 8414 metadata
        from gateway.security.oauth import create_app as create_oauth

        routes.update(create_oauth(rt.identity, settings.base_url))

    vendored = vendor_files()
    vendor_cache: dict[str, tuple[bytes, bytes]] = {}  # path -> (body, etag), read on first request

    async def vendor(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        name = scope["path"].removeprefix("/static/vendor/")
        entry = vendored.get(name)  # a lookup, never a filesystem path: "..", "%2e%2e" or "//" cannot escape
        if entry is None:
            await send_problem(send, 404, scope, "no_route")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_problem(send, 405, scope, "method")
            return
        cached = vendor_cache.get(name)
        if cached is None:
            body = entry[0].read_bytes()
            cached = vendor_cache[name] = (body, b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"')
        body, etag = cached
        headers = [
            (b"cache-control", b"public, max-age=31536000, immutable"),
            (b"etag", etag),
            (b"x-content-type-options", b"nosniff"),
        ]
        if etag in dict(scope.get("headers", ())).get(b"if-none-match", b""):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", entry[1].encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    routes["/static/vendor"] = vendor
    routes["/healthz"] = healthz
    routes["/workshop"] = workshop_docs(root, faults_control(rt.faults) if rt.faults is not None else None)
    routes["/metrics"] = metrics

    from gateway.playground import create_app as create_playground
    from gateway.playground import local_grpc_target

    credential = demo_credential(rt.identity) if rt.identity is not None else None
    behind_edge = bool(settings.playground_grpc_target)  # compose: the edge routes every style by path
    playground_grpc = (
        (lambda: settings.playground_grpc_target)
        if behind_edge
        else (lambda: local_grpc_target(settings.host, rt.grpc_port))
    )
    routes["/playground"], close_playground = create_playground(
        rt.service,
        frozenset(STYLES) if behind_edge else settings.styles,
        playground_grpc,
        rt.faults,
        credential,
        rt.guard_for("playground"),
        # The demo token goes to callers on this machine; in workshop mode to every learner (README).
        demo_for_anyone=settings.workshop,
    )
    rt.background.append(close_playground)

    landing = resources.files("gateway").joinpath("static/index.html").read_text(encoding="utf-8")
    report = Path(settings.bench_report)

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in ("/", "/index.html"):
            page = landing_page(landing, settings, rt.grpc_port, bench_report=report.is_file())
            await respond(send, 200, page, "text/html; charset=utf-8")
        elif scope["type"] == "http" and scope["path"] == "/bench":
            try:
                await respond(send, 200, report.read_bytes(), "text/html; charset=utf-8")
            except OSError:
                await send_problem(send, 404, scope, "no_route")
        elif rest_app is not None:
            await rest_app(scope, receive, send)
        elif scope["type"] == "http":
            await send_problem(send, 404, scope, "no_route")
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    # Security headers and CORS apply to every answer of every HTTP style (one policy, one place);
    # a stalled request body is answered 408 whichever style was reading it.
    protected = SecurityHeaders(
        cors(
            BodyReadTimeout(PathDispatcher(routes, fallback), settings.body_timeout),
            parse_origins(settings.cors_origins),
        )
    )
    app = ObservabilityMiddleware(protected, rt.metrics, access_log=settings.access_log)
    return _with_lifespan(app, rt)


PLAYGROUND_TOKEN_SECONDS = 300
"""The demo token a playground page gets lives five minutes (renewed at half its life while the page
polls /playground/state): one copied out of a page is soon worthless."""


def demo_credential(identity: Identity) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    """A token of the ``demo`` client for the playground and landing page, renewed at half its life;
    None once the demo client is revoked or gone (revoking it closes the page's access too)."""
    cached: dict[str, Any] = {}

    async def credential() -> dict[str, Any] | None:
        client = await identity.store.client(DEMO_CLIENT)
        if client is None or client.revoked:
            return None
        now = identity.options.clock()
        if cached.get("renew_at", 0.0) <= now:
            principal = Principal(client.client_id, client.scopes, via="jwt")
            issued = await identity.issue_token(principal, None, seconds=PLAYGROUND_TOKEN_SECONDS)
            cached.update(
                renew_at=now + issued.expires_in / 2,
                value={"clientId": client.client_id, "token": issued.access_token, "scope": issued.scope},
            )
        return dict(cached["value"])

    return credential


async def open_identity(rt: Runtime) -> None:
    """Open the identity tables, make the first signing key, and on a store without any client seed
    the ``demo`` client (read + write), whose key and secret the banner shows this once."""
    assert rt.identity is not None
    rt.loop = asyncio.get_running_loop()
    await rt.identity.store.open()
    await rt.identity.signing_key()
    if rt.settings.auth_demo and not await rt.identity.store.clients():
        rt.demo = await rt.identity.create_client(DEMO_CLIENT, DEMO_SCOPES)  # None: another process won


def _with_lifespan(app: ASGIApp, rt: Runtime) -> ASGIApp:
    """Open the store, start gRPC (same event loop) and background tasks on startup; stop them on shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await rt.store.open()
        if rt.identity is not None:
            await open_identity(rt)
        stop_notifier = await start_notifier(rt.notifier)
        if stop_notifier is not None:
            rt.background.insert(0, stop_notifier)
        grpc_server = None
        if "grpc" in rt.settings.styles:
            from services.grpc.server import GrpcOptions, start_server

            grpc_server, rt.grpc_port = await start_server(
                rt.style_api("grpc"),
                GrpcOptions(
                    host=rt.settings.host,
                    port=rt.settings.grpc_port,
                    max_message_bytes=rt.settings.grpc_max_message_bytes,
                ),
                rt.guard_for("grpc"),
            )
        if "webhooks" in rt.settings.styles:
            # Opened and closed here even without a dispatcher: the management API uses it too.
            store = rt.webhook_store()
            await store.open()
            rt.background.insert(0, store.close)  # closed last, after the dispatcher has stopped
            if rt.settings.dispatcher:
                from services.webhooks.dispatcher import Dispatcher

                dispatcher = Dispatcher(rt.service, store, rt.notifier, webhook_options(rt.settings))
                await dispatcher.start()
                rt.background.append(dispatcher.stop)
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=2.0)
            for stop in reversed(rt.background):
                await stop()
            if rt.identity is not None:
                await rt.identity.store.close()
            await rt.quotas.close()
            await rt.store.close()

    async def with_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        message: Message = await receive()
        assert message["type"] == "lifespan.startup"
        manager = lifespan()
        try:
            await manager.__aenter__()
        except Exception as error:
            log.exception("startup failed")
            await send({"type": "lifespan.startup.failed", "message": str(error)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        await manager.__aexit__(None, None, None)
        await send({"type": "lifespan.shutdown.complete"})

    with_lifespan.runtime = rt  # type: ignore[attr-defined]  # for tests and the CLI to reach
    return with_lifespan
