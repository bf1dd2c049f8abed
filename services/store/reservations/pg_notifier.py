"""Cross-process ``EventNotifier``: LISTEN on the store's channel and wake this process's subscribers.

``PostgresStore`` appends each event with ``pg_notify(channel, '<sequence>')``, which
PostgreSQL delivers when the transaction commits, to every listening process. The notifier
keeps one dedicated connection for LISTEN, remembers the highest sequence seen and wakes
``wait_beyond`` waiters. If that connection drops it reconnects with backoff and re-reads the
event head, so a commit made while it was away still wakes its waiters. Commits made by this
process also wake them at once through ``published()``, without a round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg import errors, sql

from services.store._sql import check_schema, connect_kwargs, events_channel

log = logging.getLogger(__name__)


class PgNotifier:
    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 2.0,
    ) -> None:
        self.dsn = dsn
        self.schema = check_schema(schema)
        self.channel = events_channel(schema)
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._latest = 0
        self._changed = asyncio.Event()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def latest(self) -> int:
        """The highest committed sequence this notifier knows of."""
        return self._latest

    @property
    def backend_pid(self) -> int | None:
        """The server process of the LISTEN connection (None while disconnected)."""
        return self._conn.info.backend_pid if self._conn is not None and not self._conn.closed else None

    async def start(self) -> None:
        """Connect and LISTEN (raising if the database cannot be reached), then listen in a task."""
        if self._task is not None:
            return
        conn = await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._listen(conn), name="rosetta-pg-notifier")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def published(self, sequence: int) -> None:
        self._advance(sequence)

    async def wait_beyond(self, sequence: int, timeout: float | None) -> bool:
        if self._latest > sequence:
            return True
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._latest <= sequence:
            changed = self._changed
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return self._latest > sequence
        return True

    # -- internals ---------------------------------------------------------------------

    def _advance(self, sequence: int) -> None:
        if sequence <= self._latest:
            return
        self._latest = sequence
        # Swap in a fresh Event and set the old one: every current waiter wakes, later ones wait.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, prepare_threshold=None, **connect_kwargs(self.schema)
        )
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            # Read the head only after LISTEN: anything committed later arrives as a notification.
            try:
                row = await (await conn.execute("SELECT last_sequence FROM event_head")).fetchone()
            except errors.UndefinedTable:  # the store has not migrated yet: nothing to catch up on
                row = None
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._advance(int(row[0]) if row else 0)
        return conn

    async def _listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            while True:
                try:
                    async for notification in conn.notifies():
                        try:
                            self._advance(int(notification.payload))
                        except ValueError:
                            log.warning("ignoring notification %r on %s", notification.payload, self.channel)
                except psycopg.OperationalError as exc:
                    log.warning("event notifier lost its connection (%s); reconnecting", exc)
                await conn.close()
                self._conn = None
                conn = await self._reconnect()
        finally:
            self._conn = None
            await conn.close()

    async def _reconnect(self) -> psycopg.AsyncConnection[Any]:
        delay = self._reconnect_delay
        while True:
            await asyncio.sleep(delay)  # a server that is restarting is not hammered
            try:
                return await self._connect()
            except psycopg.OperationalError as exc:
                log.warning("event notifier cannot reconnect (%s); retrying", exc)
                delay = min(delay * 2, self._max_reconnect_delay)
