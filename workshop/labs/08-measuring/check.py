"""Lab 08's checker: the learner's predictions, their own `rosetta bench` run read back, and the bytes of
one get measured live on the connection to a real server."""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.wire import CountingRelay
from services.graphql.client import GraphQLClient
from services.grpc.client import GrpcClient
from services.rest.client import RestClient
from services.soap.client import SoapClient
from services.websocket.client import WebSocketClient
from workshop.checking import Hint, LabContext, check, unique_date

Client = RestClient | GraphQLClient | GrpcClient | SoapClient | WebSocketClient
STYLES = ("rest", "graphql", "grpc", "soap", "websocket")
PAGES = ("get", "list", "room_page")


def _answers(lab: LabContext) -> Any:
    return lab.load("answers")


@check("Predictions written before measuring", "PREDICTED maps get, list and room_page to a ranking.")
async def predicted(lab: LabContext) -> str:
    predictions = getattr(_answers(lab), "PREDICTED", {})
    for page in PAGES:
        ranking = predictions.get(page)
        if not isinstance(ranking, list | tuple) or sorted(ranking) != sorted(STYLES):
            raise Hint(
                f"PREDICTED[{page!r}] should list all five styles once, fastest first: "
                f"{', '.join(STYLES)}. Guess — that is the point; you will compare after"
            )
    return "; ".join(f"{page}: {' > '.join(predictions[page])}" for page in PAGES)


def _bench(lab: LabContext) -> dict[str, Any]:
    name = getattr(_answers(lab), "BENCH_JSON", "")
    path = lab.work / name if name else None
    if path is None or not path.is_file():
        raise Hint(
            "BENCH_JSON should name your run's bench.json, relative to this folder: run "
            "`rosetta bench --mixes get,list --rounds 1 --no-floors -o my-bench` here"
        )
    document = json.loads(path.read_text())
    if not {"measurements", "wire", "environment", "settings"} <= set(document):
        raise Hint(f"{name} is not the bench.json `rosetta bench` writes")
    return dict(document)


def _figure(document: dict[str, Any], mix: str, key: str) -> dict[str, float]:
    found: dict[str, list[float]] = {}
    for m in document["measurements"]:
        if m.get("kind") == "style" and m.get("mix") == mix and m.get(key) is not None:
            found.setdefault(m["name"], []).append(float(m[key]))
    return {style: statistics.median(values) for style, values in found.items()}


@check("Your bench run, read correctly", "FASTEST_GET and CHEAPEST_GET name a style from your bench.json.")
async def bench_read(lab: LabContext) -> str:
    document = _bench(lab)
    answers = _answers(lab)
    throughput = _figure(document, "get", "ops_per_s")
    cpu = _figure(document, "get", "server_cpu_ms_per_op")
    if len(throughput) < 3 or not _figure(document, "list", "ops_per_s"):
        raise Hint(
            "your bench.json needs the get and list mixes for at least three styles (--mixes get,list)"
        )
    fastest = max(throughput, key=lambda s: throughput[s])
    cheapest = min(cpu, key=lambda s: cpu[s])
    if answers.FASTEST_GET != fastest:
        raise Hint(
            "FASTEST_GET is not the style with the highest ops/s for get in your bench.json; read "
            "bench.md's table (median ops/s)"
        )
    if answers.CHEAPEST_GET != cheapest:
        raise Hint("CHEAPEST_GET is not the style with the lowest CPU ms/op for get in your bench.json")
    contended = [m["name"] for m in document["measurements"] if (m.get("others_on_server_cpus") or 0) > 0.15]
    note = (
        f"; contended runs: {', '.join(sorted(set(contended)))} — trust CPU ms/op over ops/s"
        if contended
        else ""
    )
    figures = f"{throughput[fastest]:,.0f} ops/s; {cpu[cheapest]:.3f} ms/op"
    return f"fastest {fastest}, cheapest {cheapest} ({figures}){note}"


async def _get_bytes(lab: LabContext, style: str, reservation_id: str) -> int:
    web = urlsplit(lab.base_url)
    host, port = (
        (lab.grpc_target or "127.0.0.1:0").rsplit(":", 1) if style == "grpc" else (web.hostname, web.port)
    )
    async with CountingRelay(str(host), int(port or 80)) as relay:
        address = f"127.0.0.1:{relay.port}"
        clients: dict[str, Callable[[], Client]] = {
            "rest": lambda: RestClient(f"http://{address}"),
            "graphql": lambda: GraphQLClient(f"http://{address}"),
            "grpc": lambda: GrpcClient(address),
            "soap": lambda: SoapClient(f"http://{address}"),
            "websocket": lambda: WebSocketClient(f"http://{address}"),
        }
        client = clients[style]()
        try:
            await client.get_reservation(reservation_id)  # opens the connection, warms caches
            await asyncio.sleep(0.1)
            relay.count.reset()
            await client.get_reservation(reservation_id)
            await asyncio.sleep(0.2)  # trailing HTTP/2 frames
            return relay.count.to_server + relay.count.to_client
        finally:
            await client.aclose()


@check("The fewest bytes per get, measured live", "FEWEST_BYTES_GET names a style.")
async def fewest_bytes(lab: LabContext) -> str:
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        made = await http.post(
            f"{lab.base_url}/api/v1/reservations",
            json={
                "roomId": "room-b",
                "guestName": f"Lab 08 {secrets.token_hex(3)}",
                "date": unique_date(),
                "startTime": "10:00",
                "endTime": "11:00",
                "attendees": 2,
            },
        )
    made.raise_for_status()
    reservation_id = made.json()["reservationId"]
    measured = {
        style: await _get_bytes(lab, style, reservation_id)
        for style in STYLES
        if style != "grpc" or lab.grpc_target
    }
    fewest = min(measured, key=lambda s: measured[s])
    if _answers(lab).FEWEST_BYTES_GET != fewest:
        raise Hint(
            "not the style that put the fewest bytes on the wire for one get (both directions, headers "
            "and framing included): bench.md's B/op columns, or the playground's summary row, say it"
        )
    return ", ".join(f"{s} {b} B" for s, b in sorted(measured.items(), key=lambda item: item[1]))


@check("Round trips for a room with its reservations", "ROOM_PAGE_ROUND_TRIPS = {'rest': n, 'graphql': n}.")
async def round_trips(lab: LabContext) -> str:
    trips = getattr(_answers(lab), "ROOM_PAGE_ROUND_TRIPS", {})
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        room = (await http.get(f"{lab.base_url}/api/v1/rooms/room-a")).json()
    rest_trips = 1 if "_embedded" in room else 2  # the room links its reservations; it does not embed them
    if trips.get("rest") != rest_trips or trips.get("graphql") != 1:
        raise Hint(
            "count the HTTP requests each style needs for the room *and* its reservations: follow the "
            "room's `reservations` link in REST; select `reservations` inside `room` in GraphQL"
        )
    return f"REST {rest_trips}, GraphQL 1"


@check("Your explanation uses CPU/op and bytes/op", "EXPLANATION: a paragraph, in your words.")
async def explained(lab: LabContext) -> str:
    text = str(getattr(_answers(lab), "EXPLANATION", ""))
    lowered = text.lower()
    if len(text) < 200 or "cpu" not in lowered or "byte" not in lowered:
        raise Hint(
            "explain the ranking from the figures (at least a few sentences): where does each style "
            "spend CPU per operation (parsing, validation, XML, protobuf), and what do its bytes carry?"
        )
    return f"{len(text)} characters"


CHECKS = [predicted, bench_read, fewest_bytes, round_trips, explained]
