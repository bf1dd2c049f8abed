"""Floors: one fixed reservation (and one fixed page of 20) served by a bare server of each protocol.

``python -m bench.floors KIND PORT`` serves getReservation of that one object and, for the list
floors, listReservations of a fixed page of 20 (built once, encoded by the library per request),
answering the very request the style's client sends (same path, query, envelope, message or
frame), so a style's figure divided by its floor's shows what the adapter and the core add to the
library, for like work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta
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
PAGE_ITEMS = tuple(
    dataclasses.replace(
        FIXED,
        reservation_id=f"rsv_floor{index:011d}"[:20].replace("0", "a"),
        guest_name=f"Guest {index:03d}",
        date=(datetime(2029, 1, 1) + timedelta(days=index)).date().isoformat(),
    )
    for index in range(20)
)
PAGE = {"page": 1, "pageSize": 20, "totalItems": 30, "totalPages": 2}
PAGE_DICT = {"items": [item.to_dict() for item in PAGE_ITEMS], "pagination": PAGE}

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
# The one floor a style is compared with: the library it is built on (gRPC: grpc.aio, as the servicer).
FLOOR_OF: dict[str, tuple[str, ...]] = {
    "rest": ("fastapi",),
    "graphql": ("strawberry",),
    "grpc": ("grpc-aio",),
    "soap": ("spyne",),
    "websocket": ("websockets",),
}
# The floors that also serve the list page (the extra reference floors answer get only).
LIST_FLOORS = frozenset({"fastapi", "strawberry", "spyne", "grpc-aio", "grpc-sync", "websockets"})


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

    @app.get("/api/v1/reservations")
    async def list_reservations(page: int = 1, pageSize: int = 20) -> dict[str, Any]:  # noqa: N803
        return PAGE_DICT

    return app


def strawberry_app() -> Any:
    from bench.floor_graphql import build_app

    return build_app(FIXED, PAGE_ITEMS)


def spyne_app() -> Any:
    from a2wsgi import WSGIMiddleware

    from services.soap import spyne_compat  # noqa: F401  (makes spyne importable: before any spyne import)

    # isort: split
    from spyne import Application, Integer, ServiceBase, Unicode, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

    from services.soap.errors import NAMESPACE
    from services.soap.service import ReservationType

    returned = ReservationType.customize(min_occurs=1, nillable=False)
    items = ReservationType.customize(min_occurs=0, max_occurs="unbounded", nillable=False)
    count = Integer(min_occurs=1, nillable=False)
    text = Unicode(min_occurs=0, nillable=True)
    number = Integer(min_occurs=0, nillable=True)
    fixed = ReservationType.from_domain(FIXED)
    page = [ReservationType.from_domain(item) for item in PAGE_ITEMS]

    class ReservationService(ServiceBase):
        @rpc(Unicode(min_occurs=0, nillable=True), _returns=returned, _out_variable_name="reservation")
        def GetReservation(ctx: Any, reservationId: str | None) -> ReservationType:  # noqa: N802, N803, N805
            return fixed

        @rpc(
            text, text, text, text, text, text, number, number,
            _returns=(items, count, count, count, count),
            _out_variable_names=("items", "page", "pageSize", "totalItems", "totalPages"),
        )  # fmt: skip
        def ListReservations(  # noqa: N802, N803, N805 - SOAP operation and element names
            ctx: Any,
            status: str | None,
            roomId: str | None,
            dateFrom: str | None,
            dateTo: str | None,
            guestName: str | None,
            sort: str | None,
            page_: int | None,
            pageSize: int | None,
        ) -> tuple[list[ReservationType], int, int, int, int]:
            return page, 1, 20, 30, 2

    application = Application(
        [ReservationService], tns=NAMESPACE, in_protocol=Soap11(validator=None), out_protocol=Soap11()
    )
    return WSGIMiddleware(WsgiApplication(application), workers=10)


def _ws_answer(message: str) -> str:
    """The result frame of one request frame, encoded per request as the other floors' libraries do
    (a page or reservation encoded once at start-up made the WebSocket floors do less than the style)."""
    frame = json.loads(message)
    payload = PAGE_DICT if frame.get("type") == "listReservations" else FIXED_DICT
    return json.dumps({"id": frame.get("id"), "type": "result", "payload": payload}, separators=(",", ":"))


def uvicorn_ws_app() -> Any:
    """What the WebSocket adapter's host gives for free: uvicorn's ASGI WebSocket, nothing of ours."""
    from services.websocket import protocol

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
            await send({"type": "websocket.send", "text": _ws_answer(message["text"])})

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


def _grpc_page() -> Any:
    """Built once; protobuf serializes it per call (the encoding cost the floor should carry)."""
    from services.grpc import translate
    from services.grpc.generated import reservations_pb2 as pb

    return pb.ListReservationsResponse(
        items=[translate.reservation_message(item) for item in PAGE_ITEMS],
        page=1,
        page_size=20,
        total_items=30,
        total_pages=2,
    )


def serve_grpc_aio(port: int) -> None:
    import grpc

    from services.grpc.generated import reservations_pb2_grpc as pb_grpc

    response, page = _grpc_response(), _grpc_page()

    class Servicer(pb_grpc.ReservationServiceServicer):
        async def GetReservation(self, request: Any, context: Any) -> Any:  # noqa: N802
            return response

        async def ListReservations(self, request: Any, context: Any) -> Any:  # noqa: N802
            return page

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

    response, page = _grpc_response(), _grpc_page()

    class Servicer(pb_grpc.ReservationServiceServicer):
        def GetReservation(self, request: Any, context: Any) -> Any:  # noqa: N802
            return response

        def ListReservations(self, request: Any, context: Any) -> Any:  # noqa: N802
            return page

    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    pb_grpc.add_ReservationServiceServicer_to_server(Servicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import serve

    from services.websocket import protocol

    async def handler(connection: Any) -> None:
        async for message in connection:
            await connection.send(_ws_answer(message))

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
