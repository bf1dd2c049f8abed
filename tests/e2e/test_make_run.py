"""What ``make run`` starts (``rosetta serve``: every style, SQLite) answers in every style, and stops.

``make test`` runs this file on each other supported Python too, beside the fast tier: it is the proof
that ``make run`` works there.
"""

from __future__ import annotations

import signal
from pathlib import Path

from services.graphql.client import GraphQLClient
from services.grpc.client import GrpcClient
from services.rest.client import RestClient
from services.soap.client import SoapClient
from services.websocket.client import WebSocketClient
from tests.support.processes import free_port, rosetta_serve


async def test_every_style_serves_the_same_room_then_sigterm_stops_the_process(tmp_path: Path) -> None:
    grpc_port = free_port()
    with rosetta_serve(tmp_path / "rosetta.db", "--grpc-port", str(grpc_port)) as (base, process):
        clients: list[RestClient | GraphQLClient | GrpcClient | SoapClient | WebSocketClient] = [
            RestClient(base),
            GraphQLClient(base),
            GrpcClient(f"127.0.0.1:{grpc_port}"),
            SoapClient(base),
            WebSocketClient(base),
        ]
        try:
            rooms = [await client.get_room("room-a") for client in clients]
        finally:
            for client in clients:
                await client.aclose()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    assert rooms[0].room_id == "room-a" and all(room == rooms[0] for room in rooms), rooms
