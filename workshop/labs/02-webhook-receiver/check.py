"""Lab 02's checker: the server delivers a real webhook to the learner's receiver; then forged, stale and
replayed deliveries, signed (or not) exactly as the Standard Webhooks spec says."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from services.webhooks.signing import new_secret
from workshop.checking import Hint, LabContext, check, unique_date
from workshop.server import serve_asgi


class _Later:
    """The learner's app, created once the subscription gave us its secret (the URL is needed first)."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


async def _processed(lab: LabContext) -> list[str]:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"{lab.state['receiver']}/processed")
    if response.status_code != 200:
        raise Hint(f"GET /processed answered {response.status_code}: it should list the webhook-ids handled")
    return list(response.json())


async def _send(lab: LabContext, message_id: str, sent_at: datetime, body: str, secret: str) -> int:
    signature = Webhook(secret).sign(message_id, sent_at, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.post(f"{lab.state['receiver']}/webhooks", content=body, headers=headers)
    return response.status_code


def _event_body() -> str:
    return json.dumps(
        {"type": "reservation.created", "timestamp": datetime.now(UTC).isoformat(), "data": {"sequence": 1}}
    )


@check(
    "A genuine delivery from the server is verified and processed",
    "create_app(secret) returns an ASGI app (FastAPI/Starlette) with POST /webhooks and GET /processed.",
)
async def genuine(lab: LabContext) -> str:
    later = _Later()
    port = lab.cleanup.enter_context(serve_asgi(later))
    lab.state["receiver"] = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        response = await http.post(
            f"{lab.base_url}/api/v1/webhook-subscriptions",
            json={"url": f"http://127.0.0.1:{port}/webhooks", "description": "workshop lab 02"},
        )
        if response.status_code != 201:
            raise Hint(
                f"the server refused the subscription ({response.status_code}: "
                f"{response.json().get('detail')}) — start it with `rosetta workshop serve`, "
                "which allows loopback receivers"
            )
        created = response.json()
        subscription = created["_links"]["self"]["href"]

        async def unsubscribe() -> None:
            async with httpx.AsyncClient(headers=lab.headers(), timeout=5) as client:
                await client.delete(subscription)

        lab.cleanup.push_async_callback(unsubscribe)
        lab.state["secret"] = created["secret"]
        later.app = lab.load("receiver").create_app(created["secret"])
        made = await http.post(
            f"{lab.base_url}/api/v1/reservations",
            json={
                "roomId": "room-b",
                "guestName": f"Lab 02 {uuid.uuid4().hex[:6]}",
                "date": unique_date(),
                "startTime": "09:00",
                "endTime": "10:00",
                "attendees": 1,
            },
        )
    if made.status_code != 201:
        raise Hint(f"could not create a reservation to trigger a webhook ({made.status_code}); check again")
    for _ in range(100):
        if processed := await _processed(lab):
            lab.state["seen"] = len(processed)
            return f"the server's delivery {processed[0]} arrived and was processed"
        await asyncio.sleep(0.1)
    raise Hint(
        "the server delivered a genuine, signed webhook but /processed stayed empty: did your receiver "
        "answer 2xx and record the webhook-id? (the server retries refused deliveries)"
    )


@check(
    "A forged delivery (wrong secret) is refused", "verify the webhook-signature header before anything else."
)
async def forged(lab: LabContext) -> str:
    message_id = f"msg_forged_{uuid.uuid4().hex}"
    status = await _send(lab, message_id, datetime.now(UTC), _event_body(), new_secret())
    if status < 400 or message_id in await _processed(lab):
        raise Hint(
            f"a delivery signed with another secret got {status} and/or was processed: compute the "
            "expected signature over webhook-id, webhook-timestamp and the raw body (the standardwebhooks "
            "library does it) and answer 4xx when none matches"
        )
    return f"answered {status}"


@check("A stale delivery (correctly signed, 10 minutes old) is refused", "check webhook-timestamp.")
async def stale(lab: LabContext) -> str:
    message_id = f"msg_stale_{uuid.uuid4().hex}"
    sent = datetime.now(UTC) - timedelta(minutes=10)
    status = await _send(lab, message_id, sent, _event_body(), lab.state["secret"])
    if status < 400 or message_id in await _processed(lab):
        raise Hint(
            f"a genuine signature on a 10-minute-old timestamp got {status}: a captured delivery could be "
            "replayed forever. Refuse timestamps outside a tolerance (the spec suggests 5 minutes)"
        )
    return f"answered {status}"


@check("A replayed delivery is acknowledged but processed once", "deduplicate by the webhook-id header.")
async def replayed(lab: LabContext) -> str:
    message_id = f"msg_replay_{uuid.uuid4().hex}"
    body = _event_body()
    sent = datetime.now(UTC)
    first = await _send(lab, message_id, sent, body, lab.state["secret"])
    again = await _send(lab, message_id, sent, body, lab.state["secret"])
    processed = await _processed(lab)
    if first >= 300:
        raise Hint(f"a genuine delivery was refused ({first}): is your timestamp tolerance too tight?")
    if again >= 300:
        raise Hint(
            f"the second copy got {again}: the sender would retry it for a day. Answer 2xx to a duplicate, "
            "just do not process it again"
        )
    if processed.count(message_id) != 1:
        raise Hint(
            f"webhook-id {message_id} was processed {processed.count(message_id)} times: the sender retries "
            "whenever it misses your answer, so remember the ids you handled"
        )
    return "2xx twice, processed once"


CHECKS = [genuine, forged, stale, replayed]
