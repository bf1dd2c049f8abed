"""``rosetta serve`` as a user runs it: a real process, a real SQLite file, signals, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import free_socket

ROSETTA = str(Path(sys.executable).with_name("rosetta"))


@contextmanager
def rosetta_serve(db: Path, *extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    http_sock, grpc_sock = free_socket(), free_socket()
    port, grpc_port = http_sock.getsockname()[1], grpc_sock.getsockname()[1]
    http_sock.close()
    grpc_sock.close()
    process = subprocess.Popen(
        [
            ROSETTA,
            "serve",
            "--port",
            str(port),
            "--grpc-port",
            str(grpc_port),
            "--db",
            f"sqlite:///{db}",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ROSETTA_LOG_LEVEL": "warning"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"rosetta serve did not start:\n{output}")
        time.sleep(0.1)
    try:
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
        if process.stdout:
            process.stdout.close()


def test_serve_prints_where_everything_is_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with rosetta_serve(tmp_path / "r.db", "--styles", "rest") as (base, process):
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        output = process.stdout.read() if process.stdout else ""
    assert f"{base}/api/v1" in output
    assert f"{base}/openapi.json" in output


def test_a_reservation_survives_a_restart_and_the_event_log_continues_without_a_gap(tmp_path: Path) -> None:
    db = tmp_path / "data" / "rosetta.db"
    body = {
        "roomId": "room-a",
        "guestName": "Ada",
        "date": "2031-03-01",
        "startTime": "09:00",
        "endTime": "10:00",
        "attendees": 2,
    }
    with rosetta_serve(db, "--styles", "rest") as (base, _):
        created = httpx.post(base + "/api/v1/reservations", json=body).json()
        rid = created["reservationId"]
        httpx.patch(base + f"/api/v1/reservations/{rid}", json={"attendees": 1}).raise_for_status()
    with rosetta_serve(db, "--styles", "rest") as (base, _):
        again = httpx.get(base + f"/api/v1/reservations/{rid}").json()
        assert (again["version"], again["attendees"]) == (2, 1)
        httpx.post(base + f"/api/v1/reservations/{rid}/check-in").raise_for_status()
        events = httpx.get(base + "/api/v1/events", params={"after": 0}).json()
    items = events["items"] if isinstance(events, dict) else events
    assert [e["sequence"] for e in items] == [1, 2, 3]
    assert [e["type"] for e in items] == [
        "reservation.created",
        "reservation.modified",
        "reservation.checked_in",
    ]
