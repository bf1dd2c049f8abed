"""Lab 02, a reference answer: verify, refuse stale timestamps, deduplicate by webhook-id."""

from typing import Any

from fastapi import FastAPI, Request, Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def create_app(secret: str) -> Any:
    app = FastAPI()
    verifier = Webhook(secret)  # checks the HMAC over id.timestamp.body and a 5-minute timestamp tolerance
    processed: list[str] = []
    seen: set[str] = set()  # in production: a table with a unique key, kept longer than the retry span

    @app.post("/webhooks")
    async def receive(request: Request) -> Response:
        body = await request.body()  # the raw bytes: re-serialized JSON would not match the signature
        try:
            verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response(status_code=401)
        message_id = request.headers["webhook-id"]
        if message_id not in seen:  # a duplicate is acknowledged, or the sender retries it for a day
            seen.add(message_id)
            processed.append(message_id)
        return Response(status_code=204)

    @app.get("/processed")
    async def listing() -> list[str]:
        return processed

    return app
