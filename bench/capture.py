"""Seed a server through a style's own client, verify it, and capture that client's requests.

The HTTP and WebSocket requests are recorded on the connection (a relay between the client and
the server), so the load generators replay exactly what the real ``ReservationApi`` client sends.
"""

from __future__ import annotations

import importlib
import struct
from dataclasses import dataclass
from typing import Any

from bench import auth as bench_auth
from bench.wire import CountingRelay
from bench.workload import (
    DATE_MARK,
    END_MARK,
    LIST_PAGE_SIZE,
    SEED_COUNT,
    START_MARK,
    WRITE_ROOM,
    Templates,
)
from services.core.model import Reservation, ReservationDraft, ReservationPage, ReservationQuery

CLIENTS: dict[str, tuple[str, str]] = {
    "rest": ("services.rest.client", "RestClient"),
    "graphql": ("services.graphql.client", "GraphQLClient"),
    "grpc": ("services.grpc.client", "GrpcClient"),
    "soap": ("services.soap.client", "SoapClient"),
    "websocket": ("services.websocket.client", "WebSocketClient"),
}


def client_class(style: str) -> Any | None:
    """The style's ``ReservationApi`` client class, or None while it does not exist."""
    module_name, class_name = CLIENTS[style]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, class_name, None)


def open_client(style: str, http_url: str, grpc_target: str | None) -> Any:
    cls = client_class(style)
    if cls is None:
        raise LookupError(f"no client for {style} yet ({'.'.join(CLIENTS[style])})")
    credential = bench_auth.current().client_kwargs()  # the measured server's demo client, if auth is on
    if style == "grpc":
        if grpc_target is None:
            raise LookupError("no gRPC address")
        return cls(grpc_target, language="en", **credential)
    return cls(http_url, language="en", **credential)


class CapturingRelay(CountingRelay):
    """A ``CountingRelay`` that also keeps what the client sent since the last ``take()``."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.sent = bytearray()

    def upstream(self, chunk: bytes) -> None:
        self.sent += chunk
        super().upstream(chunk)

    def take(self) -> bytes:
        data = bytes(self.sent)
        self.sent.clear()
        return data


def unmask_frames(data: bytes) -> list[bytes]:
    """The payloads of the (masked) client frames in ``data``."""
    payloads = []
    offset = 0
    while offset + 2 <= len(data):
        second = data[offset + 1]
        length = second & 0x7F
        pos = offset + 2
        if length == 126:
            length = struct.unpack_from("!H", data, pos)[0]
            pos += 2
        elif length == 127:
            length = struct.unpack_from("!Q", data, pos)[0]
            pos += 8
        key = data[pos : pos + 4] if second & 0x80 else b"\0\0\0\0"
        pos += 4 if second & 0x80 else 0
        body = bytes(b ^ key[i % 4] for i, b in enumerate(data[pos : pos + length]))
        if data[offset] & 0x0F in (1, 2):
            payloads.append(body)
        offset = pos + length
    return payloads


@dataclass
class Seeded:
    """What the benchmark knows about a seeded server, and the normalized answers it verified."""

    seed_id: str
    reservation: Reservation
    page: ReservationPage
    normalized: dict[str, Any]


# A deployment driven by --target-http keeps the seeds of earlier runs: each run then seeds in a
# year of its own (set once per run, so every style still gets the same data).
SEED_YEAR = 2029


def _draft(index: int) -> ReservationDraft:
    day = 1 + index % 28
    month = 1 + index // 28
    return ReservationDraft(
        room_id="room-b",
        guest_name=f"Guest {index:03d}",
        date=f"{SEED_YEAR}-{month:02d}-{day:02d}",
        start_time="10:00",
        end_time="11:30",
        attendees=3,
        purpose="benchmark seed",
    )


def normalize(reservation: Reservation) -> dict[str, Any]:
    """Everything but what the server assigns (id, timestamps): equal across styles."""
    data = reservation.to_dict()
    for key in ("reservationId", "createdAt", "updatedAt"):
        data.pop(key)
    return data


async def seed(api: Any) -> Seeded:
    """Seed through the client, then read back: the client must return what create returned."""
    first: Reservation | None = None
    for index in range(SEED_COUNT):
        created = await api.create_reservation(_draft(index))
        first = first or created
    assert first is not None
    fetched = await api.get_reservation(first.reservation_id)
    if fetched != first:
        raise AssertionError(f"get returned {fetched!r}, create returned {first!r}")
    page = await api.list_reservations(ReservationQuery(page=1, page_size=LIST_PAGE_SIZE))
    if len(page.items) != LIST_PAGE_SIZE:
        raise AssertionError(f"list returned {len(page.items)} items, expected {LIST_PAGE_SIZE}")
    normalized = {
        "get": normalize(fetched),
        "list": [normalize(item) for item in page.items],
        "totalItems": page.total_items,
    }
    return Seeded(first.reservation_id, first, page, normalized)


WRITE_DRAFT = ReservationDraft(
    room_id=WRITE_ROOM,
    guest_name="Bench Writer",
    date=DATE_MARK,
    start_time=START_MARK,
    end_time=END_MARK,
    attendees=2,
    purpose="benchmark write",
)


async def capture_http(style: str, host: str, port: int, seeded: Seeded) -> Templates:
    """The client's requests for get, list, create and cancel, as sent on the wire."""
    async with CapturingRelay(host, port) as relay:
        api = open_client(style, f"http://127.0.0.1:{relay.port}", None)
        async with api:
            if style == "websocket":
                await api.get_reservation(seeded.seed_id)  # connects: the handshake is recorded first
                handshake_and_frame = relay.take()
                handshake, _, _ = handshake_and_frame.partition(b"\r\n\r\n")
                handshake += b"\r\n\r\n"
            else:
                await api.get_reservation(seeded.seed_id)  # warms the client (zeep, pools)
                handshake = b""
            relay.take()
            await api.get_reservation(seeded.seed_id)
            get = relay.take()
            await api.list_reservations(ReservationQuery(page=1, page_size=LIST_PAGE_SIZE))
            listing = relay.take()
            created = await api.create_reservation(WRITE_DRAFT)
            create = relay.take()
            await api.cancel_reservation(created.reservation_id)
            cancel = relay.take()
    if style == "websocket":
        get, listing, create, cancel = (unmask_frames(raw)[0] for raw in (get, listing, create, cancel))
    templates = Templates(
        style=style,
        get=get,
        list=listing,
        create=create,
        cancel=cancel,
        cancel_id=created.reservation_id,
        seed_id=seeded.seed_id,
        handshake=handshake,
        host_header=f"127.0.0.1:{relay.port}",
    )
    return templates.retarget(host, port)


def grpc_templates(seeded: Seeded) -> Templates:
    """gRPC messages as the client builds them (the generated classes, same field values)."""
    from services.grpc.generated import reservations_pb2 as pb

    cancel_id = seeded.seed_id  # any id of the right length: replaced per request
    draft = WRITE_DRAFT
    return Templates(
        style="grpc",
        get=pb.GetReservationRequest(reservation_id=seeded.seed_id).SerializeToString(),
        list=pb.ListReservationsRequest(page=1, page_size=LIST_PAGE_SIZE).SerializeToString(),
        create=pb.CreateReservationRequest(
            room_id=draft.room_id,
            guest_name=draft.guest_name,
            date=draft.date,
            start_time=draft.start_time,
            end_time=draft.end_time,
            attendees=draft.attendees,
            purpose=draft.purpose,
        ).SerializeToString(),
        cancel=pb.CancelReservationRequest(reservation_id=cancel_id).SerializeToString(),
        cancel_id=cancel_id,
        seed_id=seeded.seed_id,
    )


async def prepare(style: str, host: str, port: int, grpc_target: str | None) -> tuple[Seeded, Templates]:
    """Seed and verify through the client, then capture the requests the generator replays."""
    api = open_client(style, f"http://{host}:{port}", grpc_target)
    async with api:
        seeded = await seed(api)
    if style == "grpc":
        assert grpc_target is not None
        return seeded, grpc_templates(seeded)
    return seeded, await capture_http(style, host, port, seeded)
