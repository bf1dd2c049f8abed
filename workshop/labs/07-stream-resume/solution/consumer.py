"""Lab 07, a reference answer: SSE (httpx-sse), resumed with Last-Event-ID after every cut."""

from typing import Any

import httpx
from httpx_sse import aconnect_sse


async def collect(server: dict[str, Any], after: int, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    last = after
    async with httpx.AsyncClient(headers=server["headers"], timeout=10) as http:
        for _attempt in range(10):
            # The server resumes after Last-Event-ID: the last sequence *received*, not the one we began at.
            headers = {"Last-Event-ID": str(last)}
            try:
                async with aconnect_sse(
                    http, "GET", f"{server['http']}/api/v1/events", headers=headers
                ) as source:
                    async for sse in source.aiter_sse():
                        if not sse.data:  # the opening `retry:` advice and keep-alives carry no event
                            continue
                        event = sse.json()
                        events.append(event)
                        last = event["sequence"]
                        if len(events) == count:
                            return events
            except httpx.TransportError:
                continue  # cut: reconnect from `last`
    raise RuntimeError(f"gave up after 10 connections with {len(events)} of {count} events")
