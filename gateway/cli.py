"""``rosetta``: the command line. ``rosetta serve`` runs every style in one process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any

import uvicorn

from gateway.app import build_app, build_identity, build_runtime
from gateway.observability import configure_logging
from gateway.playground import behind_proxies
from gateway.protection import server_options
from gateway.quota import check_settings as check_quota_settings
from gateway.quota import describe as describe_quotas
from gateway.security.identity import IssuedClient, parse_scopes
from gateway.settings import STYLES, Settings
from services.core.access import Scope
from services.core.errors import RosettaError
from services.core.model import format_timestamp

log = logging.getLogger("rosetta")


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve the enabled styles (default: all) in one process")
    serve.add_argument("--host", help="HTTP and gRPC bind address (ROSETTA_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (ROSETTA_PORT, default 8000)")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (ROSETTA_GRPC_PORT, default 50051)")
    serve.add_argument("--db", help="store: sqlite:///path.db or memory:// (ROSETTA_DB)")
    serve.add_argument("--styles", help=f"comma-separated subset of {','.join(STYLES)} (ROSETTA_STYLES)")
    serve.add_argument(
        "--public-url", help="public base URL, for links and the WSDL address (ROSETTA_PUBLIC_URL)"
    )
    serve.add_argument("--log-level", help="debug, info, warning (ROSETTA_LOG_LEVEL)")
    serve.add_argument(
        "--auth",
        choices=("on", "off"),
        help="identity and permissions checks (ROSETTA_AUTH, default on); off compares pure protocols",
    )
    serve.add_argument(
        "--no-dispatcher",
        dest="dispatcher",
        action="store_false",
        default=None,
        help="with webhooks enabled, do not deliver them here (a separate `rosetta dispatch` does)",
    )
    serve.add_argument(
        "--workshop",
        action="store_true",
        default=None,
        help="preset for labs: fault injector on (/workshop/faults), fast webhook retries, loopback "
        "webhook receivers allowed (ROSETTA_WORKSHOP)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="RULE",
        help="with --workshop: e.g. rest.createReservation:drop=0.5,times=2 or *.getRoom:latencyMs=300 "
        "(repeatable; ROSETTA_FAULTS, rules separated by ';')",
    )


def banner(settings: Settings, grpc_port: int | None, demo: IssuedClient | None = None) -> str:
    base = settings.base_url
    lines = [f"Rosetta is serving {', '.join(sorted(settings.styles))} (store: {settings.db})"]
    if not settings.auth:
        lines.append("  auth       OFF: every call is allowed (--auth on / ROSETTA_AUTH=on to check them)")
    elif demo is not None:
        lines.append(
            "  auth       on. A `demo` client (read + write) was created; shown only now, keep them:"
        )
        lines.append(f"             API key       {demo.api_key}")
        lines.append(f"             client secret {demo.client_secret}   (token: POST {base}/oauth/token)")
    else:
        lines.append(
            "  auth       on (API keys, OAuth 2.0 client credentials at /oauth/token); "
            "`rosetta clients create` makes a client"
        )
    if "rest" in settings.styles:
        lines.append(f"  REST       {base}/api/v1          (OpenAPI {base}/openapi.json, docs {base}/docs)")
    if "graphql" in settings.styles:
        lines.append(f"  GraphQL    {base}/graphql         (GraphiQL in a browser)")
    if "soap" in settings.styles:
        lines.append(f"  SOAP       {base}/soap            (WSDL {base}/soap?wsdl)")
    if "websocket" in settings.styles:
        ws = base.replace("http", "ws", 1)
        lines.append(f"  WebSocket  {ws}/ws              (subprotocol rosetta.v1)")
    if grpc_port is not None:
        lines.append(f"  gRPC       {settings.host}:{grpc_port}   (reflection on; rosetta.reservations.v1)")
    if "webhooks" in settings.styles:
        where = "delivered here" if settings.dispatcher else "delivered by `rosetta dispatch`"
        lines.append(f"  Webhooks   {base}/api/v1/webhook-subscriptions   ({where})")
    lines.append(f"  Playground {base}/playground   (one operation in every style, side by side)")
    lines.append(f"  health     {base}/healthz   metrics {base}/metrics   landing page {base}/")
    lines.append(f"  quotas     {describe_quotas(settings)}")
    if settings.workshop:
        lines.append(f"  Workshop   fault injector at {base}/workshop/faults; labs: rosetta workshop list")
    return "\n".join(lines)


SHUTDOWN_GRACE_SECONDS = 5
"""Open requests get this long to finish after SIGTERM/SIGINT; the process ends soon after, whatever runs."""
SHUTDOWN_DEADLINE_SECONDS = SHUTDOWN_GRACE_SECONDS + 5.0


class _Server(uvicorn.Server):
    """uvicorn's server, but SIGINT/SIGTERM end a graceful shutdown with exit status 0, within a deadline.

    (uvicorn re-raises the captured signal after shutting down, so the process would die of it.) The
    handler is a plain signal handler, run between bytecodes even while the event loop is busy, and it
    arms a watchdog thread: a shutdown that has not ended by ``SHUTDOWN_DEADLINE_SECONDS`` (a request
    holding the loop, a stuck close) ends the process anyway, with status 1.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: Any) -> None:
        if not self.should_exit:
            watchdog = threading.Timer(SHUTDOWN_DEADLINE_SECONDS, _exit_now)
            watchdog.daemon = True
            watchdog.start()
        self.handle_exit(sig, frame)


def _exit_now() -> None:
    logging.getLogger("rosetta.gateway").error(
        "shutdown did not end within %s s: exiting now", SHUTDOWN_DEADLINE_SECONDS
    )
    logging.shutdown()
    os._exit(1)


async def serve(settings: Settings) -> None:
    runtime = build_runtime(settings)
    # uvicorn's proxy headers, inside a wrapper that keeps the socket's peer (playground.behind_proxies)
    trusted_proxies = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    app = behind_proxies(build_app(settings, runtime), trusted_proxies)
    config = uvicorn.Config(
        app,
        proxy_headers=False,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_frame_bytes,
        ws_ping_interval=settings.ws_ping_interval,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        **server_options(settings.header_timeout),  # partial requests are timed out, not held
    )
    server = _Server(config)

    original_startup = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original_startup(sockets=sockets)
        if server.started:
            # What start-up made (modules, schemas, the apps: ~100,000 objects) lives as long as the
            # process: frozen, the collector stops rescanning it in every full collection (47 ms each,
            # about 8 µs per REST list request on average; README, "One run on this machine").
            gc.freeze()
            print(banner(settings, runtime.grpc_port, runtime.demo), flush=True)

    server.startup = startup  # type: ignore[method-assign]  # uvicorn has no hook after binding
    await server.serve()


async def run_inspector(
    host: str, port: int, secrets: list[str], subscribe: str | None, public_url: str | None
) -> None:
    """The webhook inspector under uvicorn; with ``subscribe``, it registers itself at that server."""
    from services.webhooks.inspector import create_inspector_app

    app = create_inspector_app(secrets)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    serving = asyncio.ensure_future(server.serve())
    target = public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    subscription = None
    if subscribe:
        try:
            secret, subscription = await _subscribe(subscribe.rstrip("/"), target)
        except RuntimeError as error:
            server.should_exit = True
            await serving
            raise SystemExit(f"rosetta webhook-inspector: {error}") from None
        secrets.append(secret)
        log.info("subscribed %s at %s", target, subscribe)
    print(f"webhook inspector on http://{host}:{port}/ (GET /received lists deliveries)", flush=True)
    await serving
    if subscription:  # leave nothing behind: the next start subscribes anew
        import httpx

        async with httpx.AsyncClient(timeout=5, headers=_credential()) as http:
            with contextlib.suppress(httpx.HTTPError):
                await http.delete(subscription)


async def register_inspector_client(settings: Settings) -> str:
    """A client of its own allowed to manage webhooks, made in the store as `rosetta clients create`
    would (for a demo deployment where the inspector shares the store: compose's webhook-inspector)."""
    identity = build_identity(settings)
    await identity.store.open()
    try:
        name = f"webhook-inspector-{os.urandom(4).hex()}"
        issued = await identity.create_client(name, frozenset({Scope.WEBHOOKS.value}))
        assert issued is not None, name
        return issued.api_key
    finally:
        await identity.store.close()


def _credential() -> dict[str, str]:
    """The inspector's credential for the subscriptions API (webhooks:manage): ROSETTA_API_KEY."""
    key = os.environ.get("ROSETTA_API_KEY")
    return {"x-api-key": key} if key else {}


async def _subscribe(rosetta_url: str, target: str) -> tuple[str, str]:
    """Create a subscription for every event type, retrying until the server answers.

    Returns the signing secret and the subscription's URL.
    """
    import httpx

    body = {"url": target, "description": "webhook inspector (rosetta webhook-inspector --subscribe)"}
    async with httpx.AsyncClient(timeout=10, headers=_credential()) as http:
        for attempt in range(60):
            try:
                response = await http.post(f"{rosetta_url}/api/v1/webhook-subscriptions", json=body)
            except httpx.TransportError:
                await asyncio.sleep(min(0.5 * (attempt + 1), 5))
                continue
            if response.status_code != 201:
                detail = response.json().get("detail", response.text) if response.content else response.text
                raise RuntimeError(
                    f"{rosetta_url} refused the subscription ({response.status_code}): {detail}"
                )
            created = response.json()
            self_link = created.get("_links", {}).get("self", {}).get("href") or response.headers["location"]
            return str(created["secret"]), str(self_link)
    raise RuntimeError(f"could not reach {rosetta_url} to subscribe")


async def migrate(settings: Settings) -> None:
    runtime = build_runtime(settings)
    await runtime.store.open()  # applies pending migrations under a lock and seeds the rooms
    await runtime.store.close()
    print(f"store ready: {settings.db}", flush=True)


async def manage_clients(settings: Settings, args: argparse.Namespace) -> int:
    """``rosetta clients create|list|revoke`` against the store's identity tables."""
    identity = build_identity(settings)
    await identity.store.open()
    try:
        if args.action == "create":
            try:
                scopes = parse_scopes(args.scopes)
                issued = await identity.create_client(args.name, scopes)
            except RosettaError as error:
                print(f"rosetta clients create: {error.localized('en')}", file=sys.stderr)
                return 2
            if issued is None:
                print(f"rosetta clients create: a client named {args.name!r} exists already", file=sys.stderr)
                return 1
            print(json.dumps(issued.to_json(), indent=2))
            return 0
        if args.action == "list":
            listed = [
                {
                    "clientId": c.client_id,
                    "scopes": " ".join(sorted(c.scopes)),
                    "revoked": c.revoked,
                    "createdAt": format_timestamp(c.created_at),
                }
                for c in await identity.store.clients()
            ]
            print(json.dumps(listed, indent=2))
            return 0
        if not await identity.revoke(args.name):
            print(f"rosetta clients revoke: no client named {args.name!r}", file=sys.stderr)
            return 1
        print(
            f"revoked {args.name}: its API key and secret are refused at once, its tokens within "
            f"{settings.auth_cache_seconds:g} s in every process"
        )
        return 0
    finally:
        await identity.store.close()


async def manage_keys(settings: Settings, args: argparse.Namespace) -> int:
    """``rosetta keys list|rotate``: the JWT signing keys."""
    identity = build_identity(settings)
    await identity.store.open()
    try:
        if args.action == "rotate":
            key = await identity.rotate(args.publish_ahead)
            print(
                f"new key {key.kid}: published now, signs from {format_timestamp(key.activates_at)}; "
                "the previous key stays published until its last token expires"
            )
            return 0
        await identity.signing_key()
        keys = [
            {
                "kid": k.kid,
                "activatesAt": format_timestamp(k.activates_at),
                "retiresAt": format_timestamp(k.retires_at) if k.retires_at else None,
            }
            for k in await identity.store.keys()
        ]
        print(json.dumps(keys, indent=2))
        return 0
    finally:
        await identity.store.close()


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when installed (uvicorn[standard] brings it), as uvicorn itself would."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rosetta", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    migrate_cmd = sub.add_parser(
        "migrate", help="create or upgrade the store's schema and seed the rooms, then exit"
    )
    migrate_cmd.add_argument("--db", help="store URL (ROSETTA_DB)")
    dispatch = sub.add_parser("dispatch", help="deliver webhooks from the event log (no HTTP server)")
    dispatch.add_argument("--db", help="store URL (ROSETTA_DB)")
    inspector = sub.add_parser("webhook-inspector", help="receive webhooks, verify and show them")
    inspector.add_argument("--host", help="default: ROSETTA_HOST or 127.0.0.1")
    inspector.add_argument("--port", type=int, default=None, help="default: ROSETTA_PORT or 9000")
    inspector.add_argument("--secret", action="append", default=[], help="whsec_… secret (repeatable)")
    inspector.add_argument(
        "--subscribe",
        metavar="ROSETTA_URL",
        help="subscribe at a Rosetta server (e.g. http://127.0.0.1:8000), verify with the secret it returns",
    )
    inspector.add_argument("--public-url", help="URL the server delivers to (default http://HOST:PORT/)")
    inspector.add_argument(
        "--register-client",
        action="store_true",
        help="without ROSETTA_API_KEY, make a webhooks:manage client in the store (ROSETTA_DB)",
    )
    inspector.epilog = "With authentication on, ROSETTA_API_KEY names a client with webhooks:manage."
    clients = sub.add_parser(
        "clients", help="API clients: create (prints its key and secret once), list, revoke"
    )
    clients_sub = clients.add_subparsers(dest="action", required=True)
    create = clients_sub.add_parser(
        "create", help="a new client; prints {clientId, clientSecret, apiKey, scopes}"
    )
    create.add_argument("--name", required=True, help="the client id: lowercase letters, digits, . _ -")
    create.add_argument(
        "--scopes",
        default="reservations:read reservations:write",
        help="space-separated: reservations:read reservations:write webhooks:manage admin",
    )
    create.add_argument("--db", help="store URL (ROSETTA_DB)")
    listing = clients_sub.add_parser("list", help="every client (never its key or secret)")
    listing.add_argument("--db", help="store URL (ROSETTA_DB)")
    revoke = clients_sub.add_parser("revoke", help="refuse a client's key, secret and tokens from now on")
    revoke.add_argument("name")
    revoke.add_argument("--db", help="store URL (ROSETTA_DB)")
    keys = sub.add_parser("keys", help="JWT signing keys: list, rotate")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    keys_list = keys_sub.add_parser("list", help="the signing keys and when each signs and retires")
    keys_list.add_argument("--db", help="store URL (ROSETTA_DB)")
    rotate = keys_sub.add_parser("rotate", help="a new key, published before it signs")
    rotate.add_argument("--db", help="store URL (ROSETTA_DB)")
    rotate.add_argument(
        "--publish-ahead",
        type=float,
        default=None,
        help="seconds between publishing and signing (default 300)",
    )
    sub.add_parser("bench", help="benchmark the styles side by side (rosetta bench --help)", add_help=False)
    sub.add_parser(
        "workshop", help="labs: list, start, check, serve (rosetta workshop --help)", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["workshop"]:
        from workshop.cli import main as workshop_main

        return int(workshop_main(argv[1:]))
    if argv[:1] == ["bench"]:
        from bench.cli import main as bench_main

        return int(bench_main(argv[1:]))
    args = parser.parse_args(argv)

    if args.command == "serve":
        try:
            settings = Settings.from_env().override(
                host=args.host,
                port=args.port,
                grpc_port=args.grpc_port,
                db=args.db,
                styles=args.styles,
                public_url=args.public_url,
                log_level=args.log_level,
                dispatcher=args.dispatcher,
                auth=args.auth,
                faults=";".join(args.fault) or None,
            )
            if args.workshop:
                settings = settings.for_workshop()
            if settings.faults:
                from gateway.faults import parse_faults

                parse_faults(settings.faults)  # a bad rule is a usage error, before anything starts
            if settings.faults and not settings.workshop:
                raise ValueError(
                    "--fault (ROSETTA_FAULTS) needs --workshop: faults are for teaching and tests"
                )
            check_quota_settings(settings)
        except ValueError as error:
            parser.error(str(error))
        configure_logging(settings.log_level)
        run_event_loop(serve(settings))
        return 0
    if args.command == "dispatch":
        from gateway.dispatch import run_dispatcher

        settings = Settings.from_env().override(db=args.db)
        configure_logging(settings.log_level)
        run_event_loop(run_dispatcher(settings))
        return 0
    if args.command == "webhook-inspector":
        configure_logging("info")
        port = args.port if args.port is not None else int(os.environ.get("ROSETTA_PORT", "9000"))
        host = args.host or os.environ.get("ROSETTA_HOST", "127.0.0.1")
        settings = Settings.from_env()
        if args.register_client and settings.auth and not os.environ.get("ROSETTA_API_KEY"):
            os.environ["ROSETTA_API_KEY"] = asyncio.run(register_inspector_client(settings))
        run_event_loop(run_inspector(host, port, args.secret, args.subscribe, args.public_url))
        return 0
    if args.command in ("clients", "keys"):
        settings = Settings.from_env().override(db=args.db)
        manage = manage_clients if args.command == "clients" else manage_keys
        return asyncio.run(manage(settings, args))
    if args.command == "migrate":
        settings = Settings.from_env().override(db=args.db)
        configure_logging(settings.log_level)
        asyncio.run(migrate(settings))
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
