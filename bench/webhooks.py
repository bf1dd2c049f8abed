"""Webhook delivery speed: events per second through the dispatcher, and commit-to-receipt latency.

``python -m bench.webhooks --events 1000 [--rate 100]`` starts ``rosetta serve --styles
rest,webhooks`` (SQLite, the dispatcher in the gateway process) and a local receiver in this
process, subscribes the receiver, creates reservations through REST (paced, or as fast as one
client can), and times each event from the moment
its create returned (committed) to the moment the receiver had the signed webhook.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Receive


async def read_body(receive: Receive) -> bytes:
    """The whole body of an ASGI request (the receivers here answer only once they have it)."""
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


class Receiver:
    """A minimal ASGI receiver: records when each reservation's webhook arrived (first delivery)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.deliveries = 0
        self.all_arrived = threading.Event()
        self.expected = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        now = time.perf_counter()
        event = json.loads(body)
        self.deliveries += 1
        if event.get("type") == "reservation.created":
            self.arrived.setdefault(event["data"]["reservationId"], now)
            if len(self.arrived) >= self.expected:
                self.all_arrived.set()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(events: int, rate: float | None = None) -> dict[str, Any]:
    """``rate``: creates per second (paced), or as fast as one client can when None."""
    from tests.support.processes import free_port, rosetta_serve
    from tests.support.server import serve_app

    receiver = Receiver()
    receiver.expected = events
    port = free_port()
    env = {"ROSETTA_WEBHOOK_ALLOWLIST": "127.0.0.1", "ROSETTA_ACCESS_LOG": "false"}
    with tempfile.TemporaryDirectory() as data, serve_app(receiver, port=port):
        db = Path(data) / "rosetta.db"
        with (
            rosetta_serve(db, "--styles", "rest,webhooks", env=env) as (base, _),
            httpx.Client(base_url=base) as http,
        ):
            created = http.post(
                "/api/v1/webhook-subscriptions",
                json={"url": f"http://127.0.0.1:{port}/hook", "eventTypes": ["reservation.created"]},
            )
            created.raise_for_status()
            committed: dict[str, float] = {}
            started = time.perf_counter()
            for n in range(events):
                if rate:
                    pause = started + n / rate - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                body = {
                    "roomId": ("room-a", "room-b", "room-c", "room-d")[n % 4],
                    "guestName": f"bench {n}",
                    "date": (f"2040-{1 + n // 112 % 12:02d}-{1 + n // 4 % 28:02d}"),
                    "startTime": f"{(n // 4) // 336 % 12 + 8:02d}:00",
                    "endTime": f"{(n // 4) // 336 % 12 + 9:02d}:00",
                    "attendees": 1,
                }
                response = http.post("/api/v1/reservations", json=body)
                response.raise_for_status()
                committed[response.json()["reservationId"]] = time.perf_counter()
            creating = time.perf_counter() - started
            if not receiver.all_arrived.wait(120):
                raise RuntimeError(f"only {len(receiver.arrived)} of {events} webhooks arrived")
    latencies = [(receiver.arrived[rid] - at) * 1000 for rid, at in committed.items()]
    span = max(receiver.arrived.values()) - min(committed.values())
    return {
        "events": events,
        "paced": rate,
        "deliveries": receiver.deliveries,
        "createSeconds": round(creating, 3),
        "createsPerSecond": round(events / creating, 1),
        "deliveredPerSecond": round(events / span, 1),
        "latencyMs": {
            "p50": round(statistics.median(latencies), 2),
            "p90": round(percentile(latencies, 0.90), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "max": round(max(latencies), 2),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, help="creates per second (default: as fast as possible)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.events, args.rate), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
