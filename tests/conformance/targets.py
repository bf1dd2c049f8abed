"""The targets of the conformance matrix: the core itself (the reference) and one client per style.

Every target is reached only through the ``ReservationApi`` Protocol, so the scenarios cannot
tell them apart. Each server target runs a real server on a free port with its own store.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import psycopg

from services.core.api import ReservationApi
from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.store import MemoryStore, open_store
from tests.support.server import LiveServer, live_server

ClientFactory = Callable[[str], AbstractAsyncContextManager[ReservationApi]]


@dataclass
class Target:
    name: str
    connect: ClientFactory  # language -> async context manager yielding a ReservationApi
    server: LiveServer | None = None


def _client_factory(style: str, server: LiveServer) -> ClientFactory:
    @contextlib.asynccontextmanager
    async def connect(language: str) -> AsyncIterator[ReservationApi]:
        client: Any
        if style == "rest":
            from services.rest.client import RestClient

            client = RestClient(server.base_url, language=language)
        elif style == "graphql":
            from services.graphql.client import GraphQLClient

            client = GraphQLClient(server.base_url, language=language)
        elif style == "grpc":
            from services.grpc.client import GrpcClient

            assert server.grpc_target is not None
            client = GrpcClient(server.grpc_target, language=language)
        elif style == "soap":
            from services.soap.client import SoapClient

            client = SoapClient(server.base_url, language=language)
        elif style == "websocket":
            from services.websocket.client import WebSocketClient

            client = WebSocketClient(server.base_url, language=language)
        else:  # pragma: no cover - a typo in STYLE_TARGETS
            raise ValueError(style)
        try:
            yield client
        finally:
            await client.aclose()

    return connect


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


def _open(name: str, db: str) -> Iterator[Target]:
    if name in ("core", "reference"):
        memory = MemoryStore() if db == "memory://" else None

        @contextlib.asynccontextmanager
        async def connect(language: str) -> AsyncIterator[ReservationApi]:
            # A PostgreSQL pool belongs to one event loop, and every test has its own loop.
            store = memory or open_store(db)
            await store.open()
            try:
                yield ReservationService(store, notifier=InProcessNotifier())
            finally:
                if memory is None:
                    await store.close()

        yield Target(name, connect)
        return
    with live_server(styles=name, db=db) as server:
        yield Target(name, _client_factory(name, server), server)
