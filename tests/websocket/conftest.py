"""Fixtures of the WebSocket tests: the gateway on a free port, raw ``rosetta.v1`` connections,
and a bare server for the adapter alone when a test needs a fake core or its bookkeeping."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.settings import Settings
from services.core.errors import ReservationNotFound
from services.core.events import InProcessNotifier
from services.core.model import Reservation
from services.core.service import ReservationService
from services.store import MemoryStore
from services.websocket import protocol
from services.websocket.app import WebSocketApp, WebSocketOptions, create_app
from tests.support.server import LiveServer, live_server, serve_app

SUBPROTOCOL = protocol.SUBPROTOCOL


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with live_server(styles="websocket") as server:
        yield server


@contextlib.asynccontextmanager
async def raw(url: str, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    """A bare ``websockets`` connection speaking rosetta.v1, no Rosetta client code involved."""
    async with connect(url, subprotocols=[SUBPROTOCOL], compression=None, **kwargs) as ws:
        yield ws


async def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def ask(ws: ClientConnection, frame: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """Send one frame (a dict as JSON text; str and bytes as they are) and return the next one received."""
    await ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    return await receive(ws)


class SlowCore:
    """A fake core in front of the real one: some reservation ids make ``get_reservation`` slow,
    hang until cancelled, or fail unexpectedly. It reports what happened across threads."""

    def __init__(self) -> None:
        self.core = ReservationService(MemoryStore(), notifier=InProcessNotifier())
        self.hanging = threading.Event()
        self.cancelled = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        if reservation_id.startswith("slow-"):
            await asyncio.sleep(float(reservation_id.removeprefix("slow-")))
        elif reservation_id == "hang":
            self.hanging.set()
            try:
                await asyncio.Event().wait()
            finally:
                self.cancelled.set()
        elif reservation_id == "boom":
            raise RuntimeError("the database exploded at /var/lib/secret")
        elif reservation_id == "missing":
            raise ReservationNotFound(params={"reservationId": reservation_id})
        return await self.core.get_reservation(reservation_id)


@contextlib.contextmanager
def serve(app: WebSocketApp) -> Iterator[str]:
    """The adapter alone under uvicorn (configured as the gateway runs it) on a free port."""
    with serve_app(
        app,
        ws="websockets-sansio",
        ws_max_size=app.options.max_frame_bytes,
        ws_ping_interval=Settings().ws_ping_interval,
    ) as port:
        yield f"ws://127.0.0.1:{port}/ws"


@pytest.fixture(scope="module")
def slow_core() -> SlowCore:
    return SlowCore()


@pytest.fixture(scope="module")
def bare(slow_core: SlowCore) -> Iterator[tuple[WebSocketApp, str]]:
    app = create_app(slow_core, WebSocketOptions())
    with serve(app) as url:
        yield app, url
