"""The gRPC server adapter (grpc.aio): ``ReservationService`` of the proto over the one core object.

Each RPC is a thin translation (request message -> use case -> response message). The method
handlers are registered here rather than by the generated ``add_..._to_server`` so that
(a) request bytes that do not parse become INVALID_ARGUMENT / MALFORMED_REQUEST instead of the
runtime's bare INTERNAL, and (b) one wrapper per method maps ``RosettaError`` to a rich status.
Health (``grpc.health.v1``) and server reflection are served beside it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.core import messages
from services.core.access import Guard, until_expiry
from services.core.api import ServerApi
from services.core.errors import InternalError, MalformedRequest, RosettaError
from services.grpc import translate
from services.grpc.auth import AioContext, AuthInterceptor, current_principal
from services.grpc.errors import to_status
from services.grpc.generated import reservations_pb2 as pb

log = logging.getLogger("rosetta.grpc")

SERVICE_DESCRIPTOR = pb.DESCRIPTOR.services_by_name["ReservationService"]
SERVICE_NAME = SERVICE_DESCRIPTOR.full_name  # rosetta.reservations.v1.ReservationService


@dataclass(frozen=True)
class GrpcOptions:
    host: str = "127.0.0.1"
    port: int = 50051  # 0 binds a free port
    max_message_bytes: int = 4 * 1024 * 1024  # receive and send


def _metadata_value(context: AioContext, key: str) -> str | None:
    for item_key, value in context.invocation_metadata() or ():
        if item_key == key:
            return value if isinstance(value, str) else None
    return None


class ReservationServicer:
    """Translates each RPC into one use-case call; errors are mapped by the handler wrappers.

    It does not subclass the generated ``ReservationServiceServicer``: ``method_handlers`` serves
    every RPC of the service descriptor from the method of the same name, so a missing one fails
    at start-up instead of answering UNIMPLEMENTED (and the generated module has no types)."""

    def __init__(self, api: ServerApi) -> None:
        self._base = api

    @property
    def _api(self) -> ServerApi:
        """The core, acting for the caller the interceptor admitted (no guard: the service itself)."""
        principal = current_principal.get()
        return self._base if principal is None else self._base.acting_as(principal)

    async def ListRooms(self, request: pb.ListRoomsRequest, context: Any) -> pb.ListRoomsResponse:
        rooms = await self._api.list_rooms()
        return pb.ListRoomsResponse(rooms=[translate.room_message(room) for room in rooms])

    async def GetRoom(self, request: pb.GetRoomRequest, context: Any) -> pb.GetRoomResponse:
        return pb.GetRoomResponse(room=translate.room_message(await self._api.get_room(request.room_id)))

    async def CreateReservation(
        self, request: pb.CreateReservationRequest, context: Any
    ) -> pb.CreateReservationResponse:
        reservation = await self._api.create_reservation(
            translate.draft_from_request(request),
            idempotency_key=_metadata_value(context, "idempotency-key"),
        )
        return pb.CreateReservationResponse(reservation=translate.reservation_message(reservation))

    async def GetReservation(
        self, request: pb.GetReservationRequest, context: Any
    ) -> pb.GetReservationResponse:
        reservation = await self._api.get_reservation(request.reservation_id)
        response = pb.GetReservationResponse()
        translate.copy_reservation(response.reservation, reservation)
        return response

    async def ListReservations(
        self, request: pb.ListReservationsRequest, context: Any
    ) -> pb.ListReservationsResponse:
        page = await self._api.list_reservations(translate.query_from_request(request))
        response = pb.ListReservationsResponse(
            page=page.page,
            page_size=page.page_size,
            total_items=page.total_items,
            total_pages=page.total_pages,
        )
        translate.copy_reservations(response.items, page.items)
        return response

    async def ModifyReservation(
        self, request: pb.ModifyReservationRequest, context: Any
    ) -> pb.ModifyReservationResponse:
        reservation = await self._api.modify_reservation(
            request.reservation_id,
            translate.changes_from_request(request),
            expected_version=request.expected_version if request.HasField("expected_version") else None,
        )
        return pb.ModifyReservationResponse(reservation=translate.reservation_message(reservation))

    async def CancelReservation(
        self, request: pb.CancelReservationRequest, context: Any
    ) -> pb.CancelReservationResponse:
        reservation = await self._api.cancel_reservation(
            request.reservation_id,
            reason=request.reason if request.HasField("reason") else None,
            idempotency_key=_metadata_value(context, "idempotency-key"),
        )
        return pb.CancelReservationResponse(reservation=translate.reservation_message(reservation))

    async def CheckInReservation(
        self, request: pb.CheckInReservationRequest, context: Any
    ) -> pb.CheckInReservationResponse:
        reservation = await self._api.check_in_reservation(request.reservation_id)
        return pb.CheckInReservationResponse(reservation=translate.reservation_message(reservation))

    async def ListEvents(self, request: pb.ListEventsRequest, context: Any) -> pb.ListEventsResponse:
        limit = {"limit": request.limit} if request.HasField("limit") else {}
        events = await self._api.watch_events(request.after, types=list(request.types) or None, **limit)
        return pb.ListEventsResponse(events=[translate.event_message(event) for event in events])

    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: Any
    ) -> AsyncIterator[pb.WatchEventsResponse]:
        # Cancelling the call (client gone, deadline) cancels this task; closing the core's
        # iterator then stops its wait on the notifier.
        events = self._api.stream_events(request.after, types=list(request.types) or None)
        principal = current_principal.get()
        if principal is not None:  # a stream opened with a token ends when the token does
            events = until_expiry(principal, events)
        try:
            async for event in events:
                yield pb.WatchEventsResponse(event=translate.event_message(event))
        finally:
            await events.aclose()


# -- request decoding and error mapping -------------------------------------------------


class _Unreadable:
    """What the request deserializer yields for bytes that are not the expected message."""

    __slots__ = ()


UNREADABLE = _Unreadable()


def _tolerant_deserializer(message_class: Any) -> Callable[[bytes], Any]:
    parse = message_class.FromString

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception:  # DecodeError, or anything else protobuf trips on: never a crash
            return UNREADABLE

    return deserialize


def _language(context: AioContext) -> str:
    return messages.negotiate(_metadata_value(context, "accept-language"))


async def _abort(context: AioContext, error: RosettaError) -> None:
    await context.abort_with_status(to_status(error, _language(context)))


def _expired(context: AioContext) -> bool:
    remaining = context.time_remaining()
    return remaining is not None and remaining <= 0


def _refusal(context: AioContext, request: Any) -> Awaitable[None] | None:
    """The abort to await before any work when the request is unreadable or its deadline already
    passed; None for the usual call, which then creates no coroutine for it."""
    if request is UNREADABLE:
        return _abort(context, MalformedRequest(params={"reason": "syntax"}))
    if _expired(context):
        return context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded.")
    return None


def _unary(name: str, behavior: Callable[[Any, Any], Awaitable[Any]]) -> Callable[[Any, Any], Awaitable[Any]]:
    async def handle(request: Any, context: AioContext) -> Any:
        if (refusal := _refusal(context, request)) is not None:
            await refusal
        try:
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except RosettaError as error:
            await _abort(context, error)
        except Exception:
            log.exception("unexpected error in %s", name)
            await _abort(context, InternalError())

    return handle


def _server_streaming(
    name: str, behavior: Callable[[Any, Any], AsyncGenerator[Any, None]]
) -> Callable[[Any, Any], AsyncIterator[Any]]:
    async def handle(request: Any, context: AioContext) -> AsyncIterator[Any]:
        if (refusal := _refusal(context, request)) is not None:
            await refusal
        responses = behavior(request, context)
        try:
            async for response in responses:
                yield response
        except grpc.aio.AbortError:
            raise
        except RosettaError as error:
            await _abort(context, error)
        except Exception:
            log.exception("unexpected error in %s", name)
            await _abort(context, InternalError())
        finally:
            await responses.aclose()

    return handle


def method_handlers(servicer: ReservationServicer) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """One handler per RPC of the service descriptor, each with the tolerant deserializer and a wrapper."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE_DESCRIPTOR.methods:
        request_class = getattr(pb, method.input_type.name)
        response_class = getattr(pb, method.output_type.name)
        behavior = getattr(servicer, method.name)
        options = {
            "request_deserializer": _tolerant_deserializer(request_class),
            "response_serializer": response_class.SerializeToString,
        }
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _server_streaming(method.name, behavior), **options
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(method.name, behavior), **options
            )
    return handlers


class RunningServer:
    """The started grpc.aio server; ``stop`` first reports NOT_SERVING so health checkers drain it."""

    def __init__(self, server: grpc.aio.Server, health_servicer: health.aio.HealthServicer) -> None:
        self.server = server
        self._health = health_servicer

    async def stop(self, grace: float | None) -> None:
        await self._health.enter_graceful_shutdown()
        await self.server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return await self.server.wait_for_termination(timeout)


async def start_server(
    api: ServerApi, options: GrpcOptions, guard: Guard | None = None
) -> tuple[RunningServer, int]:
    """Build and start the server on the running loop; returns it and the port actually bound.

    With a ``guard``, every ReservationService call passes the gateway's checks first (AuthInterceptor).
    """
    server = grpc.aio.server(
        interceptors=[AuthInterceptor(guard, SERVICE_NAME)] if guard is not None else None,
        options=[
            ("grpc.max_receive_message_length", options.max_message_bytes),
            ("grpc.max_send_message_length", options.max_message_bytes),
            # One process per port: a second server on a busy port must fail, not share it.
            ("grpc.so_reuseport", 0),
        ],
    )
    handlers = method_handlers(ReservationServicer(api))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )

    host = f"[{options.host}]" if ":" in options.host else options.host
    port = server.add_insecure_port(f"{host}:{options.port}")
    await server.start()
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("gRPC listening on %s:%d", options.host, port)
    return RunningServer(server, health_servicer), port
