"""Quotas: the token bucket (on an injected clock), the Redis backend on the real local Redis, open
streams, and what happens when Redis cannot be reached."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio
import throttled.utils

from gateway.observability import Metrics
from gateway.quota import (
    OnRedisDown,
    QuotaConfigError,
    Quotas,
    RatePolicy,
    parse_rate_limit,
    quotas_from_settings,
    retry_seconds,
)
from gateway.settings import Settings
from services.core.access import Principal, QuotaState
from services.core.errors import RateLimited

REDIS_URL = os.environ.get("ROSETTA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

ADA = Principal(client_id="ada", scopes=frozenset({"reservations:read"}), via="api-key")
BOB = Principal(client_id="bob", scopes=frozenset({"reservations:read"}), via="jwt")


def anonymous(address: str) -> Principal:
    return Principal(client_id=None, scopes=frozenset(), address=address)


class Clock:
    """The monotonic clock the in-memory buckets read, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    # throttled-py's memory store and its GCRA read time through this one function.
    fake = Clock()
    monkeypatch.setattr(throttled.utils, "now_mono_f", fake)
    return fake


def memory_quotas(rate: str, **options: Any) -> Quotas:  # options: Quotas' own keywords
    return Quotas(parse_rate_limit(rate), **options)


async def refused_wait(
    quotas: Quotas, principal: Principal, operation: str = "getRoom", cost: int = 1
) -> float:
    with pytest.raises(RateLimited) as refused:
        await quotas.charge(principal, "rest", operation, cost)
    wait = refused.value.params["retryAfter"]
    assert isinstance(wait, float)
    return wait


def refusals(metrics: Metrics, style: str, client: str) -> float | None:
    labels = {"style": style, "code": "RATE_LIMITED", "client": client}
    return metrics.registry.get_sample_value("rosetta_access_refusals_total", labels)


# -- the setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "period", "burst", "per_second", "window"),
    [
        ("20/s burst 40", 20, 1.0, 40, 20.0, 2.0),
        ("1200/min burst 100", 1200, 60.0, 100, 20.0, 5.0),
        ("30/m", 30, 60.0, 30, 0.5, 60.0),
        ("  5 per second burst 1 ", 5, 1.0, 1, 5.0, 0.2),
    ],
)
def test_rate_limit_setting_is_parsed(
    text: str, limit: int, period: float, burst: int, per_second: float, window: float
) -> None:
    policy = parse_rate_limit(text)
    assert policy == RatePolicy(limit=limit, period_seconds=period, burst=burst, text=text.strip())
    assert policy.per_second == per_second
    assert policy.window_seconds == pytest.approx(window)


@pytest.mark.parametrize("text", ["off", "OFF", "", "none"])
def test_off_means_no_bucket(text: str) -> None:
    assert parse_rate_limit(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("fast", "not a rate limit"),
        ("20/fortnight", "unsupported unit"),
        ("20/s burst", "not a rate limit"),
        ("-3/s", "not a rate limit"),
        ("20/s burst 0", "burst must be at least 1"),
        ("20/s burst 40; 1000/h", "one rule"),
    ],
)
def test_a_bad_rate_limit_is_a_clear_start_up_error(text: str, says: str) -> None:
    with pytest.raises(QuotaConfigError, match="ROSETTA_RATE_LIMIT") as error:
        parse_rate_limit(text)
    assert says in str(error.value)


def test_bad_quota_settings_fail_at_start_up() -> None:
    with pytest.raises(QuotaConfigError, match="ROSETTA_QUOTA_ON_REDIS_DOWN"):
        quotas_from_settings(Settings(rate_limit="20/s", quota_on_redis_down="sometimes"))
    with pytest.raises(QuotaConfigError, match="ROSETTA_STREAM_LIMIT"):
        quotas_from_settings(Settings(stream_limit=-1))
    settings = Settings.from_env({"ROSETTA_RATE_LIMIT": "20/s burst 40", "ROSETTA_STREAM_LIMIT": "3"})
    quotas = quotas_from_settings(settings)
    assert (quotas.policy and quotas.policy.burst, quotas.stream_limit, quotas.backend) == (40, 3, "memory")


# -- the bucket, in memory, on the injected clock -------------------------------------------------


# Rates whose intervals are binary fractions (8/s: 0.125 s), so the frozen clock's arithmetic is exact.


async def test_a_full_bucket_lets_a_burst_through_then_refuses_with_the_exact_wait(clock: Clock) -> None:
    quotas = memory_quotas("8/s burst 5")
    states = [await quotas.charge(ADA, "rest", "getRoom") for _ in range(5)]
    assert [state.remaining for state in states if state] == [4, 3, 2, 1, 0]
    # One token comes back every 0.125 s: the next request may come in exactly 0.125 s.
    assert await refused_wait(quotas, ADA) == 0.125
    clock.advance(0.120)
    assert await refused_wait(quotas, ADA) == 0.005
    clock.advance(0.005)
    assert await quotas.charge(ADA, "grpc", "getRoom") is not None
    assert await refused_wait(quotas, ADA) == 0.125


async def test_the_bucket_refills_at_the_rate_and_never_above_the_burst(clock: Clock) -> None:
    quotas = memory_quotas("8/s burst 5")
    for _ in range(5):
        await quotas.charge(ADA, "rest", "getRoom")
    clock.advance(0.3125)  # 2.5 tokens back: two requests pass, the third waits half an interval
    assert await quotas.charge(ADA, "rest", "getRoom") is not None
    assert await quotas.charge(ADA, "rest", "getRoom") is not None
    assert await refused_wait(quotas, ADA) == 0.063  # 0.0625, rounded up to the millisecond
    clock.advance(3600)  # an idle hour fills the bucket to its size, not to 28,800
    states = [await quotas.charge(ADA, "rest", "getRoom") for _ in range(5)]
    assert states[0] == QuotaState(
        policy="default", limit=5, remaining=4, reset_seconds=0.125, window_seconds=0.625
    )
    assert states[-1] is not None and states[-1].remaining == 0
    assert states[-1].reset_seconds == 0.625  # empty: the whole window to refill
    await refused_wait(quotas, ADA)


async def test_costs_take_several_tokens_and_a_huge_cost_takes_the_whole_bucket(clock: Clock) -> None:
    quotas = memory_quotas("8/s burst 5")
    state = await quotas.charge(ADA, "graphql", "listReservations", cost=3)
    assert state is not None and state.remaining == 2
    assert await refused_wait(quotas, ADA, cost=3) == 0.125  # 2 held, 3 needed
    clock.advance(0.625)
    state = await quotas.charge(ADA, "graphql", "listReservations", cost=500)  # capped at the burst
    assert state is not None and state.remaining == 0
    assert await refused_wait(quotas, ADA, cost=500) == 0.625


async def test_each_client_and_each_anonymous_address_has_its_own_bucket(clock: Clock) -> None:
    quotas = memory_quotas("1/s burst 1")
    await quotas.charge(ADA, "rest", "getRoom")
    await refused_wait(quotas, ADA)
    assert await quotas.charge(BOB, "rest", "getRoom") is not None
    assert await quotas.charge(anonymous("10.0.0.1"), "soap", "getRoom") is not None
    await refused_wait(quotas, anonymous("10.0.0.1"))
    assert await quotas.charge(anonymous("10.0.0.2"), "soap", "getRoom") is not None


async def test_off_charges_nothing() -> None:
    quotas = memory_quotas("off")
    assert [await quotas.charge(ADA, "rest", "createReservation") for _ in range(1000)] == [None] * 1000


async def test_refusals_are_counted_by_style_code_and_client(clock: Clock) -> None:
    metrics = Metrics()
    quotas = quotas_from_settings(Settings(rate_limit="1/s burst 1"), metrics)
    await quotas.charge(ADA, "grpc", "getRoom")
    await refused_wait(quotas, ADA)
    with pytest.raises(RateLimited):
        await quotas.charge(ADA, "grpc", "getRoom")
    await quotas.charge(anonymous("10.9.8.7"), "soap", "getRoom")
    await refused_wait(quotas, anonymous("10.9.8.7"))
    assert refusals(metrics, "grpc", "ada") == 1
    assert refusals(metrics, "rest", "ada") == 1
    assert refusals(metrics, "rest", "anonymous") == 1


def test_waits_are_sent_rounded_up_to_the_millisecond() -> None:
    assert retry_seconds(0.0491) == 0.05
    assert retry_seconds(0.05) == 0.05
    assert retry_seconds(0.0) == 0.001
    assert retry_seconds(2.0000001) == 2.001


# -- open streams ---------------------------------------------------------------------------------


async def test_open_streams_are_limited_per_client_in_memory() -> None:
    quotas = memory_quotas("off", stream_limit=2)
    async with quotas.stream(ADA, "websocket"), quotas.stream(ADA, "grpc"):
        with pytest.raises(RateLimited) as refused:
            async with quotas.stream(ADA, "graphql"):
                pass
        assert refused.value.params["streams"] == 2
        async with quotas.stream(BOB, "graphql"):  # another client's slots are its own
            pass
    async with quotas.stream(ADA, "websocket"), quotas.stream(ADA, "grpc"):  # closed streams free their slots
        pass


# -- Redis ----------------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(prefix: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    yield client
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def open_quotas(rate: str, prefix: str, url: str = REDIS_URL, **options: Any) -> Quotas:
    return Quotas(parse_rate_limit(rate), redis_url=url, key_prefix=prefix, **options)


async def test_redis_buckets_are_shared_by_every_process(
    prefix: str, redis_client: redis.asyncio.Redis
) -> None:
    # Two Quotas on one Redis stand for two processes (and two styles): one client, one bucket.
    first, second = await open_quotas("1/min burst 5", prefix), await open_quotas("1/min burst 5", prefix)
    try:
        remaining = []
        for quotas, style in [(first, "rest"), (second, "grpc"), (first, "soap"), (second, "graphql")]:
            state = await quotas.charge(ADA, style, "getRoom")
            assert state is not None
            remaining.append(state.remaining)
        assert remaining == [4, 3, 2, 1]
        assert (await second.charge(ADA, "websocket", "getRoom", cost=1)) is not None
        wait = await refused_wait(first, ADA)
        assert 59 < wait <= 60  # one token a minute, by Redis's clock
        assert await second.charge(BOB, "rest", "getRoom") is not None
        assert [key async for key in redis_client.scan_iter(f"{prefix}:*")]  # the state lives in Redis
    finally:
        await first.close()
        await second.close()


async def test_redis_stream_slots_are_shared_and_a_crashed_process_frees_its_own(
    prefix: str, redis_client: redis.asyncio.Redis
) -> None:
    # Leases long enough that a loaded machine's late renewal does not lose a live slot.
    first = await open_quotas("off", prefix, stream_limit=2, lease_seconds=1.5)
    second = await open_quotas("off", prefix, stream_limit=2, lease_seconds=1.5)
    try:
        async with first.stream(ADA, "websocket"):
            async with second.stream(ADA, "grpc"):
                await asyncio.sleep(1.8)  # outlives one lease: the renewals keep both slots
                with pytest.raises(RateLimited):
                    async with first.stream(ADA, "graphql"):
                        pass
        # A process that dies holding a slot never gives it back: its lease expires instead.
        crashed = first.stream(ADA, "websocket")
        await crashed.__aenter__()
        renewals = [
            task for task in asyncio.all_tasks() if getattr(task.get_coro(), "__name__", "") == "_renew"
        ]
        for task in renewals:
            task.cancel()
        async with second.stream(ADA, "grpc"):
            with pytest.raises(RateLimited):
                async with second.stream(ADA, "soap"):
                    pass
            for _ in range(200):  # the lease (1.5 s) runs out; 10 s at most
                await asyncio.sleep(0.05)
                try:
                    async with second.stream(ADA, "soap"):
                        break
                except RateLimited:
                    continue
            else:
                pytest.fail("the crashed process's slot was never freed")
        await crashed.__aexit__(None, None, None)  # only to release this test's connection
    finally:
        await first.close()
        await second.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def unreachable() -> Iterator[str]:
    yield closed_port_url()


async def test_redis_down_fails_open_for_reads_and_closed_for_writes_by_default(
    unreachable: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    quotas = quotas_from_settings(Settings(rate_limit="1/s burst 1", redis_url=unreachable), metrics)
    try:
        for _ in range(3):  # reads pass unmetered, however many
            assert await quotas.charge(ADA, "rest", "getReservation") is None
            assert await quotas.charge(ADA, "rest", "listReservations") is None
        with pytest.raises(RateLimited) as refused:
            await quotas.charge(ADA, "grpc", "createReservation")
        retry_after = refused.value.retry_after
        assert retry_after is not None and 0 < retry_after <= 2.0
        with pytest.raises(RateLimited):
            await quotas.charge(ADA, "rest", "deleteSubscription")
        health = await quotas.health()
        assert health["status"] == "down"
        assert health["onRedisDown"] == "closed-for-writes"
        assert "writes are refused" in health["effect"]
        warnings = [r.getMessage() for r in caplog.records if r.name == "rosetta.quota"]
        assert len(warnings) == 1 and "fail closed-for-writes" in warnings[0]  # once per outage
        assert refusals(metrics, "grpc", "ada") == 1
    finally:
        await quotas.close()


@pytest.mark.parametrize(
    ("policy", "read_refused", "write_refused"),
    [(OnRedisDown.OPEN, False, False), (OnRedisDown.CLOSED, True, True)],
)
async def test_redis_down_policy_can_be_open_or_closed(
    unreachable: str, prefix: str, policy: OnRedisDown, read_refused: bool, write_refused: bool
) -> None:
    quotas = await open_quotas("1/s burst 1", prefix, url=unreachable, on_redis_down=policy)
    try:
        for operation, refused in (("getRoom", read_refused), ("cancelReservation", write_refused)):
            if refused:
                await refused_wait(quotas, ADA, operation)
            else:
                assert await quotas.charge(ADA, "rest", operation) is None
        async with quotas.stream(ADA, "websocket"):  # streams fall back to this process's count
            pass
    finally:
        await quotas.close()


async def test_health_reports_a_reachable_redis(prefix: str, redis_client: redis.asyncio.Redis) -> None:
    quotas = await open_quotas("20/s burst 40", prefix, stream_limit=4)
    try:
        assert await quotas.health() == {
            "rateLimit": "20/s burst 40",
            "streamLimit": 4,
            "backend": "redis",
            "status": "up",
            "onRedisDown": "closed-for-writes",
        }
    finally:
        await quotas.close()
