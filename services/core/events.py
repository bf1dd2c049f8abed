"""In-process ``EventNotifier``: wakes waiting subscribers of this process after each commit."""

from __future__ import annotations

import asyncio


class InProcessNotifier:
    """Tracks the highest committed sequence; waiters sleep on an asyncio.Condition."""

    def __init__(self) -> None:
        self._latest = 0
        self._condition: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    def published(self, sequence: int) -> None:
        self._latest = max(self._latest, sequence)
        condition = self._cond()

        async def wake() -> None:
            async with condition:
                condition.notify_all()

        try:
            asyncio.get_running_loop().create_task(wake())
        except RuntimeError:  # no loop running (e.g. a sync caller): nobody can be waiting
            pass

    async def wait_beyond(self, sequence: int, timeout: float | None) -> bool:
        if self._latest > sequence:
            return True
        condition = self._cond()
        async with condition:
            try:
                await asyncio.wait_for(condition.wait_for(lambda: self._latest > sequence), timeout)
            except TimeoutError:
                return False
        return True
