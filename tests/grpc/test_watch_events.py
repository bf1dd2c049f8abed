"""Server-streaming WatchEvents against a real server: live delivery, resumption, deadlines."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from services.core.errors import InvalidProperty
from services.core.model import Event
from services.grpc import translate
from services.grpc.client import GrpcClient
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc
from tests.grpc.factories import draft

WAIT = 5.0  # generous bound on a delivery that should take milliseconds


async def latest_sequence(api: GrpcClient) -> int:
    events = await api.watch_events(0, limit=1000)
    return events[-1].sequence if events else 0


async def test_streams_an_event_created_after_subscribing_then_resumes_without_gap(api: GrpcClient) -> None:
    first = await api.create_reservation(draft())
    start = await latest_sequence(api) - 1
    stream = api.stream_events(start)
    # Receiving the backlog proves the subscription is live before the next change is made.
    backlog = await asyncio.wait_for(anext(stream), WAIT)
    assert (backlog.type, backlog.data) == ("reservation.created", first.to_dict())

    second = await api.create_reservation(draft())
    live = await asyncio.wait_for(anext(stream), WAIT)
    assert (live.sequence, live.type, live.data) == (
        backlog.sequence + 1,
        "reservation.created",
        second.to_dict(),
    )
    await stream.aclose()

    # Changes made while nobody listens arrive, in order, on reconnecting with after=<last seen>.
    checked_in = await api.check_in_reservation(first.reservation_id)
    canceled = await api.cancel_reservation(second.reservation_id, reason="rain")
    resumed = api.stream_events(live.sequence)
    missed: list[Event] = [await asyncio.wait_for(anext(resumed), WAIT) for _ in range(2)]
    await resumed.aclose()
    assert [event.sequence for event in missed] == [live.sequence + 1, live.sequence + 2]
    assert [event.data for event in missed] == [checked_in.to_dict(), canceled.to_dict()]
    assert missed == await api.watch_events(live.sequence, limit=2)


async def test_stream_filters_by_type(api: GrpcClient) -> None:
    start = await latest_sequence(api)
    stream = api.stream_events(start, types=["reservation.canceled"])
    created = await api.create_reservation(draft())
    canceled = await api.cancel_reservation(created.reservation_id)
    event = await asyncio.wait_for(anext(stream), WAIT)
    await stream.aclose()
    assert (event.type, event.data) == ("reservation.canceled", canceled.to_dict())


async def test_invalid_stream_request_is_a_typed_error(api: GrpcClient) -> None:
    with pytest.raises(InvalidProperty) as caught:
        await anext(api.stream_events(-1))
    assert caught.value.field == "after"


async def test_stream_ends_with_deadline_exceeded(api: GrpcClient, target: str) -> None:
    created = await api.create_reservation(draft())
    start = await latest_sequence(api) - 1
    async with grpc.aio.insecure_channel(target) as channel:
        call = pb_grpc.ReservationServiceStub(channel).WatchEvents(
            pb.WatchEventsRequest(after=start), timeout=0.5
        )
        received = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for response in call:
                received.append(translate.event_from_message(response.event))
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert [event.data for event in received] == [created.to_dict()]
    # The server is still fine afterwards.
    assert await api.get_reservation(created.reservation_id) == created
