"""The WebSocket style: JSON frames on ``/ws`` (subprotocol ``rosetta.v1``), its server adapter and client."""
