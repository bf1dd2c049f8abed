"""The fault injector for teaching and reliability tests: latency, dropped answers and failures on demand.

Per style and operation (``*`` matches any), a fault adds latency, fails a share of calls *before* they run
with the style's own INTERNAL error (500, gRPC INTERNAL, ``Server.INTERNAL``, a GraphQL/WebSocket INTERNAL
error) or its own UNAVAILABLE error (503 with ``Retry-After``, gRPC UNAVAILABLE with RetryInfo,
``Server.UNAVAILABLE`` with ``retryAfter``, a GraphQL/WebSocket UNAVAILABLE error with ``retryAfter``), or
drops the answer of a share of calls *after* the change committed: the client sees the same INTERNAL error
and cannot tell that its reservation exists, which is the lesson of the retries lab.
It wraps each style's view of the core, so every style fails the same way from one setting.
Only a server started with ``--workshop`` (or a test that asks for it) accepts faults; ``/workshop/faults``
shows and changes them while it runs.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from services.core.api import OPERATIONS
from services.core.errors import InternalError, Unavailable

FAULT_STYLES: tuple[str, ...] = ("rest", "graphql", "grpc", "soap", "websocket", "webhooks")
UNAVAILABLE_RETRY_SECONDS = 1.0  # the wait an injected UNAVAILABLE asks for

_METHODS = {
    "list_rooms": "listRooms",
    "get_room": "getRoom",
    "create_reservation": "createReservation",
    "get_reservation": "getReservation",
    "list_reservations": "listReservations",
    "modify_reservation": "modifyReservation",
    "cancel_reservation": "cancelReservation",
    "check_in_reservation": "checkInReservation",
    "watch_events": "watchEvents",
}


class FaultsRefused(ValueError):
    """Faults were asked for on a server that is not in workshop (or test) mode."""


@dataclass(frozen=True)
class Fault:
    """One rule. ``times``: inject at most this many times, then the rule retires (None: forever)."""

    style: str = "*"
    operation: str = "*"
    latency_ms: int = 0
    fail: float = 0.0  # share of calls failed before they run (INTERNAL)
    unavailable: float = 0.0  # share of calls refused before they run (UNAVAILABLE, retry after 1 s)
    drop: float = 0.0  # share of calls whose answer is lost after the change committed
    times: int | None = None

    def matches(self, style: str, operation: str) -> bool:
        return self.style in ("*", style) and self.operation in ("*", operation)

    @classmethod
    def from_dict(cls, raw: Any) -> Fault:
        if not isinstance(raw, dict):
            raise ValueError("each fault is an object such as {'style': 'rest', 'drop': 0.5}")
        unknown = set(raw) - {"style", "operation", "latencyMs", "fail", "unavailable", "drop", "times"}
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        style = raw.get("style", "*")
        operation = raw.get("operation", "*")
        if style != "*" and style not in FAULT_STYLES:
            raise ValueError(f"style must be * or one of {', '.join(FAULT_STYLES)}; got {style!r}")
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"operation must be * or one of {', '.join(OPERATIONS)}; got {operation!r}")
        latency = raw.get("latencyMs", 0)
        if not isinstance(latency, int) or isinstance(latency, bool) or not 0 <= latency <= 30_000:
            raise ValueError("latencyMs must be a whole number of milliseconds from 0 to 30000")
        shares = {}
        for name in ("fail", "unavailable", "drop"):
            value = raw.get(name, 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share from 0 to 1")
            shares[name] = float(value)
        times = raw.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError("times must be a positive whole number (or absent: forever)")
        return cls(style, operation, latency, shares["fail"], shares["unavailable"], shares["drop"], times)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latencyMs"] = data.pop("latency_ms")
        return data


def parse_faults(text: str) -> list[Fault]:
    """``rest.createReservation:drop=0.5,times=2;*.getRoom:latencyMs=200`` (ROSETTA_FAULTS, --fault)."""
    faults = []
    for rule in filter(None, (part.strip() for part in text.split(";"))):
        target, _, options = rule.partition(":")
        style, _, operation = target.partition(".")
        raw: dict[str, Any] = {"style": style or "*", "operation": operation or "*"}
        for option in filter(None, (part.strip() for part in options.split(","))):
            name, _, value = option.partition("=")
            try:
                raw[name] = int(value) if name in ("latencyMs", "times") else float(value)
            except ValueError:
                raise ValueError(f"fault option {option!r} needs a number") from None
        faults.append(Fault.from_dict(raw))
    return faults


class FaultInjector:
    """The rules in force and what they did, shared by every style of the process."""

    def __init__(self, faults: Iterable[Fault] = (), *, seed: int | None = None) -> None:
        self._lock = threading.Lock()  # gRPC and HTTP share one loop, but tests read from other threads
        self._random = random.Random(seed)
        self._faults: list[Fault] = []
        self._left: list[int | None] = []
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.replace(faults)

    def replace(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._faults = list(faults)
            self._left = [fault.times for fault in self._faults]
            self.calls.clear()
            self.injected.clear()

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return [fault for fault, left in zip(self._faults, self._left, strict=True) if left != 0]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": [
                    {**fault.to_dict(), "left": left}
                    for fault, left in zip(self._faults, self._left, strict=True)
                    if left != 0
                ],
                "calls": dict(self.calls),
                "injected": dict(self.injected),
            }

    def decide(self, style: str, operation: str) -> tuple[int, str | None]:
        """Latency (ms) and the fault to inject now (``fail``, ``unavailable``, ``drop`` or None)."""
        key = f"{style}.{operation}"
        with self._lock:
            self.calls[key] += 1
            latency = 0
            action: str | None = None
            for index, fault in enumerate(self._faults):
                if self._left[index] == 0 or not fault.matches(style, operation):
                    continue
                hit = None
                if fault.fail and self._random.random() < fault.fail:
                    hit = "fail"
                elif fault.unavailable and self._random.random() < fault.unavailable:
                    hit = "unavailable"
                elif fault.drop and self._random.random() < fault.drop:
                    hit = "drop"
                if fault.latency_ms or hit:
                    latency = max(latency, fault.latency_ms)
                    action = action or hit
                    left = self._left[index]
                    if left is not None:
                        self._left[index] = left - 1
            if action:
                self.injected[f"{key}.{action}"] += 1
            return latency, action

    def wrap(self, api: Any, style: str) -> Any:
        return FaultyApi(api, style, self)


class FaultyApi:
    """One style's view of the core with the injector's rules applied (other attributes pass through)."""

    def __init__(self, api: Any, style: str, injector: FaultInjector) -> None:
        self._api = api
        self._style = style
        self._injector = injector
        for method, operation in _METHODS.items():
            setattr(self, method, _faulty(getattr(api, method), style, operation, injector))

    def acting_as(self, principal: Any) -> FaultyApi:
        """A caller's view (identity) keeps the faults: the view is wrapped, not bypassed."""
        return FaultyApi(self._api.acting_as(principal), self._style, self._injector)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


def _faulty(
    call: Callable[..., Awaitable[Any]], style: str, operation: str, injector: FaultInjector
) -> Callable[..., Awaitable[Any]]:
    async def faulty(*args: Any, **kwargs: Any) -> Any:
        latency, action = injector.decide(style, operation)
        if latency:
            await asyncio.sleep(latency / 1000)
        if action == "fail":
            raise InternalError()
        if action == "unavailable":
            raise Unavailable(params={"retryAfter": UNAVAILABLE_RETRY_SECONDS})
        result = await call(*args, **kwargs)
        if action == "drop":  # committed, but the answer never reaches the client
            raise InternalError()
        return result

    faulty.__name__ = call.__name__
    return faulty


def control_body(injector: FaultInjector) -> bytes:
    return json.dumps({"enabled": True, **injector.snapshot()}).encode()
