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


def free_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready socket bound to a free port of ``host``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


@contextmanager
def serve_app(
    app: Any,
    *,
    sock: socket.socket | None = None,
    port: int = 0,
    what: str = "the server",
    start_timeout: float = 20.0,
    **config: Any,
) -> Iterator[int]:
    """Any ASGI app under uvicorn in a thread, on ``sock`` or 127.0.0.1:``port`` (0: a free one).

    Yields the port once the server has started (raising, naming ``what``, if it does not within
    ``start_timeout``); stops the server and closes the socket on exit. The labs' servers and the
    test suite's live servers both run this way.
    """
    sock = sock or free_socket()
    if port:
        sock.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    options: dict[str, Any] = {"log_config": None, "access_log": False, "lifespan": "off", **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.01)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def lab_server(settings: Settings | None = None) -> Iterator[RunningServer]:
    """Serve a fresh in-memory store on free ports until the block ends."""
    sock = free_socket()
    port = int(sock.getsockname()[1])
    # Identity checks off: the labs compare protocols (LabContext.api_key is the slot for a credential).
    base = settings or Settings(db="memory://", access_log=False, log_level="warning", auth=False)
    chosen = base.override(host="127.0.0.1", port=port, grpc_port=0).for_workshop()
    try:
        runtime = build_runtime(chosen)
        app = build_app(chosen, runtime)
    except BaseException:
        sock.close()
        raise
    with serve_app(
        app,
        sock=sock,
        what="the lab server",
        start_timeout=30,
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=chosen.ws_max_frame_bytes,
    ):
        grpc = f"127.0.0.1:{runtime.grpc_port}" if runtime.grpc_port else None
        demo = runtime.demo.to_json() if runtime.demo is not None else None
        yield RunningServer(f"http://127.0.0.1:{port}", grpc, demo)


@contextmanager
def serve_asgi(app: Any) -> Iterator[int]:
    """Serve a learner's ASGI app on a free loopback port in a thread; yields the port."""
    with serve_app(app, what="the learner's app") as port:
        yield port
