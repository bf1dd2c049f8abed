"""The targets of the conformance matrix: the core itself (the reference) and one client per style.

Every target is reached only through the ``ReservationApi`` Protocol, so the scenarios cannot
tell them apart. Each server target runs a real server on a free port with its own store.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import psycopg

from gateway.app import Runtime
from gateway.quota import Quotas, parse_rate_limit
from services.core.access import ANONYMOUS, Principal, Scope
from services.core.api import ReservationApi
from services.core.errors import Unauthenticated
from services.core.events import InProcessNotifier
from services.core.service import ReservationService, utc_now
from services.store import MemoryStore, open_store
from tests.support.credentials import READ_WRITE, Credential, forged_tokens, provision, token_for
from tests.support.server import LiveServer, live_server

ClientFactory = Callable[[str], AbstractAsyncContextManager[ReservationApi]]


WHO = ("anonymous", "reader", "stranger", "bad-key", "expired-token", "foreign-audience", "throttled")
"""The other callers a scenario may act as (``ctx.acting_as``), beside the target's own client.

``throttled`` is a fresh read + write client of a second server of the same style and store whose
quota is tiny (``TINY_QUOTA``; its buckets in memory beside the memory store, in Redis beside
PostgreSQL): the matrix's own servers run without quotas, as deployments do by default."""

TINY_QUOTA = "1/s burst 2"
"""Two calls at once, then one a second: a refusal's wait is under a second and honoured at once."""


@dataclass
class Target:
    name: str
    connect: ClientFactory  # language -> async context manager yielding a ReservationApi
    server: LiveServer | None = None
    # (who, language) -> the same style for another caller (WHO); None: the target has no others
    connect_as: Callable[[str, str], AbstractAsyncContextManager[ReservationApi]] | None = None


class Served(Protocol):
    """Where the styles answer: a LiveServer in this process, or a stack or topology of processes."""

    @property
    def base_url(self) -> str: ...

    @property
    def grpc_target(self) -> str | None: ...


def style_client(style: str, server: Served, language: str = "en", **credential: Any) -> Any:
    """The ``ReservationApi`` client of ``style`` for ``server``; ``credential``: api_key= or token=."""
    if style == "rest":
        from services.rest.client import RestClient

        return RestClient(server.base_url, language=language, **credential)
    if style == "graphql":
        from services.graphql.client import GraphQLClient

        return GraphQLClient(server.base_url, language=language, **credential)
    if style == "grpc":
        from services.grpc.client import GrpcClient

        assert server.grpc_target is not None
        return GrpcClient(server.grpc_target, language=language, **credential)
    if style == "soap":
        from services.soap.client import SoapClient

        return SoapClient(server.base_url, language=language, **credential)
    if style == "websocket":
        from services.websocket.client import WebSocketClient

        return WebSocketClient(server.base_url, language=language, **credential)
    raise ValueError(style)  # pragma: no cover - a typo in STYLE_TARGETS


def _client_factory(style: str, server: Served, **credential: Any) -> ClientFactory:
    @contextlib.asynccontextmanager
    async def connect(language: str) -> AsyncIterator[ReservationApi]:
        client = style_client(style, server, language, **credential)
        try:
            yield client
        finally:
            await client.aclose()

    return connect


REDIS_URL = os.environ.get("ROSETTA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("ROSETTA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A store URL naming a fresh schema of the test database, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        yield f"{PG_DSN}?schema={schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def open_target(name: str, store: str = "memory") -> Iterator[Target]:
    """``name``: core (or reference) or a style; ``store``: memory or postgres."""
    if store == "postgres":
        with postgres_schema(f"conformance_{name}") as url:
            yield from _open(name, url)
    else:
        yield from _open(name, "memory://")


DEMO = Principal("demo", READ_WRITE, via="api-key")
PRINCIPALS = {
    "anonymous": ANONYMOUS,
    "reader": Principal("reader", frozenset({Scope.READ.value}), via="api-key"),
    "stranger": Principal("stranger", READ_WRITE, via="api-key"),
}
REFUSED = {"bad-key": "auth_invalid", "expired-token": "auth_expired", "foreign-audience": "auth_invalid"}


class Refused:
    """The reference for a caller whose credential the gateway refuses: the core never sees its
    requests, so every operation is UNAUTHENTICATED (with the gateway's reason)."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def __getattr__(self, name: str) -> Any:
        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise Unauthenticated(params={"reason": self._reason})

        return refuse


class OrderedClock:
    """The core's clock (UTC, millisecond precision) that moves at least 1 ms per reading: two changes
    never share a millisecond, so the matrix can require every change to move ``updatedAt`` (on a real
    clock, a fast target may make two changes within one millisecond)."""

    def __init__(self) -> None:
        self._last: datetime | None = None

    def __call__(self) -> datetime:
        now = utc_now()
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        self._last = now
        return now


def ordered_clock(runtime: Runtime) -> None:
    """A live server's ``prepare``: its core reads an OrderedClock."""
    runtime.service = ReservationService(runtime.store, clock=OrderedClock(), notifier=runtime.notifier)


class Metered:
    """The reference for the ``throttled`` caller: the gateway's own bucket (``gateway.quota``) with
    the tiny policy in front of the core, as every style's server charges before it calls the core."""

    def __init__(self, api: ReservationApi, principal: Principal) -> None:
        self._api = api
        self._principal = principal
        self._quotas = Quotas(parse_rate_limit(TINY_QUOTA))

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._api, name)

        async def charged(*args: Any, **kwargs: Any) -> Any:
            await self._quotas.charge(self._principal, "core", name)
            return await operation(*args, **kwargs)

        return charged


def _open(name: str, db: str) -> Iterator[Target]:
    if name in ("core", "reference"):
        memory = MemoryStore() if db == "memory://" else None
        clock = OrderedClock()

        @contextlib.asynccontextmanager
        async def service(language: str, principal: Principal = DEMO) -> AsyncIterator[ReservationApi]:
            # A PostgreSQL pool belongs to one event loop, and every test has its own loop.
            store = memory or open_store(db)
            await store.open()
            try:
                yield ReservationService(store, clock=clock, notifier=InProcessNotifier()).acting_as(
                    principal
                )
            finally:
                if memory is None:
                    await store.close()

        @contextlib.asynccontextmanager
        async def connect_as(who: str, language: str) -> AsyncIterator[ReservationApi]:
            if who in REFUSED:
                yield Refused(REFUSED[who])
                return
            if who == "throttled":
                async with service(language, DEMO) as api:
                    yield Metered(api, DEMO)
                return
            async with service(language, PRINCIPALS[who]) as api:
                yield api

        yield Target(name, service, connect_as=connect_as)
        return
    with live_server(styles=name, db=db, auth=True, prepare=ordered_clock) as server, ExitStack() as later:
        started: list[LiveServer] = []

        def throttled_server() -> LiveServer:
            # Started on first use, over the same store; stopped with the target.
            if not started:
                # Buckets in memory beside the memory store, in Redis beside PostgreSQL: both backends.
                redis = {"redis_url": REDIS_URL, "redis_key_prefix": f"cf-{db[-8:]}"}
                quota: dict[str, Any] = {"rate_limit": TINY_QUOTA, **({} if db == "memory://" else redis)}
                tiny = live_server(styles=name, db=db, auth=True, prepare=ordered_clock, **quota)
                started.append(later.enter_context(tiny))
            return started[0]

        yield Target(
            name,
            _client_factory(name, server, **own_credential(name, server)),
            server,
            _others(name, server, throttled_server),
        )


def own_credential(style: str, server: LiveServer) -> dict[str, str]:
    """The seeded ``demo`` client, carried the ways users of each style carry it: an API key (REST),
    a bearer token (GraphQL, gRPC, WebSocket) and a WS-Security UsernameToken (SOAP)."""
    demo = server.runtime.demo
    assert demo is not None, "a fresh store seeds the demo client"
    if style == "rest":
        return {"api_key": demo.api_key}
    if style == "soap":
        return {"client_id": demo.client_id, "client_secret": demo.client_secret}
    demo_credential = Credential(demo.client_id, demo.api_key, demo.client_secret, "")
    return {"token": token_for(server, demo_credential, seconds=3600)}


def _others(
    style: str, server: LiveServer, throttled_server: Callable[[], LiveServer]
) -> Callable[[str, str], AbstractAsyncContextManager[ReservationApi]]:
    made: dict[str, dict[str, str]] = {}
    throttled = itertools.count(1)

    def credential(who: str) -> dict[str, str]:
        if who == "throttled":  # a fresh client each time: a full bucket
            return {"api_key": provision(throttled_server(), f"throttled-{next(throttled)}").api_key}
        if who not in made:
            if who == "anonymous":
                made[who] = {}
            elif who == "bad-key":
                made[who] = {"api_key": "rk_not-a-key-anyone-was-given"}
            elif who in ("reader", "stranger"):
                principal = PRINCIPALS[who]
                made[who] = {"token": provision(server, who, principal.scopes).token}
            else:
                stranger = provision(server, f"{who}-client")
                forged = forged_tokens(server, stranger)
                made[who] = {"token": forged["expired" if who == "expired-token" else "wrong audience"]}
        return made[who]

    @contextlib.asynccontextmanager
    async def connect_as(who: str, language: str) -> AsyncIterator[ReservationApi]:
        on = throttled_server() if who == "throttled" else server
        client = style_client(style, on, language, **credential(who))
        try:
            yield client
        finally:
            await client.aclose()

    return connect_as
