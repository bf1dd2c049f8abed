"""What a plain grpcio client sees on failure: the catalog code in rich status details, localized."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2

from services.grpc.errors import rich_status_of
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc

GET_RESERVATION = "/rosetta.reservations.v1.ReservationService/GetReservation"


@pytest.fixture
async def channel(target: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(target) as opened:
        yield opened


def details(failure: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rich_status_of(failure)
    assert status is not None
    found: dict[str, object] = {}
    for packed in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.LocalizedMessage,
            error_details_pb2.BadRequest,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                found[kind.__name__] = message
    return found


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ko", "ID가 'rsv_nope'인 예약이 없습니다."),
        ("fr-CA, en;q=0.5", "Aucune réservation ne porte l'identifiant « rsv_nope »."),
        (None, "No reservation with id 'rsv_nope' exists."),
    ],
)
async def test_not_found_carries_code_and_localized_message(
    channel: grpc.aio.Channel, language: str | None, expected: str
) -> None:
    stub = pb_grpc.ReservationServiceStub(channel)
    metadata = (("accept-language", language),) if language else None
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetReservation(pb.GetReservationRequest(reservation_id="rsv_nope"), metadata=metadata)
    failure = caught.value
    assert failure.code() is grpc.StatusCode.NOT_FOUND
    assert failure.details() == expected
    found = details(failure)
    info = found["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("RESERVATION_NOT_FOUND", "rosetta.reservations.v1")
    localized = found["LocalizedMessage"]
    assert isinstance(localized, error_details_pb2.LocalizedMessage)
    assert (localized.locale, localized.message) == ((language or "en")[:2], expected)
    assert "BadRequest" not in found


async def test_missing_field_names_it_in_error_info_and_bad_request(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.ReservationServiceStub(channel)
    request = pb.CreateReservationRequest(
        room_id="room-a", guest_name="Kim", date="2031-06-01", start_time="09:00"
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateReservation(request, metadata=(("accept-language", "ko"),))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    found = details(caught.value)
    info = found["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "MISSING_MANDATORY_PROPERTY"
    assert dict(info.metadata) == {"field": "endTime"}
    bad_request = found["BadRequest"]
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    [violation] = bad_request.field_violations
    assert (violation.field, violation.reason) == ("endTime", "MISSING_MANDATORY_PROPERTY")
    assert violation.description == caught.value.details() == "'endTime' 속성은 필수입니다."


async def test_garbage_bytes_are_a_malformed_request_and_the_server_carries_on(
    channel: grpc.aio.Channel,
) -> None:
    raw: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        GET_RESERVATION, request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await raw(b"\x0a\xff\x01garbage", metadata=(("accept-language", "fr"),))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    info = details(caught.value)["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "MALFORMED_REQUEST"
    assert caught.value.details() == "La requête n'a pas pu être lue : le corps n'est pas bien formé."

    stub = pb_grpc.ReservationServiceStub(channel)
    rooms = await stub.ListRooms(pb.ListRoomsRequest())
    assert [room.room_id for room in rooms.rooms] == ["room-a", "room-b", "room-c", "room-d"]


async def test_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    raw: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/rosetta.reservations.v1.ReservationService/DropTables"
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await raw(b"")
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
