"""Bytes on the wire for one call of an operation in every style, measured on the connection.

``python -m bench.call_bytes`` starts one server with every style, points each style's client
at a counting TCP relay (bench/wire.py), warms the connection with one call, then counts one
``getReservation`` and one ``createReservation``: request bytes (client -> server) and response
bytes (server -> client), headers and framing included, connection set-up excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable
from typing import Any

from bench.wire import CountingRelay
from services.core.model import ReservationDraft

STYLES = ("rest", "graphql", "grpc", "soap", "websocket")


def _client(style: str, http: str, grpc: str) -> Any:
    if style == "rest":
        from services.rest.client import RestClient

        return RestClient(http)
    if style == "graphql":
        from services.graphql.client import GraphQLClient

        return GraphQLClient(http)
    if style == "grpc":
        from services.grpc.client import GrpcClient

        return GrpcClient(grpc)
    if style == "soap":
        from services.soap.client import SoapClient

        return SoapClient(http)
    from services.websocket.client import WebSocketClient

    return WebSocketClient(http)


async def measure(base_url: str, grpc_target: str) -> dict[str, dict[str, dict[str, int]]]:
    http_host, http_port = base_url.removeprefix("http://").split(":")
    grpc_host, grpc_port = grpc_target.split(":")
    results: dict[str, dict[str, dict[str, int]]] = {}
    for number, style in enumerate(STYLES):
        host, port = (grpc_host, int(grpc_port)) if style == "grpc" else (http_host, int(http_port))
        async with CountingRelay(host, port) as relay:
            relayed = f"{host}:{relay.port}"
            client = _client(style, f"http://{relayed}", relayed)
            try:
                seed = await client.create_reservation(_draft(number, 0))  # also opens the connection
                await client.get_reservation(seed.reservation_id)  # warm: caches, HTTP/2 windows
                await asyncio.sleep(0.2)
                results[style] = {
                    "getReservation": await _count(relay, client.get_reservation(seed.reservation_id)),
                    "createReservation": await _count(relay, client.create_reservation(_draft(number, 1))),
                }
            finally:
                await client.aclose()
    return results


async def _count(relay: CountingRelay, call: Awaitable[Any]) -> dict[str, int]:
    relay.count.reset()
    await call
    await asyncio.sleep(0.2)  # let trailing frames (HTTP/2 window updates) cross
    return {"request": relay.count.to_server, "response": relay.count.to_client}


def _draft(number: int, slot: int) -> ReservationDraft:
    return ReservationDraft(
        "room-b",
        "Ada Lovelace",
        f"2036-01-{number + 1:02d}",
        f"{9 + slot:02d}:00",
        f"{10 + slot:02d}:00",
        3,
        "Analytical engine study group",
    )


def table(results: dict[str, dict[str, dict[str, int]]]) -> str:
    lines = [
        "| style | getReservation request | getReservation response | createReservation request | "
        "createReservation response |",
        "|---|---:|---:|---:|---:|",
    ]
    for style, ops in results.items():
        get, create = ops["getReservation"], ops["createReservation"]
        lines.append(
            f"| {style} | {get['request']} | {get['response']} | {create['request']} | {create['response']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args(argv)
    from tests.support.server import live_server

    with live_server(styles="rest,graphql,grpc,soap,websocket") as server:
        assert server.grpc_target is not None
        results = asyncio.run(measure(server.base_url, server.grpc_target))
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
