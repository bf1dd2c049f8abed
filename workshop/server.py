"""A server for a check when the learner gives none: every style in a thread, preset for labs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from gateway.app import build_app, build_runtime
from gateway.settings import Settings


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    grpc_target: str | None
    # With authentication on: the seeded ``demo`` client ({"clientId", "clientSecret", "apiKey", ...}).
    demo: dict[str, str] | None = None


@contextmanager
def lab_server(settings: Settings | None = None) -> Iterator[RunningServer]:
    """Serve a fresh in-memory store on free ports until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    # Identity checks off: the labs compare protocols (LabContext.api_key is the slot for a credential).
    base = settings or Settings(db="memory://", access_log=False, log_level="warning", auth=False)
    chosen = base.override(host="127.0.0.1", port=port, grpc_port=0).for_workshop()
    runtime = build_runtime(chosen)
    app = build_app(chosen, runtime)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=chosen.ws_max_frame_bytes,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the lab server did not start")
            time.sleep(0.02)
        grpc = f"127.0.0.1:{runtime.grpc_port}" if runtime.grpc_port else None
        demo = runtime.demo.to_json() if runtime.demo is not None else None
        yield RunningServer(f"http://127.0.0.1:{port}", grpc, demo)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def serve_asgi(app: Any) -> Iterator[int]:
    """Serve a learner's ASGI app on a free loopback port in a thread; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the learner's app did not start")
            time.sleep(0.02)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
