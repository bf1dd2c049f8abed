"""The ``rosetta.v1`` WebSocket protocol: frame types, close codes and the error-frame table.

Every frame is one JSON text message ``{id, type, payload}``. A client sends request frames
(``type`` = an operation name, see ``services.websocket.app.OPERATIONS``); the server answers each
with a ``result`` or ``error`` frame carrying the same ``id``, and pushes ``event`` frames
(no ``id``) to subscriptions. ``contracts/asyncapi.yaml`` documents all of it.
"""

from __future__ import annotations

from typing import Any

import orjson
from websockets.typing import Subprotocol

from services.core.errors import ERRORS_BY_CODE, RosettaError

SUBPROTOCOL = Subprotocol("rosetta.v1")  # a str, typed for the websockets library's clients and servers
PATH = "/ws"

# Frame types the server sends.
RESULT = "result"
ERROR = "error"
EVENT = "event"
SERVER_FRAME_TYPES: tuple[str, ...] = (RESULT, ERROR, EVENT)

# The keys of a request frame; anything else is refused by name.
FRAME_KEYS: frozenset[str] = frozenset({"id", "type", "payload"})

# Error frames carry catalog codes unchanged (DESIGN §3): the WebSocket mapping table is the identity
# on the catalog. What is not a frame answer is a close code.
ERROR_CODES: tuple[str, ...] = tuple(ERRORS_BY_CODE)
CLOSE_MESSAGE_TOO_BIG = 1009  # a frame over max_frame_bytes (uvicorn closes by itself; we check too)
CLOSE_POLICY = (
    1008  # the handshake did not offer the rosetta.v1 subprotocol (when HTTP denial is unavailable)
)

RequestId = str | int | None


def _encode(frame: Any) -> str:
    """Compact JSON text (orjson: UTF-8, no spaces), several times faster than the json module."""
    return orjson.dumps(frame).decode()


decode = orjson.loads  # its errors are ValueErrors, as json's are


def result_frame(request_id: RequestId, payload: Any) -> str:
    return _encode({"id": request_id, "type": RESULT, "payload": payload})


def error_payload(error: RosettaError, language: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": error.code, "message": error.localized(language), "field": error.field}
    if error.retry_after is not None:  # RATE_LIMITED, UNAVAILABLE
        payload["retryAfter"] = error.retry_after  # seconds until a retry can succeed
    return payload


def error_frame(request_id: RequestId, error: RosettaError, language: str, **extra: Any) -> str:
    payload = error_payload(error, language)
    if extra:
        payload.update(extra)
    return _encode({"id": request_id, "type": ERROR, "payload": payload})


def event_frame(subscription_id: str, event: dict[str, Any]) -> str:
    return _encode({"type": EVENT, "payload": {"subscriptionId": subscription_id, "event": event}})


def request_frame(request_id: RequestId, type: str, payload: dict[str, Any]) -> str:
    """A request frame as a client sends it."""
    return _encode({"id": request_id, "type": type, "payload": payload})
