"""The gateway's checks for gRPC, as a server interceptor (grpc examples/python/auth does the same).

``authorization: Bearer <token>`` / ``Basic <id:secret>`` or ``x-api-key`` metadata is authenticated,
the method's operation authorized and charged, before the handler runs; the handler then acts as the
principal (``current_principal``). Health and reflection stay open, like ``/healthz``. A refusal is
the catalog error as a rich status (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc

from services.core import messages
from services.core.access import Guard, Principal, credentials_from_headers
from services.core.errors import RosettaError
from services.grpc.errors import to_status

AioContext = grpc.aio.ServicerContext[Any, Any]
# grpc's stubs type a handler's behaviours as the synchronous API's (grpc.ServicerContext, Iterator);
# under grpc.aio they are coroutine functions and async generators over grpc.aio.ServicerContext.
AioUnaryBehavior = Callable[[Any, AioContext], Awaitable[Any]]
AioStreamBehavior = Callable[[Any, AioContext], AsyncIterator[Any]]

current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "grpc_principal", default=None
)

# RPC name -> the operation of the core's scope table (OPERATION_SCOPES).
OPERATION_OF_METHOD: dict[str, str] = {
    "ListRooms": "listRooms",
    "GetRoom": "getRoom",
    "CreateReservation": "createReservation",
    "GetReservation": "getReservation",
    "ListReservations": "listReservations",
    "ModifyReservation": "modifyReservation",
    "CancelReservation": "cancelReservation",
    "CheckInReservation": "checkInReservation",
    "ListEvents": "watchEvents",
    "WatchEvents": "watchEvents",
}


def _address(peer: str | None) -> str | None:
    """``ipv4:127.0.0.1:5555`` / ``ipv6:[::1]:5555`` -> the address alone (the quota key)."""
    if not peer:
        return None
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return rest or None


def _metadata(context: AioContext) -> dict[str, str]:
    """The call's text metadata (binary ``-bin`` entries are not credentials)."""
    return {key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)}


async def _admit(guard: Guard, context: AioContext, operation: str) -> Principal:
    """authenticate -> authorize -> charge; a refusal aborts the call with its rich status."""
    metadata = _metadata(context)
    credentials = credentials_from_headers(
        metadata.get("authorization"), metadata.get("x-api-key"), _address(context.peer())
    )
    try:
        principal = await guard.authenticate(credentials)
        guard.authorize(principal, operation)
        await guard.charge(principal, "grpc", operation)
    except RosettaError as error:
        language = messages.negotiate(metadata.get("accept-language"))
        await context.abort_with_status(to_status(error, language))
        raise AssertionError("unreachable") from None  # abort_with_status raises
    return principal


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each ReservationService handler in the gateway's checks."""

    def __init__(self, guard: Guard, service_name: str) -> None:
        self._guard = guard
        self._prefix = f"/{service_name}/"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(self._prefix):
            return handler
        operation = OPERATION_OF_METHOD[method.removeprefix(self._prefix)]
        guard = self._guard
        options = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            behavior = cast(AioUnaryBehavior, handler.unary_unary)

            async def unary(request: Any, context: AioContext) -> Any:
                token = current_principal.set(await _admit(guard, context, operation))
                try:
                    return await behavior(request, context)
                finally:
                    current_principal.reset(token)

            return grpc.unary_unary_rpc_method_handler(unary, **options)
        assert handler.unary_stream is not None
        streaming = cast(AioStreamBehavior, handler.unary_stream)

        async def stream(request: Any, context: AioContext) -> AsyncIterator[Any]:
            principal = await _admit(guard, context, operation)
            try:
                async with guard.stream(principal, "grpc"):
                    token = current_principal.set(principal)
                    try:
                        async for response in streaming(request, context):
                            yield response
                    finally:
                        current_principal.reset(token)
            except RosettaError as error:  # the concurrent-stream limit
                language = messages.negotiate(_metadata(context).get("accept-language"))
                await context.abort_with_status(to_status(error, language))

        return grpc.unary_stream_rpc_method_handler(stream, **options)
