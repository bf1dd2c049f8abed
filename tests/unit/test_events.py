"""The in-process notifier: no lost wake-up, nothing scheduled per commit, any event loop."""

from __future__ import annotations

import asyncio

from services.core.events import InProcessNotifier


async def test_published_wakes_a_waiter_without_scheduling_anything() -> None:
    notifier = InProcessNotifier()
    waiter = asyncio.create_task(notifier.wait_beyond(0, timeout=5))
    await asyncio.sleep(0)  # let it start waiting
    tasks = len(asyncio.all_tasks())
    notifier.published(1)
    assert len(asyncio.all_tasks()) == tasks
    assert await asyncio.wait_for(waiter, 1) is True


async def test_a_wake_up_short_of_the_sequence_keeps_waiting_until_the_timeout() -> None:
    notifier = InProcessNotifier()
    waiter = asyncio.create_task(notifier.wait_beyond(4, timeout=0.05))
    await asyncio.sleep(0)
    notifier.published(3)
    await asyncio.sleep(0)
    assert not waiter.done()
    assert await waiter is False
    notifier.published(5)
    assert await notifier.wait_beyond(4, timeout=0) is True


def test_one_notifier_serves_loops_one_after_another_and_callers_without_a_loop() -> None:
    notifier = InProcessNotifier()
    notifier.published(1)  # a caller with no running loop

    async def wait_then_publish(sequence: int) -> bool:
        assert await notifier.wait_beyond(sequence, timeout=0.01) is False  # leaves an Event behind
        waiter = asyncio.create_task(notifier.wait_beyond(sequence, timeout=5))
        await asyncio.sleep(0)
        notifier.published(sequence + 1)
        return await waiter

    assert asyncio.run(wait_then_publish(1)) is True
    assert asyncio.run(wait_then_publish(2)) is True
