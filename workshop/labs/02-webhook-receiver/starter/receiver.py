"""Lab 02: a webhook receiver. Today it believes everything it is sent — make it safe.

`create_app(secret)` must return an ASGI app with:
- POST /webhooks: a delivery (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature headers)
- GET /processed: the webhook-ids you processed, in order (a JSON list)
"""

from typing import Any

from fastapi import FastAPI, Request, Response


def create_app(secret: str) -> Any:
    app = FastAPI()
    processed: list[str] = []

    @app.post("/webhooks")
    async def receive(request: Request) -> Response:
        body = await request.body()
        # TODO: verify the signature and the timestamp; refuse what does not verify.
        # TODO: a delivery can arrive twice (the sender retries): process each webhook-id once.
        del body
        processed.append(request.headers.get("webhook-id", ""))
        return Response(status_code=204)

    @app.get("/processed")
    async def listing() -> list[str]:
        return processed

    return app
