"""The in-process notifier: no lost wake-up, nothing scheduled per commit, any event loop; and a stream
waiting on it reads nothing while nothing happens."""

from __future__ import annotations

import asyncio

from services.core.events import InProcessNotifier
from services.core.model import Event, ReservationDraft
from services.core.service import ReservationService
from services.store import MemoryStore
from tests.support.counting import CountingStore


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


async def test_an_idle_stream_waits_on_the_notifier_and_never_polls_the_store() -> None:
    """A subscriber waiting for the next event costs no store reads; one commit costs one or two."""
    store = CountingStore(MemoryStore())
    core = ReservationService(store, notifier=InProcessNotifier())
    stream = core.stream_events(0)

    async def next_event() -> Event:
        return await anext(stream)

    reader = asyncio.create_task(next_event())
    await asyncio.sleep(0.05)  # the stream reads the (empty) log once, then waits
    assert not reader.done()
    before = store.units_of_work
    await asyncio.sleep(0.3)  # idle: a stream that polled every few milliseconds would read ~30 times
    idle_reads = store.units_of_work - before
    assert idle_reads == 0, f"an idle event stream read the store {idle_reads} times in 0.3 s: it polls"
    draft = ReservationDraft("room-a", "Ada", "2031-01-02", "09:00", "10:00", 2)
    created = await core.create_reservation(draft)
    before = store.units_of_work
    event = await asyncio.wait_for(reader, 5)
    assert event.data["reservationId"] == created.reservation_id
    assert store.units_of_work - before <= 2, "one new event cost the stream more than one or two reads"
    await stream.aclose()
