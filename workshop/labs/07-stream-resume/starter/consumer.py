"""Lab 07: read the event stream. The connection will be cut under you — resume without gap or duplicate.

`collect(server, after, count)` returns the first `count` events after sequence `after`, in order, as dicts
with at least `sequence` and `type`. server: {"http": base URL, "grpc": target, "headers": {}}.
This starter reads REST's Server-Sent Events; gRPC WatchEvents or a WebSocket subscribe work as well.
"""

import json
from typing import Any

import httpx


async def collect(server: dict[str, Any], after: int, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    headers = {**server["headers"], "Accept": "text/event-stream"}
    url = f"{server['http']}/api/v1/events?after={after}"
    try:
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            async with http.stream("GET", url) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        events.append(json.loads(line[5:]))
                        if len(events) == count:
                            break
    except httpx.TransportError:
        pass  # TODO: the connection was cut. Now what?
    return events
