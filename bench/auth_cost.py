"""What the gateway's checks cost per request, measured in-process (``python -m bench.auth_cost``).

Two figures, each for authentication off, an API key and a JWT access token:

- the checks alone (credentials parsed, authenticate, authorize, charge, the core's view for the
  caller), in microseconds per request;
- a REST ``GET /api/v1/reservations/{id}`` and a GraphQL ``reservation(reservationId)`` query through
  the whole ASGI app on httpx's in-process transport, in CPU milliseconds per request (client and server
  together, so the checks' share is understated rather than flattering). The three modes are measured
  in turn within each round, and each mode's cost is also given as a ratio to "off" in the same round
  (the median of those ratios), so a machine busy with other work inflates all three alike.

The token is verified once and then served from the verified-token cache, as every repeated token
is; an uncached RS256 verification is timed beside it for scale.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import jwt

from gateway.app import build_app, build_runtime, open_identity
from gateway.observability import InstrumentedApi, Metrics
from gateway.settings import Settings
from services.core.access import credentials_from_headers
from services.core.model import ReservationDraft
from services.core.service import ReservationService
from services.store import MemoryStore

MODES = ("off", "apikey", "jwt")


async def _app(mode: str, style: str = "graphql") -> tuple[Any, Any, dict[str, str]]:
    settings = Settings(db="memory://", auth=mode != "off", styles=frozenset({style}), access_log=False)
    runtime = build_runtime(settings)
    app = build_app(settings, runtime)
    await runtime.store.open()
    headers: dict[str, str] = {}
    if runtime.identity is not None:
        await open_identity(runtime)
        assert runtime.demo is not None
        if mode == "apikey":
            headers = {"x-api-key": runtime.demo.api_key}
        else:
            demo = await runtime.identity.by_api_key(runtime.demo.api_key)
            token = (await runtime.identity.issue_token(demo, None)).access_token
            headers = {"authorization": f"Bearer {token}"}
    return runtime, app, headers


async def app_cpu_ms(style: str, mode: str, requests: int) -> float:
    """CPU ms per ``getReservation`` through the whole app in ``style`` (rest or graphql)."""
    runtime, app, headers = await _app(mode, style)
    draft = ReservationDraft("room-a", "Ada", "2030-01-01", "09:00", "10:00", 2)
    reservation = await runtime.service.create_reservation(draft)
    rid = reservation.reservation_id
    query = {"query": f'{{ reservation(reservationId: "{rid}") {{ status }} }}'}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def call() -> httpx.Response:
            if style == "rest":
                return await client.get(f"/api/v1/reservations/{rid}", headers=headers)
            return await client.post("/graphql", json=query, headers=headers)

        for _ in range(200):  # warm up: caches, the verified token
            await call()
        started = time.process_time()
        for _ in range(requests):
            answer = await call()
        spent = time.process_time() - started
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    return spent / requests * 1000


async def checks_us(mode: str, requests: int) -> float:
    runtime, _, headers = await _app(mode)
    guard = runtime.guard_for("graphql")
    api = InstrumentedApi(ReservationService(MemoryStore()), "graphql", Metrics())
    started = time.perf_counter()
    for _ in range(requests):
        credentials = credentials_from_headers(
            headers.get("authorization"), headers.get("x-api-key"), "127.0.0.1"
        )
        if guard is None:
            continue
        principal = await guard.authenticate(credentials)
        guard.authorize(principal, "getReservation")
        await guard.charge(principal, "graphql", "getReservation")
        api.acting_as(principal)
    return (time.perf_counter() - started) / requests * 1e6


async def uncached_verification_us(requests: int) -> float:
    runtime, _, headers = await _app("jwt")
    assert runtime.identity is not None
    token = headers["authorization"].removeprefix("Bearer ")
    key = jwt.PyJWK.from_dict((await runtime.identity.jwks())["keys"][0]).key
    started = time.perf_counter()
    for _ in range(requests):
        jwt.decode(
            token, key, algorithms=["RS256"], audience="urn:rosetta:api", issuer=runtime.settings.issuer
        )
    return (time.perf_counter() - started) / requests * 1e6


async def main(rounds: int = 3) -> None:
    checks = {
        mode: statistics.median([await checks_us(mode, 20_000) for _ in range(rounds)]) for mode in MODES
    }
    print(
        f"gateway checks per request (us, median of {rounds}):", {m: round(v, 1) for m, v in checks.items()}
    )
    for style in ("rest", "graphql"):
        figures: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(rounds):  # the modes in turn, so each round's load weighs on all three
            for mode in MODES:
                figures[mode].append(await app_cpu_ms(style, mode, 3000))
        cpu = {mode: statistics.median(values) for mode, values in figures.items()}
        ratio = {
            mode: statistics.median(v / off for v, off in zip(figures[mode], figures["off"], strict=True))
            for mode in MODES
        }
        print(
            f"{style} getReservation CPU (ms/request, median of {rounds}):",
            {m: round(v, 3) for m, v in cpu.items()},
            "ratio to off (median of the rounds' ratios):",
            {m: round(v, 3) for m, v in ratio.items()},
        )
    print("uncached RS256 verification (us):", round(await uncached_verification_us(1000), 1))


if __name__ == "__main__":
    asyncio.run(main())
