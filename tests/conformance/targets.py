"""The targets of the conformance matrix: the core itself (the reference) and one client per style.

Every target is reached only through the ``ReservationApi`` Protocol, so the scenarios cannot
tell them apart. Each server target runs a real server on a free port with its own store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from services.core.api import ReservationApi
from services.core.events import InProcessNotifier
from services.core.service import ReservationService
from services.store import MemoryStore
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


@contextlib.contextmanager
def open_target(name: str, **server_settings: Any) -> Iterator[Target]:
    if name in ("core", "reference"):
        store = MemoryStore()
        service = ReservationService(store, notifier=InProcessNotifier())

        @contextlib.asynccontextmanager
        async def connect(language: str) -> AsyncIterator[ReservationApi]:
            yield service

        yield Target(name, connect)
        return
    with live_server(styles=name, **server_settings) as server:
        yield Target(name, _client_factory(name, server), server)
