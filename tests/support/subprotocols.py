"""The WebSocket subprotocols the tests ask for, typed as the websockets client takes them."""

from __future__ import annotations

from websockets.typing import Subprotocol

from services.websocket.protocol import SUBPROTOCOL as ROSETTA_V1

GRAPHQL_TRANSPORT_WS = Subprotocol("graphql-transport-ws")

__all__ = ["GRAPHQL_TRANSPORT_WS", "ROSETTA_V1"]
