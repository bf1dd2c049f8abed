"""Floors: one fixed reservation served by a bare server of each protocol, nothing else.

``python -m bench.floors KIND PORT`` serves getReservation of that one object, answering the
very request the style's client sends (same path, query, envelope, message or frame), so a
style's figure divided by its floor's shows what the adapter and the core add to the library.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from services.core.model import Reservation, ReservationStatus

FIXED = Reservation(
    reservation_id="rsv_floor0000000000a",
    room_id="room-b",
    guest_name="Guest 000",
    date="2029-01-01",
    start_time="10:00",
    end_time="11:30",
    attendees=3,
    purpose="benchmark seed",
    status=ReservationStatus.RESERVED,
    cancel_reason=None,
    version=1,
    created_at=datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC),
    updated_at=datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC),
)
FIXED_DICT = FIXED.to_dict()

# kind -> (the style whose requests it answers, description)
FLOORS: dict[str, tuple[str, str]] = {
    "asgi": ("rest", "plain ASGI app under uvicorn (fixed bytes)"),
    "fastapi": ("rest", "bare FastAPI route returning the dict"),
    "strawberry": ("graphql", "bare strawberry ASGI, ParserCache + ValidationCache"),
    "spyne": ("soap", "bare spyne Soap11 under a2wsgi + uvicorn"),
    "grpc-aio": ("grpc", "bare grpc.aio servicer, prebuilt response"),
    "grpc-sync": ("grpc", "bare sync grpc.server (16 threads), prebuilt response"),
    "websockets": ("websocket", "bare websockets server: parse frame, answer fixed result"),
    "uvicorn-ws": ("websocket", "plain ASGI WebSocket app under uvicorn (websockets-sansio), same answer"),
}
# Which floor a style is compared with (gRPC: the faster of the two, chosen at report time).
FLOOR_OF: dict[str, tuple[str, ...]] = {
    "rest": ("fastapi",),
    "graphql": ("strawberry",),
    "grpc": ("grpc-aio", "grpc-sync"),
    "soap": ("spyne",),
    "websocket": ("websockets",),
}


def asgi_app() -> Any:
    body = json.dumps(FIXED_DICT, separators=(",", ":")).encode()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    message = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(start)
        await send(message)

    return app


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/v1/reservations/{reservation_id}")
    async def get_reservation(reservation_id: str) -> dict[str, Any]:
        return FIXED_DICT

    return app


def strawberry_app() -> Any:
    from bench.floor_graphql import build_app

    return build_app(FIXED)


def spyne_app() -> Any:
    from a2wsgi import WSGIMiddleware

    from services.soap import spyne_compat  # noqa: F401  (makes spyne importable: before any spyne import)

    # isort: split
    from spyne import Application, ServiceBase, Unicode, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

    from services.soap.service import NAMESPACE, ReservationType

    returned = ReservationType.customize(min_occurs=1, nillable=False)
    fixed = ReservationType.from_domain(FIXED)

    class ReservationService(ServiceBase):
        @rpc(Unicode(min_occurs=0, nillable=True), _returns=returned, _out_variable_name="reservation")
        def GetReservation(ctx, reservationId):  # noqa: N802, N805 - SOAP operation names
            return fixed

    application = Application(
        [ReservationService], tns=NAMESPACE, in_protocol=Soap11(validator=None), out_protocol=Soap11()
    )
    return WSGIMiddleware(WsgiApplication(application), workers=10)


def uvicorn_ws_app() -> Any:
    """What the WebSocket adapter's host gives for free: uvicorn's ASGI WebSocket, nothing of ours."""
    from services.websocket import protocol

    payload = json.dumps(FIXED_DICT, separators=(",", ":"))
    accept = {"type": "websocket.accept", "subprotocol": protocol.SUBPROTOCOL}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send(accept)
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            frame = json.loads(message["text"])
            text = f'{{"id":{json.dumps(frame.get("id"))},"type":"result","payload":{payload}}}'
            await send({"type": "websocket.send", "text": text})

    return app


def serve_uvicorn(app: Any, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",  # as rosetta serve
    )


def _grpc_response() -> Any:
    from services.grpc import translate
    from services.grpc.generated import reservations_pb2 as pb

    return pb.GetReservationResponse(reservation=translate.reservation_message(FIXED))


def serve_grpc_aio(port: int) -> None:
    import grpc

    from services.grpc.generated import reservations_pb2_grpc as pb_grpc

    response = _grpc_response()

    class Servicer(pb_grpc.ReservationServiceServicer):
        async def GetReservation(self, request: Any, context: Any) -> Any:  # noqa: N802
            return response

    async def main() -> None:
        server = grpc.aio.server()
        pb_grpc.add_ReservationServiceServicer_to_server(Servicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    _uvloop_off_run(main())


def serve_grpc_sync(port: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    from services.grpc.generated import reservations_pb2_grpc as pb_grpc

    response = _grpc_response()

    class Servicer(pb_grpc.ReservationServiceServicer):
        def GetReservation(self, request: Any, context: Any) -> Any:  # noqa: N802
            return response

    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    pb_grpc.add_ReservationServiceServicer_to_server(Servicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import serve

    from services.websocket import protocol

    payload = json.dumps(FIXED_DICT, separators=(",", ":"))

    async def handler(connection: Any) -> None:
        async for message in connection:
            frame = json.loads(message)
            await connection.send(
                f'{{"id":{json.dumps(frame.get("id"))},"type":"result","payload":{payload}}}'
            )

    async def main() -> None:
        async with serve(
            handler,
            "127.0.0.1",
            port,
            subprotocols=[protocol.SUBPROTOCOL],
            compression=None,
            max_size=64 * 1024,
        ) as server:
            await server.serve_forever()

    _run(main())


def _run(coroutine: Any) -> None:
    try:
        import uvloop

        uvloop.run(coroutine)
    except ImportError:
        asyncio.run(coroutine)


def _uvloop_off_run(coroutine: Any) -> None:
    asyncio.run(coroutine)  # grpc.aio runs on its own poller, not uvloop


def serve(kind: str, port: int) -> None:
    if kind == "asgi":
        serve_uvicorn(asgi_app(), port)
    elif kind == "fastapi":
        serve_uvicorn(fastapi_app(), port)
    elif kind == "strawberry":
        serve_uvicorn(strawberry_app(), port)
    elif kind == "spyne":
        serve_uvicorn(spyne_app(), port)
    elif kind == "grpc-aio":
        serve_grpc_aio(port)
    elif kind == "grpc-sync":
        serve_grpc_sync(port)
    elif kind == "websockets":
        serve_websockets(port)
    elif kind == "uvicorn-ws":
        serve_uvicorn(uvicorn_ws_app(), port)
    else:
        raise SystemExit(f"unknown floor {kind!r}; choose from {', '.join(FLOORS)}")


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
