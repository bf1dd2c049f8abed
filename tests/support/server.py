"""Real servers on real ports for tests: the whole gateway app under uvicorn in a thread."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gateway.app import Runtime, build_app, build_runtime
from gateway.protection import server_options
from gateway.settings import Settings
from workshop.server import free_socket, serve_app

__all__ = ["LiveServer", "free_socket", "live_server", "serve_app"]


@dataclass
class LiveServer:
    base_url: str  # http://127.0.0.1:PORT
    port: int
    grpc_target: str | None  # 127.0.0.1:PORT when gRPC is enabled
    runtime: Runtime
    settings: Settings

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws"


@contextmanager
def live_server(
    *, prepare: Callable[[Runtime], None] | None = None, send_buffer: int | None = None, **overrides: Any
) -> Iterator[LiveServer]:
    """Start the gateway on a free port (gRPC on another) with a fresh in-memory store by default.

    Keyword arguments override ``Settings`` fields, e.g. ``styles="rest,grpc"`` or ``db=...``.
    Authentication is off unless a test asks for it (``auth=True``): most tests are about something
    else; those about identity, and the conformance matrix, turn it on and use ``credentials``.
    ``prepare`` may change the runtime before the app is built (e.g. put a fake in front of the core);
    ``send_buffer`` fixes the HTTP connections' kernel send buffer (bytes; Linux doubles it), which
    otherwise grows to megabytes on loopback.
    """
    sock = free_socket()
    if send_buffer is not None:  # accepted connections inherit it from the listening socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    port = sock.getsockname()[1]
    base = Settings(host="127.0.0.1", port=port, grpc_port=0, db="memory://", access_log=False, auth=False)
    settings = base.override(**overrides)
    try:
        runtime = build_runtime(settings)
        if prepare is not None:
            prepare(runtime)
        app = build_app(settings, runtime)
    except BaseException:
        sock.close()
        raise
    with serve_app(
        app,
        sock=sock,
        what="the test server",
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_frame_bytes,
        ws_ping_interval=settings.ws_ping_interval,
        **server_options(settings.header_timeout),
    ):
        grpc_target = f"127.0.0.1:{runtime.grpc_port}" if runtime.grpc_port else None
        yield LiveServer(f"http://127.0.0.1:{port}", port, grpc_target, runtime, settings)
