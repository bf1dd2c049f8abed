"""What the benchmark sends: the operation mixes and each style's request templates.

A template is the exact request a style's ``ReservationApi`` client sends (captured on the wire
for the HTTP and WebSocket styles, built from the generated messages for gRPC), so the load
generators replay what a real client would send. Create and cancel differ per request only in
fixed-length fields (a date, the start and end times, a reservation id), which are substituted
in place: lengths, and so ``Content-Length`` and protobuf framing, never change.
"""

from __future__ import annotations

import base64
import random
import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

STYLES: tuple[str, ...] = ("rest", "graphql", "grpc", "soap", "websocket")

# The mixes of the issue: name -> ((operation, weight), ...). ``write`` is create then cancel.
MIXES: dict[str, tuple[tuple[str, int], ...]] = {
    "get": (("get", 1),),
    "list": (("list", 1),),
    "write": (("write", 1),),
    "mixed": (("get", 80), ("list", 15), ("write", 5)),
}

# Placeholders written into the captured create/cancel requests, replaced per request.
DATE_MARK = "2099-12-31"
START_MARK = "06:01"
END_MARK = "06:59"
WRITE_ROOM = "room-c"
LIST_PAGE_SIZE = 20
SEED_COUNT = 30  # more than one page, so a list answers a full page of 20

RESERVATION_ID = re.compile(rb"rsv_[a-z2-7]{16}")
_FIRST_WRITE_DAY = date(2031, 1, 1)
_DAYS_AVAILABLE = (date(9999, 1, 1) - _FIRST_WRITE_DAY).days
_HOURS = 12  # 08:00 .. 19:00 starts
SLOTS_PER_RUN = 2_000_000


@dataclass
class Templates:
    """One style's requests, as bytes: HTTP requests, WebSocket text payloads, or protobuf messages."""

    style: str
    get: bytes
    list: bytes
    create: bytes
    cancel: bytes
    cancel_id: str  # the reservation id written into ``cancel`` (replaced by the created one)
    seed_id: str  # the pre-seeded reservation ``get`` reads
    handshake: bytes = b""  # WebSocket: the upgrade request
    host_header: str = ""  # HTTP: the Host value written into the templates
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("get", "list", "create", "cancel", "handshake"):
            data[key] = base64.b64encode(data[key]).decode()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Templates:
        values = dict(data)
        for key in ("get", "list", "create", "cancel", "handshake"):
            values[key] = base64.b64decode(values[key])
        return cls(**values)

    def retarget(self, host: str, port: int) -> Templates:
        """The same requests with ``Host`` rewritten for another server (a floor, or the real port)."""
        if not self.host_header:
            return self
        old = f"\r\nhost: {self.host_header}\r\n".encode()
        new = f"\r\nhost: {host}:{port}\r\n".encode()

        def fix(raw: bytes) -> bytes:
            return _replace_header(raw, old, new)

        return Templates(
            self.style,
            fix(self.get),
            fix(self.list),
            fix(self.create),
            fix(self.cancel),
            self.cancel_id,
            self.seed_id,
            fix(self.handshake),
            f"{host}:{port}",
            dict(self.extra),
        )


def _replace_header(raw: bytes, old: bytes, new: bytes) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lowered = head.lower() + b"\r\n"
    index = lowered.find(old)
    if index < 0:
        return raw
    return head[:index] + new[:-2] + head[index + len(old) - 2 :] + sep + body


def slot(run: int, connection: int, connections: int, iteration: int) -> tuple[bytes, bytes, bytes]:
    """A fresh (date, start, end) for the ``iteration``-th create of one connection: never reused."""
    n = run * SLOTS_PER_RUN + iteration * connections + connection
    day, hour = divmod(n, _HOURS)
    day %= _DAYS_AVAILABLE
    when = _FIRST_WRITE_DAY + timedelta(days=day)
    start = 8 + hour
    return when.isoformat().encode(), f"{start:02d}:00".encode(), f"{start:02d}:45".encode()


def fill_create(template: bytes, slot_values: tuple[bytes, bytes, bytes]) -> bytes:
    day, start, end = slot_values
    return (
        template.replace(DATE_MARK.encode(), day)
        .replace(START_MARK.encode(), start)
        .replace(END_MARK.encode(), end)
    )


def operation_sequence(mix: str, seed: int) -> random.Random:
    """A deterministic chooser per connection, so every style performs the same sequence."""
    return random.Random(seed)


def choose(mix: str, rng: random.Random) -> str:
    weights = MIXES[mix]
    if len(weights) == 1:
        return weights[0][0]
    total = sum(w for _, w in weights)
    pick = rng.random() * total
    for name, weight in weights:
        pick -= weight
        if pick < 0:
            return name
    return weights[-1][0]
