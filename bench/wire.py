"""Bytes on the wire, measured on the connection: a TCP relay that counts what crosses it.

Point a client at the relay instead of the server; every byte of every header, frame and
body in each direction is counted (TLS is not used here, so nothing is hidden).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Self


@dataclass
class WireCount:
    to_server: int = 0
    to_client: int = 0
    connections: int = 0

    def reset(self) -> None:
        self.to_server = self.to_client = self.connections = 0


class CountingRelay:
    """``async with CountingRelay(host, port) as relay:`` then connect to ``relay.port``."""

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.count = WireCount()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, self.listen_host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Every relayed connection ends here: its tasks are cancelled and awaited, and their finally
        # clauses close both sockets (a transport left for the garbage collector warns "unclosed").
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    def upstream(self, chunk: bytes) -> None:
        """Called with every chunk the client sends (subclasses may keep it)."""
        self.count.to_server += len(chunk)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        current = asyncio.current_task()
        if current is not None:
            self._track(current)
        try:
            await self._relay(client_reader, client_writer)
        except (asyncio.CancelledError, ConnectionError, OSError):
            pass
        finally:
            client_writer.close()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.count.connections += 1
        server_reader, server_writer = await asyncio.open_connection(*self.target)

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool) -> None:
            try:
                while chunk := await reader.read(65536):
                    if upstream:
                        self.upstream(chunk)
                    else:
                        self.count.to_client += len(chunk)
                    writer.write(chunk)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        up = asyncio.ensure_future(pump(client_reader, server_writer, True))
        down = asyncio.ensure_future(pump(server_reader, client_writer, False))
        for task in (up, down):
            self._track(task)
        try:
            await asyncio.gather(up, down, return_exceptions=True)
        finally:
            server_writer.close()
