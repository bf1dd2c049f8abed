"""``GrpcClient``: ``ReservationApi`` over a grpc.aio channel and the generated stub.

Errors come back as the core's typed errors, rebuilt from the rich status (ErrorInfo reason,
LocalizedMessage, BadRequest field), so callers cannot tell they talk gRPC.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import grpc

from services.core.errors import InvalidProperty
from services.core.model import (
    Event,
    Reservation,
    ReservationChanges,
    ReservationDraft,
    ReservationPage,
    ReservationQuery,
    Room,
)
from services.core.validation import invalid
from services.grpc import translate
from services.grpc.errors import from_rpc_error
from services.grpc.generated import reservations_pb2 as pb
from services.grpc.generated import reservations_pb2_grpc as pb_grpc


class GrpcClient:
    """``async with GrpcClient("127.0.0.1:50051", language="ko") as api: ...``"""

    def __init__(
        self,
        target: str,
        *,
        language: str = "en",
        timeout: float | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
        api_key: str | None = None,
        token: str | None = None,
    ) -> None:
        self.target = target
        self.language = language
        self._timeout = timeout
        self._metadata: tuple[tuple[str, str], ...] = (("accept-language", language),)
        # The credential rides in every call's metadata, as call credentials put it there; this way it
        # also works on the plaintext channels of the embedded topology (grpcio sends call
        # credentials only over channels it considers secure).
        if token is not None:
            self._metadata += (("authorization", f"Bearer {token}"),)
        elif api_key is not None:
            self._metadata += (("x-api-key", api_key),)
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._channel: grpc.aio.Channel | None = None
        self._stub_instance: pb_grpc.ReservationServiceStub | None = None

    @property
    def _stub(self) -> pb_grpc.ReservationServiceStub:
        # The channel binds to the running loop, so it is opened on first use, not in __init__.
        if self._stub_instance is None:
            self._channel = grpc.aio.insecure_channel(self.target, options=self._options)
            self._stub_instance = pb_grpc.ReservationServiceStub(self._channel)
        return self._stub_instance

    async def __aenter__(self) -> GrpcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub_instance = None

    # -- plumbing ----------------------------------------------------------------------

    def _with_key(self, idempotency_key: str | None) -> tuple[tuple[str, str], ...]:
        if idempotency_key is None:
            return self._metadata
        return (*self._metadata, ("idempotency-key", idempotency_key))

    async def _call(
        self, method: Any, request: Any, metadata: tuple[tuple[str, str], ...] | None = None
    ) -> Any:
        try:
            return await method(request, metadata=metadata or self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as failure:
            raise from_rpc_error(failure) from None

    def _message(self, message_class: Any, values: dict[str, Any]) -> Any:
        """A request message from raw values; a value protobuf cannot carry is INVALID_PROPERTY."""
        given = {name: value for name, value in values.items() if value is not None}
        for name, value in given.items():
            if isinstance(value, bool):  # protobuf would take it as 0/1
                raise self._bad_type(name)
        try:
            return message_class(**given)
        except (TypeError, ValueError):
            for name, value in given.items():
                try:
                    message_class(**{name: value})
                except (TypeError, ValueError):
                    raise self._bad_type(name) from None
            raise

    def _bad_type(self, name: str) -> InvalidProperty:
        error = invalid(name, "type")
        return InvalidProperty(field=error.field, message=error.localized(self.language))

    # -- ReservationApi ----------------------------------------------------------------

    async def list_rooms(self) -> list[Room]:
        response = await self._call(self._stub.ListRooms, pb.ListRoomsRequest())
        return [translate.room_from_message(room) for room in response.rooms]

    async def get_room(self, room_id: str) -> Room:
        request = self._message(pb.GetRoomRequest, {"room_id": room_id})
        response = await self._call(self._stub.GetRoom, request)
        return translate.room_from_message(response.room)

    async def create_reservation(
        self, draft: ReservationDraft, *, idempotency_key: str | None = None
    ) -> Reservation:
        values = {name: getattr(draft, name) for name in translate.DRAFT_FIELDS}
        request = self._message(pb.CreateReservationRequest, values)
        response = await self._call(self._stub.CreateReservation, request, self._with_key(idempotency_key))
        return translate.reservation_from_message(response.reservation)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        request = self._message(pb.GetReservationRequest, {"reservation_id": reservation_id})
        response = await self._call(self._stub.GetReservation, request)
        return translate.reservation_from_message(response.reservation)

    async def list_reservations(self, query: ReservationQuery) -> ReservationPage:
        values = {name: getattr(query, name) for name in translate.QUERY_FIELDS}
        request = self._message(pb.ListReservationsRequest, values)
        response = await self._call(self._stub.ListReservations, request)
        return ReservationPage(
            items=tuple(translate.reservation_from_message(item) for item in response.items),
            page=response.page,
            page_size=response.page_size,
            total_items=response.total_items,
        )

    async def modify_reservation(
        self, reservation_id: str, changes: ReservationChanges, *, expected_version: int | None = None
    ) -> Reservation:
        values = {name: getattr(changes, name) for name in translate.DRAFT_FIELDS}
        values.update(reservation_id=reservation_id, expected_version=expected_version)
        request = self._message(pb.ModifyReservationRequest, values)
        response = await self._call(self._stub.ModifyReservation, request)
        return translate.reservation_from_message(response.reservation)

    async def cancel_reservation(
        self, reservation_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Reservation:
        request = self._message(
            pb.CancelReservationRequest, {"reservation_id": reservation_id, "reason": reason}
        )
        response = await self._call(self._stub.CancelReservation, request, self._with_key(idempotency_key))
        return translate.reservation_from_message(response.reservation)

    async def check_in_reservation(self, reservation_id: str) -> Reservation:
        request = self._message(pb.CheckInReservationRequest, {"reservation_id": reservation_id})
        response = await self._call(self._stub.CheckInReservation, request)
        return translate.reservation_from_message(response.reservation)

    async def watch_events(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 100
    ) -> list[Event]:
        values = {"after": after, "types": list(types) if types else None, "limit": limit}
        request = self._message(pb.ListEventsRequest, values)
        response = await self._call(self._stub.ListEvents, request)
        return [translate.event_from_message(event) for event in response.events]

    async def stream_events(
        self, after: int = 0, types: Sequence[str] | None = None
    ) -> AsyncGenerator[Event, None]:
        """Every event after ``after``, then each new one as it is committed (WatchEvents)."""
        request = self._message(
            pb.WatchEventsRequest, {"after": after, "types": list(types) if types else None}
        )
        call = self._stub.WatchEvents(request, metadata=self._metadata)
        try:
            async for response in call:
                yield translate.event_from_message(response.event)
        except grpc.aio.AioRpcError as failure:
            raise from_rpc_error(failure) from None
        finally:
            call.cancel()
