"""Lab 07's checker: the learner's consumer reads events through a relay that cuts its first connection
mid-stream; it must resume with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx

from workshop.checking import Hint, LabContext, check, unique_date

EVENTS = 6


class CuttingRelay:
    """A TCP relay that closes its first connection after ``cut_after`` bytes went to the client."""

    def __init__(self, host: str, port: int, cut_after: int) -> None:
        self.target = (host, port)
        self.cut_after = cut_after
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> CuttingRelay:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        limit = self.cut_after if self.connections == 1 else None
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, budget: int | None) -> None:
            sent = 0
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await source.read(65536):
                    if budget is not None and sent + len(data) > budget:
                        sink.write(data[: max(budget - sent, 0)])
                        break
                    sink.write(data)
                    sent += len(data)
                    await sink.drain()

        tasks = [
            asyncio.ensure_future(pipe(reader, up_writer, None)),
            asyncio.ensure_future(pipe(up_reader, writer, limit)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.transport.abort()  # a cut, not a polite close: like a dropped mobile connection


async def _last_sequence(lab: LabContext) -> int:
    last = 0
    url: str | None = f"{lab.base_url}/api/v1/events?after=0"
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        while url:
            page = (await http.get(url)).json()
            if page["items"]:
                last = page["items"][-1]["sequence"]
            url = page["_links"].get("next", {}).get("href") if page["items"] else None
    return last


async def _make_events(lab: LabContext) -> list[str]:
    ids = []
    date = unique_date()
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        for hour in range(EVENTS // 2):
            made = await http.post(
                f"{lab.base_url}/api/v1/reservations",
                json={
                    "roomId": "room-c",
                    "guestName": f"Lab 07 {secrets.token_hex(3)}",
                    "date": date,
                    "startTime": f"{9 + hour:02d}:00",
                    "endTime": f"{9 + hour:02d}:30",
                    "attendees": 1,
                },
            )
            made.raise_for_status()
            body = made.json()
            ids.append(body["reservationId"])
            cancel = await http.post(body["_links"]["cancel"]["href"], json={"reason": "lab 07"})
            cancel.raise_for_status()
    return ids


@check(
    "Reads a cut stream to the end: no gap, no duplicate", "collect(server, after, count) -> list of events"
)
async def resumes(lab: LabContext) -> str:
    after = await _last_sequence(lab)
    await _make_events(lab)
    http = urlsplit(lab.base_url)
    grpc_host, _, grpc_port = (lab.grpc_target or ":0").rpartition(":")
    async with (
        CuttingRelay(http.hostname or "127.0.0.1", http.port or 80, 1800) as web,
        CuttingRelay(grpc_host or "127.0.0.1", int(grpc_port or 0), 700) as grpc_relay,
    ):
        server = {
            "http": f"http://127.0.0.1:{web.port}",
            "grpc": f"127.0.0.1:{grpc_relay.port}",
            "headers": lab.headers(),
        }
        try:
            events: list[dict[str, Any]] = await asyncio.wait_for(
                lab.load("consumer").collect(server, after, EVENTS), 30
            )
        except TimeoutError:
            raise Hint(
                f"collect() did not return {EVENTS} events within 30 s: did it stop reading after "
                "the cut, or wait for more than it asked for?"
            ) from None
        connections = web.connections + grpc_relay.connections
    sequences = [event.get("sequence") for event in events]
    expected = list(range(after + 1, after + EVENTS + 1))
    if sequences == expected and connections < 2:
        raise Hint("the stream was never cut (one connection): read it as a stream, not one page")
    if len(sequences) < len(expected):
        raise Hint(
            f"got {len(sequences)} of {EVENTS} events: the connection was cut after a few; reconnect "
            "and resume from the last sequence you saw (SSE Last-Event-ID, gRPC/WebSocket after)"
        )
    if len(set(sequences)) != len(sequences):
        raise Hint(
            f"sequences {sequences}: duplicates — you resumed from where you started, not from the "
            "last event you received"
        )
    if sequences != expected:
        raise Hint(f"sequences {sequences}, expected {expected}: a gap or the wrong start")
    return f"{EVENTS} events over {connections} connections, sequences {after + 1}–{after + EVENTS}"


CHECKS = [resumes]
