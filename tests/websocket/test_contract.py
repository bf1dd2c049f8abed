"""``contracts/asyncapi.yaml`` and the code describe the same protocol, and its examples are true.

The document fails this test when a request type, frame type, payload property, error code or
webhook event exists on one side only; every documented example frame, sent as is on a raw
connection to a fresh server, gets the documented answer.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from services.core.errors import RateLimited, error_from_code
from services.core.model import Event, EventType
from services.webhooks.service import event_payload
from services.websocket import protocol
from services.websocket.app import OPERATIONS
from tests.support.server import LiveServer
from tests.websocket.conftest import raw, receive

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi.yaml"
DOC: dict[str, Any] = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))

PLACEHOLDER_ID = "rsv_example00000000"
VOLATILE = {"createdAt", "updatedAt", "occurredAt", "eventId"}  # differ on every run
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
# The order the documented examples run in; together they touch every request type.
SEQUENCE = (
    "listRooms",
    "getRoom",
    "getRoom-unknown",
    "createReservation",
    "createReservation-over-capacity",
    "getReservation",
    "getReservation-unknown-property",
    "listReservations",
    "modifyReservation",
    "modifyReservation-stale",
    "cancelReservation",
    "checkInReservation-canceled",
    "watchEvents",
    "subscribe",
    "unsubscribe",
    "unknown-type",
)
DOCUMENTED_ONLY = {"slow-consumer"}  # exercised by test_events (it needs a stalled consumer)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def channel_messages(channel: str) -> dict[str, dict[str, Any]]:
    return {key: resolve(message) for key, message in DOC["channels"][channel]["messages"].items()}


@cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer``, resolving $refs against the whole document."""
    return Draft202012Validator({**DOC, "$ref": pointer})


def message_pointer(name: str) -> str:
    return f"#/components/messages/{name}/payload"


SERVER_MESSAGES = set(protocol.SERVER_FRAME_TYPES)


def test_every_request_and_frame_type_is_documented_and_nothing_else() -> None:
    messages = channel_messages("ws")
    assert {m["name"] for m in messages.values()} == set(messages)
    assert set(messages) == set(OPERATIONS) | SERVER_MESSAGES
    operations = {name for name, op in DOC["operations"].items() if op["action"] == "receive"}
    assert operations == set(OPERATIONS)


@pytest.mark.parametrize("kind", sorted(OPERATIONS))
def test_request_payload_properties_match_the_code(kind: str) -> None:
    frame = channel_messages("ws")[kind]["payload"]
    assert frame["properties"]["type"] == {"const": kind}
    payload = frame["properties"]["payload"]
    assert set(payload["properties"]) == OPERATIONS[kind].properties
    assert set(OPERATIONS[kind].required) <= set(payload.get("required", ()))
    assert payload["additionalProperties"] is False  # unknown properties are refused, as documented


def test_error_codes_are_the_catalog() -> None:
    codes = DOC["components"]["schemas"]["ErrorPayload"]["properties"]["code"]["enum"]
    assert codes == list(protocol.ERROR_CODES)


def test_webhook_events_are_the_event_types_with_standard_webhooks_headers() -> None:
    messages = channel_messages("webhooks")
    assert set(messages) == {m["name"] for m in messages.values()} == {t.value for t in EventType}
    for message in messages.values():
        headers = resolve(message["headers"])
        assert set(headers["required"]) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    for example in resolve(DOC["components"]["messages"]["webhookReservationCreated"])["examples"]:
        validator("#/components/schemas/WebhookHeaders").validate(example["headers"])
        validator("#/components/schemas/WebhookPayload").validate(example["payload"])


def test_the_documented_webhook_body_is_what_the_dispatcher_sends() -> None:
    reservation = resolve(DOC["components"]["messages"]["webhookReservationCreated"])["examples"][0][
        "payload"
    ]
    event = Event(
        "evt_1", 7, "reservation.modified", datetime(2030, 3, 1, 8, 30, tzinfo=UTC), reservation["data"]
    )
    body = json.loads(event_payload(event))
    validator("#/components/schemas/WebhookPayload").validate(body)
    assert set(body) == set(DOC["components"]["schemas"]["WebhookPayload"]["properties"])


def _examples() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(request frames, reply frames, pushed frames) by example name."""
    requests: dict[str, Any] = {}
    replies: dict[str, Any] = {}
    pushed: dict[str, Any] = {}
    for name, message in channel_messages("ws").items():
        for example in message.get("examples", ()):
            validator(message_pointer(name)).validate(example["payload"])
            if name in OPERATIONS:
                requests[example["name"]] = example["payload"]
            elif name == protocol.EVENT:
                pushed[example["name"]] = example["payload"]
            else:
                replies[example["name"]] = example["payload"]
                if "x-request" in example:
                    requests[example["name"]] = example["x-request"]
    return requests, replies, pushed


def test_every_example_validates_and_has_an_answer() -> None:
    requests, replies, pushed = _examples()
    assert set(SEQUENCE) == set(requests)
    assert set(replies) == set(requests) | DOCUMENTED_ONLY
    assert set(pushed) <= set(requests)


def test_the_documented_replies_and_pushes_are_the_frames_the_protocol_writes() -> None:
    """Without a server: each documented request (as the client writes it), result, error and event frame,
    rebuilt from its id and payload."""
    requests, replies, pushed = _examples()
    for name, request in requests.items():
        written = protocol.request_frame(request["id"], request["type"], request["payload"])
        assert json.loads(written) == request, name
    for name, reply in replies.items():
        payload = reply["payload"]
        if reply["type"] == protocol.RESULT:
            written = protocol.result_frame(reply["id"], payload)
        else:
            extra = {key: value for key, value in payload.items() if key not in {"code", "message", "field"}}
            error = error_from_code(payload["code"], payload["message"], payload["field"])
            written = protocol.error_frame(reply["id"], error, "en", **extra)
        assert json.loads(written) == reply, name
    for name, event in pushed.items():
        written = protocol.event_frame(event["payload"]["subscriptionId"], event["payload"]["event"])
        assert json.loads(written) == event, name


def test_an_error_frame_carries_the_wait_and_speaks_the_connections_language() -> None:
    frame = json.loads(protocol.error_frame("r1", RateLimited(params={"retryAfter": 2.5}), "ko"))
    validator(message_pointer(protocol.ERROR)).validate(frame)
    assert frame == {
        "id": "r1",
        "type": "error",
        "payload": {
            "code": "RATE_LIMITED",
            "message": RateLimited().localized("ko"),
            "field": None,
            "retryAfter": 2.5,
        },
    }
    assert "retryAfter" not in json.loads(protocol.error_frame(2, RateLimited(), "en"))["payload"]


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE:
                assert isinstance(item, str) and (key == "eventId" or TIMESTAMP.match(item)), (key, item)
                out[key] = "<volatile>"
            else:
                out[key] = _normalized(item)
        return out
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


async def test_the_documented_frames_get_the_documented_answers(live: LiveServer) -> None:
    """Run against this module's own fresh server, so sequences and counts are as documented."""
    requests, replies, pushed = _examples()
    real_id = PLACEHOLDER_ID

    def substitute(frame: Any) -> Any:
        return json.loads(json.dumps(frame).replace(PLACEHOLDER_ID, real_id))

    async with raw(live.ws_url) as ws:
        for name in SEQUENCE:
            await ws.send(json.dumps(substitute(requests[name])))
            answer = await receive(ws)
            validator(message_pointer(answer["type"])).validate(answer)
            if name == "createReservation":
                real_id = answer["payload"]["reservationId"]
            assert _normalized(answer) == _normalized(substitute(replies[name])), name
            if name in pushed:
                event = await receive(ws)
                validator(message_pointer(protocol.EVENT)).validate(event)
                assert _normalized(event) == _normalized(substitute(pushed[name])), name
