"""Entry points the gateway calls, and the management API at ``/api/v1/webhook-subscriptions``.

``create_app`` is a small ASGI app over ``WebhookService``: camelCase JSON, ``_links`` with the
available actions, RFC 9457 problems with localized text made exactly as REST makes them (its
status table and its 404/405 refusals, services/rest/errors.py). ``start_dispatcher`` runs the
dispatcher as a background task of the serving process; ``run_dispatcher_forever`` runs it alone
(``rosetta dispatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import Response

from services.core import messages
from services.core.api import ServerApi
from services.core.errors import InternalError, InvalidProperty, PayloadTooLarge, RosettaError
from services.core.model import format_timestamp
from services.core.ports import EventNotifier
from services.core.service import ReservationService
from services.rest.errors import (
    HttpProblem,
    malformed_body,
    method_not_allowed,
    no_route,
    not_an_object,
    problem_response,
)
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.model import Attempt, Delivery, Subscription
from services.webhooks.ports import WebhookStore
from services.webhooks.service import DeliveryRecord, Page, WebhookService
from services.webhooks.ssrf import Guard, Resolver, system_resolver

log = logging.getLogger("rosetta.webhooks")

PREFIX = "/api/v1/webhook-subscriptions"
JSON = "application/json"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class WebhookOptions:
    base_url: str = "http://127.0.0.1:8000"
    allowlist: tuple[str, ...] = ()  # hosts or CIDRs that may be targeted despite the SSRF guard
    retry_scale: float = 1.0  # multiplies the retry schedule (tests: 0.001 or less)
    request_timeout: float = 10.0
    max_concurrency: int = 16
    per_subscription_concurrency: int = 2
    disable_after_seconds: float = 5 * 24 * 3600.0
    rotation_overlap_seconds: float = 24 * 3600.0
    transport: httpx.AsyncBaseTransport | None = None  # injected outbound HTTP (tests: MockTransport)
    resolver: Resolver | None = None  # injected DNS (tests); None: the system resolver
    poll_interval: float = 1.0  # longest sleep without a wake-up (covers writers in other processes)
    batch_size: int = 100  # events read per fan-out step
    max_body_bytes: int = 256 * 1024
    response_excerpt_bytes: int = 1024
    on_attempt: Callable[[Delivery, Attempt], None] | None = None  # observer hook (metrics, tests)


def open_webhook_store(url: str) -> WebhookStore:
    """``memory://``, ``sqlite:///path`` or ``postgresql://…[?schema=name]``: the same file, or database
    and schema, as the core's store; not yet opened."""
    from services.store.webhooks_memory import MemoryWebhookStore
    from services.store.webhooks_sqlite import SqliteWebhookStore

    if url.startswith(("postgresql://", "postgres://")):
        from services.store import split_schema
        from services.store.webhooks_postgres import PostgresWebhookStore  # psycopg only when used

        dsn, schema = split_schema(url)
        return PostgresWebhookStore(dsn, schema=schema)
    if url.startswith("memory:"):
        return MemoryWebhookStore()
    if url.startswith("sqlite:///"):
        return SqliteWebhookStore(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:"):
        return SqliteWebhookStore(url.removeprefix("sqlite:"))
    if "://" not in url:
        return SqliteWebhookStore(url)
    raise ValueError(
        f"unsupported webhook store URL: {url!r} (use memory://, sqlite:///path or postgresql://user@host/db)"
    )


async def start_dispatcher(
    service: ReservationService, store: WebhookStore, notifier: EventNotifier, options: WebhookOptions
) -> Callable[[], Awaitable[None]]:
    """Start the dispatcher as background tasks of the running loop; ``await stop()`` stops it."""
    dispatcher = Dispatcher(service, store, notifier, options)
    await dispatcher.start()
    return dispatcher.stop


async def run_dispatcher_forever(
    db_url: str, options: WebhookOptions, *, notifier: EventNotifier | None = None
) -> None:
    """The dispatcher alone, for ``rosetta dispatch``: until SIGINT/SIGTERM or cancellation.

    Events committed by other processes wake it through ``notifier``. By default that is the
    store's own cross-process notifier when it has one (PostgreSQL: ``PostgresStore.notifier()``,
    LISTEN/NOTIFY), so a commit anywhere wakes it at once; otherwise an in-process notifier, and
    other writers are noticed within ``options.poll_interval``. A notifier with ``start``/``stop``
    (``PgNotifier``; a given one too) is started once the store is open and stopped on the way out.
    """
    from services.core.events import InProcessNotifier
    from services.store import open_store

    store = open_store(db_url)
    webhooks = open_webhook_store(db_url)
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as running:
        await store.open()
        running.push_async_callback(store.close)
        await webhooks.open()
        running.push_async_callback(webhooks.close)
        if notifier is None:
            make_notifier = getattr(store, "notifier", None)
            notifier = make_notifier() if callable(make_notifier) else InProcessNotifier()
        start_notifier = getattr(notifier, "start", None)
        if start_notifier is not None:
            await start_notifier()  # after store.open(): it reads the migrated event head
            running.push_async_callback(notifier.stop)  # type: ignore[attr-defined]
        service = ReservationService(store, notifier=notifier)
        running.push_async_callback(await start_dispatcher(service, webhooks, notifier, options))
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stopping.set)
                running.callback(loop.remove_signal_handler, signum)
        log.info("webhook dispatcher running", extra={"fields": {"db": db_url}})
        await stopping.wait()


# -- the management API ----------------------------------------------------------------------

CREATE_FIELDS = {"url": "url", "eventTypes": "event_types", "description": "description", "secret": "secret"}
PATCH_FIELDS = {"url": "url", "eventTypes": "event_types", "description": "description", "enabled": "enabled"}


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: refused as malformed, as REST does


def _ts(moment: Any) -> str | None:
    return None if moment is None else format_timestamp(moment)


Handler = Callable[..., Awaitable[Response]]


class WebhookApi:
    """The ASGI app; paths arrive complete (``/api/v1/webhook-subscriptions/...``)."""

    def __init__(self, api: ServerApi, store: WebhookStore, options: WebhookOptions) -> None:
        guard = Guard(options.allowlist, options.resolver or system_resolver)
        self.service = WebhookService(
            store, guard, api.last_event_sequence, rotation_overlap_seconds=options.rotation_overlap_seconds
        )
        self._base = options.base_url.rstrip("/") + PREFIX
        self._max_body = options.max_body_bytes
        # (shape of the path after the prefix) -> {method: handler}; "*" is an id segment.
        self._routes: dict[tuple[str, ...], dict[str, Handler]] = {
            (): {"GET": self.list_subscriptions, "POST": self.create_subscription},
            ("*",): {
                "GET": self.get_subscription,
                "PATCH": self.update_subscription,
                "DELETE": self.delete_subscription,
            },
            ("*", "rotate-secret"): {"POST": self.rotate_secret},
            ("*", "ping"): {"POST": self.ping},
            ("*", "replay"): {"POST": self.replay_failed},
            ("*", "deliveries"): {"GET": self.list_deliveries},
            ("*", "deliveries", "*"): {"GET": self.get_delivery},
            ("*", "deliveries", "*", "replay"): {"POST": self.replay_delivery},
        }
        # Query parameters each handler reads; any other name is refused, as REST refuses it.
        self._query_names: dict[Handler, frozenset[str]] = {
            self.list_subscriptions: frozenset({"page", "pageSize"}),
            self.list_deliveries: frozenset({"status", "page", "pageSize"}),
            self.replay_failed: frozenset({"since"}),
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        accept_language = request.headers.get("accept-language")
        language = messages.negotiate(accept_language)
        path = request.url.path
        try:
            response = await self._dispatch(request)
        except RosettaError as error:
            response = problem_response(error, accept_language, path)
        except HttpProblem as problem:
            response = problem_response(
                problem.error, accept_language, path, status=problem.status, headers=problem.headers
            )
        except Exception:
            log.exception("webhook management request failed")
            response = problem_response(InternalError(), accept_language, path)
        response.headers["content-language"] = language
        response.headers["vary"] = "Accept, Accept-Language"
        await response(scope, receive, send)

    async def _dispatch(self, request: Request) -> Response:
        rest = request.url.path[len(PREFIX) :].strip("/")
        segments = tuple(rest.split("/")) if rest else ()
        for shape, methods in self._routes.items():
            if len(shape) != len(segments) or any(
                s != "*" and s != g for s, g in zip(shape, segments, strict=True)
            ):
                continue
            allow = ("OPTIONS", *methods, *(("HEAD",) if "GET" in methods else ()))
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"allow": ", ".join(allow)})
            handler = methods.get("GET" if request.method == "HEAD" else request.method)
            if handler is None:
                raise method_not_allowed(", ".join(allow))
            allowed = self._query_names.get(handler, frozenset())
            for name in request.query_params:
                if name not in allowed:
                    raise InvalidProperty(field=name, params={"reason": "unknown"})
            ids = [g for s, g in zip(shape, segments, strict=True) if s == "*"]
            return await handler(request, *ids)
        raise no_route()

    # -- wire helpers ------------------------------------------------------------------------

    async def _body(self, request: Request, allowed: dict[str, str]) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise PayloadTooLarge(params={"limit": self._max_body})
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > self._max_body:
                raise PayloadTooLarge(params={"limit": self._max_body})
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise malformed_body() from None
        if not isinstance(body, dict):
            raise not_an_object()
        values: dict[str, Any] = {}
        for key, value in body.items():
            if key not in allowed:
                raise InvalidProperty(field=str(key), params={"reason": "unknown"})
            values[allowed[key]] = value
        return values

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(_dumps(body), status_code=status, headers=headers, media_type=JSON)

    # -- representations -------------------------------------------------------------------

    def _subscription(self, s: Subscription) -> dict[str, Any]:
        href = f"{self._base}/{s.subscription_id}"
        previous = [secret.expires_at for secret in s.secrets[1:] if secret.expires_at is not None]
        return {
            "subscriptionId": s.subscription_id,
            "url": s.url,
            "eventTypes": list(s.event_types),
            "description": s.description,
            "enabled": s.enabled,
            "disabledReason": s.disabled_reason.value if s.disabled_reason else None,
            "failingSince": _ts(s.failing_since),
            "previousSecretExpiresAt": _ts(max(previous)) if previous else None,
            "createdAt": _ts(s.created_at),
            "updatedAt": _ts(s.updated_at),
            "actions": ["modify", "delete", "rotate-secret", "ping", "replay"],
            "_links": {
                "self": {"href": href},
                "collection": {"href": self._base},
                "deliveries": {"href": f"{href}/deliveries"},
                "modify": {"href": href, "method": "PATCH"},
                "delete": {"href": href, "method": "DELETE"},
                "rotate-secret": {"href": f"{href}/rotate-secret", "method": "POST"},
                "ping": {"href": f"{href}/ping", "method": "POST"},
                "replay": {"href": f"{href}/replay{{?since}}", "method": "POST", "templated": True},
            },
        }

    def _delivery(self, record: DeliveryRecord) -> dict[str, Any]:
        d = record.delivery
        subscription = f"{self._base}/{d.subscription_id}"
        href = f"{subscription}/deliveries/{d.delivery_id}"
        return {
            "deliveryId": d.delivery_id,
            "webhookId": d.delivery_id,
            "subscriptionId": d.subscription_id,
            "eventId": d.event_id,
            "eventType": d.event_type,
            "sequence": d.sequence,
            "status": d.status.value,
            "attemptCount": d.total_attempts,
            "nextAttemptAt": _ts(d.next_attempt_at) if d.status.value == "PENDING" else None,
            "createdAt": _ts(d.created_at),
            "updatedAt": _ts(d.updated_at),
            "payload": json.loads(d.payload),
            "attempts": [
                {
                    "attempt": a.number,
                    "attemptedAt": _ts(a.attempted_at),
                    "statusCode": a.status_code,
                    "latencyMs": a.latency_ms,
                    "error": a.error,
                    "responseExcerpt": a.response_excerpt,
                }
                for a in record.attempts
            ],
            "actions": ["replay"],
            "_links": {
                "self": {"href": href},
                "subscription": {"href": subscription},
                "replay": {"href": f"{href}/replay", "method": "POST"},
            },
        }

    def _collection(
        self, request: Request, href: str, page: Page, items: list[Any], extra: str = ""
    ) -> Response:
        def link(number: int) -> str:
            return f"{href}?{extra}page={number}&pageSize={page.page_size}"

        last = max(page.total_pages, 1)
        links: dict[str, Any] = {"self": {"href": link(page.page)}, "first": {"href": link(1)}}
        if page.page > 1:
            links["prev"] = {"href": link(min(page.page - 1, last))}
        if page.page < last:
            links["next"] = {"href": link(page.page + 1)}
        links["last"] = {"href": link(last)}
        body = {
            "items": items,
            "pagination": {
                "page": page.page,
                "pageSize": page.page_size,
                "totalItems": page.total_items,
                "totalPages": page.total_pages,
            },
            "_links": links,
        }
        header = ", ".join(f'<{v["href"]}>; rel="{k}"' for k, v in links.items() if k != "self")
        return self._json(body, headers={"link": header})

    # -- handlers ------------------------------------------------------------------------------

    async def list_subscriptions(self, request: Request) -> Response:
        q = request.query_params
        page = await self.service.list_subscriptions(q.get("page", 1), q.get("pageSize", 20))
        return self._collection(request, self._base, page, [self._subscription(s) for s in page.items])

    async def create_subscription(self, request: Request) -> Response:
        body = await self._body(request, CREATE_FIELDS)
        subscription, secret = await self.service.create_subscription(**body)
        representation = {**self._subscription(subscription), "secret": secret}
        href = representation["_links"]["self"]["href"]
        return self._json(representation, 201, {"location": href, "cache-control": "no-store"})

    async def get_subscription(self, request: Request, subscription_id: str) -> Response:
        return self._json(self._subscription(await self.service.get_subscription(subscription_id)))

    async def update_subscription(self, request: Request, subscription_id: str) -> Response:
        body = await self._body(request, PATCH_FIELDS)
        return self._json(self._subscription(await self.service.update_subscription(subscription_id, body)))

    async def delete_subscription(self, request: Request, subscription_id: str) -> Response:
        await self.service.delete_subscription(subscription_id)
        return Response(status_code=204)

    async def rotate_secret(self, request: Request, subscription_id: str) -> Response:
        await self._body(request, {})
        subscription, secret = await self.service.rotate_secret(subscription_id)
        representation = {**self._subscription(subscription), "secret": secret}
        return self._json(representation, headers={"cache-control": "no-store"})

    async def ping(self, request: Request, subscription_id: str) -> Response:
        await self._body(request, {})
        delivery = await self.service.ping(subscription_id)
        representation = self._delivery(DeliveryRecord(delivery, ()))
        return self._json(representation, 202, {"location": representation["_links"]["self"]["href"]})

    async def replay_failed(self, request: Request, subscription_id: str) -> Response:
        await self._body(request, {})
        since = request.query_params.get("since")
        count = await self.service.replay_failed_since(subscription_id, since)
        deliveries = f"{self._base}/{subscription_id}/deliveries"
        body = {
            "subscriptionId": subscription_id,
            "since": since,
            "replayed": count,
            "_links": {"deliveries": {"href": f"{deliveries}?status=PENDING"}},
        }
        return self._json(body, 202)

    async def list_deliveries(self, request: Request, subscription_id: str) -> Response:
        q = request.query_params
        status = q.get("status")
        page = await self.service.list_deliveries(
            subscription_id, status=status, page=q.get("page", 1), page_size=q.get("pageSize", 20)
        )
        extra = f"status={quote(status)}&" if status else ""
        href = f"{self._base}/{subscription_id}/deliveries"
        return self._collection(request, href, page, [self._delivery(r) for r in page.items], extra)

    async def get_delivery(self, request: Request, subscription_id: str, delivery_id: str) -> Response:
        return self._json(self._delivery(await self.service.get_delivery(subscription_id, delivery_id)))

    async def replay_delivery(self, request: Request, subscription_id: str, delivery_id: str) -> Response:
        await self._body(request, {})
        record = await self.service.replay(subscription_id, delivery_id)
        return self._json(self._delivery(record), 202)


def create_app(api: ServerApi, store: WebhookStore, options: WebhookOptions) -> WebhookApi:
    """The management API as an ASGI app over ``api`` (the core service or its instrumented proxy)."""
    return WebhookApi(api, store, options)
