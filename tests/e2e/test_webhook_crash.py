"""Webhooks never lose an event: receiver down, 200 changes, SIGKILL, restart, receiver up."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

from services.webhooks.inspector import create_inspector_app
from tests.support.processes import free_port, rosetta_serve
from tests.support.server import serve_app

# Identity is not the subject here (tests/gateway and the topology test cover it): calls carry no credential.
FAST_RETRIES = {
    "ROSETTA_AUTH": "off",
    "ROSETTA_WEBHOOK_ALLOWLIST": "127.0.0.1",
    "ROSETTA_WEBHOOK_RETRY_SCALE": "0.001",  # 5 s, 5 min, 30 min … become 5 ms, 0.3 s, 1.8 s …
    "ROSETTA_WEBHOOK_TIMEOUT": "1",  # an attempt cut short by the kill is retried after its lease
}


def test_every_event_is_delivered_after_a_sigkill_while_the_receiver_was_down(tmp_path: Path) -> None:
    db = tmp_path / "rosetta.db"
    receiver_port = free_port()  # nothing listens here yet: every delivery fails
    styles = ("--styles", "rest,webhooks")

    with rosetta_serve(db, *styles, env=FAST_RETRIES) as (base, process):
        subscription = httpx.post(
            base + "/api/v1/webhook-subscriptions",
            json={"url": f"http://127.0.0.1:{receiver_port}/hooks", "description": "crash test"},
        )
        assert subscription.status_code == 201, subscription.text
        secret = subscription.json()["secret"]
        with httpx.Client(base_url=base) as http:
            for n in range(200):
                body = {
                    "roomId": ("room-a", "room-b", "room-c", "room-d")[n % 4],
                    "guestName": f"guest {n}",
                    "date": f"2033-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}",
                    "startTime": f"{8 + n % 9:02d}:00",
                    "endTime": f"{9 + n % 9:02d}:00",
                    "attendees": 1,
                }
                assert http.post("/api/v1/reservations", json=body).status_code == 201
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    inspector = create_inspector_app([secret])
    with rosetta_serve(db, *styles, env=FAST_RETRIES), serve_app(inspector, port=receiver_port):
        with httpx.Client(base_url=f"http://127.0.0.1:{receiver_port}", timeout=70) as http:
            received = http.get("/received", params={"count": 200, "timeout": 60}).json()

    events = [json.loads(entry["body"]) for entry in received]
    sequences = {event["sequence"] for event in events if event["type"] == "reservation.created"}
    assert sequences == set(range(1, 201)), f"missing: {sorted(set(range(1, 201)) - sequences)[:10]}"
    ids_by_sequence: dict[int, set[str]] = {}
    for entry, event in zip(received, events, strict=True):
        assert entry["verified"] is True
        headers = {
            k: entry[v]
            for k, v in [
                ("webhook-id", "webhookId"),
                ("webhook-timestamp", "webhookTimestamp"),
                ("webhook-signature", "webhookSignature"),
            ]
        }
        Webhook(secret).verify(entry["body"], headers)  # a peer implementation agrees
        ids_by_sequence.setdefault(event["sequence"], set()).add(entry["webhookId"])
    # A redelivery (at-least-once) carries the same webhook-id, so receivers can de-duplicate.
    assert all(len(ids) == 1 for ids in ids_by_sequence.values())
