"""``rosetta serve`` as a user runs it: a real process, a real SQLite file, signals, restart."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from tests.support.processes import rosetta_serve

# What these tests are about (restart, the inspector's refusal) is not identity: tests/gateway covers it.
NO_AUTH = {"ROSETTA_AUTH": "off"}


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
    with rosetta_serve(db, "--styles", "rest", env=NO_AUTH) as (base, _):
        created = httpx.post(base + "/api/v1/reservations", json=body).json()
        rid = created["reservationId"]
        httpx.patch(base + f"/api/v1/reservations/{rid}", json={"attendees": 1}).raise_for_status()
    with rosetta_serve(db, "--styles", "rest", env=NO_AUTH) as (base, _):
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


def test_the_inspector_explains_a_refused_subscription_in_one_line_and_cleans_up_after_itself(
    tmp_path: Path,
) -> None:
    import subprocess

    from tests.support.processes import ROSETTA, free_port, rosetta_process, wait_healthy

    with rosetta_serve(tmp_path / "r.db", "--styles", "rest,webhooks", env=NO_AUTH) as (base, _):
        refused = subprocess.run(
            [ROSETTA, "webhook-inspector", "--port", str(free_port()), "--subscribe", base],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode == 1
        assert "Traceback" not in refused.stderr
        assert "refused the subscription (400)" in refused.stderr and "127.0.0.1" in refused.stderr

    allow = {"ROSETTA_WEBHOOK_ALLOWLIST": "127.0.0.1", **NO_AUTH}
    with rosetta_serve(tmp_path / "r.db", "--styles", "rest,webhooks", env=allow) as (base, _):
        port = free_port()
        args = ["webhook-inspector", "--port", str(port), "--subscribe", base]
        with rosetta_process(args) as inspector:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", inspector)
            deadline = time.monotonic() + 10
            while not httpx.get(base + "/api/v1/webhook-subscriptions").json()["items"]:
                assert time.monotonic() < deadline, "the inspector did not subscribe"
                time.sleep(0.1)
        assert httpx.get(base + "/api/v1/webhook-subscriptions").json()["items"] == []
