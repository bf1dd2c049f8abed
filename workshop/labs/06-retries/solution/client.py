"""Lab 06, a reference answer (REST): one idempotency key for every attempt, retries only for 5xx and
transport errors, with exponential backoff and jitter (tenacity)."""

import uuid
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

STYLE = "rest"


def _worth_retrying(error: BaseException) -> bool:
    if isinstance(error, httpx.TransportError):  # no answer at all: maybe committed, maybe not
        return True
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code >= 500


async def book(server: dict[str, Any], draft: dict[str, Any]) -> str:
    key = str(uuid.uuid4())  # chosen once: a retry is the *same* request, so the server replays its result
    headers = {**server["headers"], "Idempotency-Key": key}
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_worth_retrying),
            stop=stop_after_attempt(5),
            wait=wait_random_exponential(multiplier=0.05, max=1),
            reraise=True,
        ):
            with attempt:
                response = await http.post(f"{server['http']}/api/v1/reservations", json=draft)
                response.raise_for_status()
                return str(response.json()["reservationId"])
    raise AssertionError("unreachable: tenacity re-raises the last error")
