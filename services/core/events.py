"""In-process ``EventNotifier``: wakes waiting subscribers of this process after each commit."""

from __future__ import annotations

import asyncio


class InProcessNotifier:
    """Tracks the highest committed sequence; waiters sleep on an asyncio.Event that ``published``
    sets and swaps for a fresh one. Nothing is scheduled per commit (``published`` may be called
    with or without a running loop), and a new loop gets a new Event, never one bound to a loop
    that has ended."""

    def __init__(self) -> None:
        self._latest = 0
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def published(self, sequence: int) -> None:
        if sequence <= self._latest:
            return
        self._latest = sequence
        changed, self._changed = self._changed, None
        if changed is not None:  # every current waiter wakes; later ones wait on a new Event
            changed.set()

    async def wait_beyond(self, sequence: int, timeout: float | None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._latest <= sequence:
            if self._changed is None or self._loop is not loop:
                self._changed, self._loop = asyncio.Event(), loop
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return self._latest > sequence
        return True
