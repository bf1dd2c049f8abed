"""Quotas: one token bucket per client, shared by every style (and every process when Redis is set).

``ROSETTA_RATE_LIMIT`` (``20/s burst 40``, ``1200/min burst 100``, ``off``) sets one policy for every
client. A bucket holds ``burst`` tokens and refills at the rate; a request, call or frame costs one,
a GraphQL operation its size. The bucket is throttled-py's GCRA (the generic cell rate algorithm is
a token bucket kept as one timestamp): in memory for one process, or one atomic Lua script on Redis
(``ROSETTA_REDIS_URL``, one round trip per check, Redis's own clock, so every process agrees).

Open streams are counted separately: at most ``ROSETTA_STREAM_LIMIT`` per client at once. On Redis
each stream holds a lease that its process renews; a crashed process stops renewing and its slots
free themselves when the leases expire.

When Redis cannot be reached the gateway fails open or closed by ``ROSETTA_QUOTA_ON_REDIS_DOWN``
(default ``closed-for-writes``: reads pass unmetered, writes are refused as RATE_LIMITED), says so
in the log once per outage and in ``/healthz``, and tries Redis again after a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from throttled.asyncio import RateLimiterType, Throttled, store
from throttled.exceptions import BaseThrottledError, DataError, StoreUnavailableError
from throttled.rate_limiter import Quota
from throttled.rate_limiter.quota_parser import parse as parse_quota_dsl

from services.core.access import Principal, QuotaState
from services.core.errors import RateLimited

log = logging.getLogger("rosetta.quota")

POLICY_NAME = "default"
# Operations that change nothing: when Redis is down and the policy is closed-for-writes they pass.
# Anything not listed (every write, and any operation added later) is treated as a write.
READ_OPERATIONS: frozenset[str] = frozenset(
    {
        "listRooms",
        "getRoom",
        "getReservation",
        "listReservations",
        "watchEvents",
        "listSubscriptions",
        "getSubscription",
        "listDeliveries",
        "getDelivery",
    }
)
MEMORY_BUCKETS = 100_000  # clients (or anonymous addresses) kept in memory; the least recent go first
REDIS_TIMEOUT_SECONDS = 0.25  # a check waits no longer than this for Redis before the policy applies
REDIS_RETRY_SECONDS = 2.0  # after a failure, Redis is not asked again for this long


class QuotaConfigError(ValueError):
    """A quota setting that cannot be used; raised at start-up, never per request."""


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """One parsed ``ROSETTA_RATE_LIMIT``: ``limit`` tokens per ``period_seconds``, ``burst`` at most."""

    limit: int
    period_seconds: float
    burst: int
    text: str

    @property
    def per_second(self) -> float:
        return self.limit / self.period_seconds

    @property
    def window_seconds(self) -> float:
        """How long an empty bucket takes to fill: the window of the RateLimit-Policy header."""
        return self.burst / self.per_second

    def quota(self) -> Quota:
        return parse_quota_dsl(f"{self.limit}/{_UNIT_OF[self.period_seconds]} burst {self.burst}")[0]


_UNIT_OF = {1.0: "s", 60.0: "m", 3600.0: "h", 86400.0: "d", 604800.0: "w"}


def parse_rate_limit(text: str) -> RatePolicy | None:
    """``20/s burst 40`` -> a policy; ``off`` (or empty) -> None; anything else -> QuotaConfigError."""
    cleaned = text.strip()
    if cleaned.lower() in {"", "off", "none", "0"}:
        return None
    try:
        quotas = parse_quota_dsl(cleaned)
    except DataError as error:
        raise QuotaConfigError(
            f"ROSETTA_RATE_LIMIT={text!r} is not a rate limit: {error} "
            "Examples: '20/s burst 40', '1200/min burst 100', 'off'."
        ) from None
    if len(quotas) != 1:
        raise QuotaConfigError(
            f"ROSETTA_RATE_LIMIT={text!r} names {len(quotas)} rules; one bucket per client takes one rule "
            "such as '20/s burst 40'."
        )
    quota = quotas[0]
    if quota.burst < 1:
        raise QuotaConfigError(f"ROSETTA_RATE_LIMIT={text!r}: the burst must be at least 1.")
    return RatePolicy(
        limit=quota.rate.limit,
        period_seconds=float(quota.get_period_sec()),
        burst=quota.burst,
        text=cleaned,
    )


class OnRedisDown(StrEnum):
    OPEN = "open"  # every request passes unmetered
    CLOSED = "closed"  # every request is refused
    CLOSED_FOR_WRITES = "closed-for-writes"  # reads pass, writes are refused

    @classmethod
    def parse(cls, text: str) -> OnRedisDown:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise QuotaConfigError(
                f"ROSETTA_QUOTA_ON_REDIS_DOWN={text!r}: choose one of {choices}."
            ) from None

    def refuses(self, operation: str) -> bool:
        if self is OnRedisDown.OPEN:
            return False
        if self is OnRedisDown.CLOSED:
            return True
        return operation not in READ_OPERATIONS


Refused = Callable[[str, str, Principal], None]  # (style, code, principal): counted in /metrics


def client_label(principal: Principal) -> str:
    """The ``client`` label of a refusal: the client id, or ``anonymous`` (never an address)."""
    return principal.client_id or ("trusted" if principal.via == "trusted" else "anonymous")


# Acquire a stream slot: drop expired leases, then add this one if fewer than the limit are held.
# KEYS[1] the client's lease set; ARGV: lease id, limit, lease milliseconds. Redis's clock decides.
_ACQUIRE_LEASE = """
local now = redis.call("TIME")
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now_ms)
if redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call("ZADD", KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[3]))
return 1
"""
# Renew a lease still held (XX: a lease that expired meanwhile is not resurrected).
_RENEW_LEASE = """
local now = redis.call("TIME")
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local kept = redis.call("ZADD", KEYS[1], "XX", "CH", now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[2]))
return kept
"""


class Quotas:
    """The gateway's quota keeper: ``GatewayGuard`` delegates ``charge`` and ``stream`` here.

    ``policy`` None means no bucket (every charge returns None); ``stream_limit`` 0 means no cap on
    open streams. ``redis_url`` empty keeps every counter in this process.
    """

    def __init__(
        self,
        policy: RatePolicy | None,
        *,
        stream_limit: int = 0,
        redis_url: str = "",
        on_redis_down: OnRedisDown = OnRedisDown.CLOSED_FOR_WRITES,
        key_prefix: str = "rosetta",
        lease_seconds: float = 30.0,
        refused: Refused | None = None,
        redis_timeout: float = REDIS_TIMEOUT_SECONDS,
        redis_retry_seconds: float = REDIS_RETRY_SECONDS,
    ) -> None:
        if stream_limit < 0:
            raise QuotaConfigError(f"ROSETTA_STREAM_LIMIT={stream_limit}: use 0 (no limit) or more.")
        self.policy = policy
        self.stream_limit = stream_limit
        self.redis_url = redis_url
        self.on_redis_down = on_redis_down
        self.key_prefix = key_prefix
        self.lease_seconds = lease_seconds
        self._refused = refused
        self._redis_retry_seconds = redis_retry_seconds
        self._down_until = 0.0  # monotonic time before which Redis is not asked again
        self._down_since: float | None = None
        self._open_streams: dict[str, int] = {}  # memory backend (and Redis fallback bookkeeping)
        self._redis: Any = None
        self._throttle: Throttled | None = None
        if redis_url:
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(
                redis_url, socket_timeout=redis_timeout, socket_connect_timeout=redis_timeout
            )
            self._acquire_lease = self._redis.register_script(_ACQUIRE_LEASE)
            self._renew_lease = self._redis.register_script(_RENEW_LEASE)
            bucket_store: Any = store.RedisStore(
                server=redis_url,
                options={"SOCKET_TIMEOUT": redis_timeout, "SOCKET_CONNECT_TIMEOUT": redis_timeout},
            )
        else:
            bucket_store = store.MemoryStore(options={"MAX_SIZE": MEMORY_BUCKETS})
        if policy is not None:
            self._throttle = Throttled(
                using=RateLimiterType.GCRA.value,
                quota=policy.quota(),
                store=bucket_store,
                key_prefix=f"{key_prefix}:quota",
            )

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    @property
    def enabled(self) -> bool:
        return self.policy is not None or self.stream_limit > 0

    # -- charging ------------------------------------------------------------------------------

    async def charge(
        self, principal: Principal, style: str, operation: str, cost: int = 1
    ) -> QuotaState | None:
        """Take ``cost`` tokens from the principal's bucket, or raise RateLimited with ``retryAfter``.

        A cost above the bucket size is charged as the whole bucket: a full bucket lets it through
        once, so an expensive operation is slowed down, never made impossible.
        """
        if self._throttle is None or self.policy is None:
            return None
        cost = max(1, min(int(cost), self.policy.burst))
        if self._redis_resting():
            self._when_redis_down(principal, style, operation)
            return None
        try:
            result = await self._throttle.limit(principal.quota_key, cost=cost)
        except StoreUnavailableError:
            self._redis_failed()
            self._when_redis_down(principal, style, operation)
            return None
        except BaseThrottledError:
            log.exception("quota check failed")
            self._when_redis_down(principal, style, operation)
            return None
        self._redis_answered()
        state = result.state
        if result.limited:
            self._refuse(style, principal)
            wait = retry_seconds(state.retry_after)
            raise RateLimited(params={"retryAfter": wait, "subject": principal.quota_key})
        return QuotaState(
            policy=POLICY_NAME,
            limit=self.policy.burst,
            remaining=max(0, int(state.remaining)),
            reset_seconds=max(0.0, float(state.reset_after)),
            window_seconds=self.policy.window_seconds,
        )

    def _refuse(self, style: str, principal: Principal) -> None:
        if self._refused is not None:
            self._refused(style, RateLimited.code, principal)

    def _when_redis_down(self, principal: Principal, style: str, operation: str) -> None:
        """Redis is unreachable: refuse by the policy (RATE_LIMITED until Redis is asked again) or pass."""
        if self.on_redis_down.refuses(operation):
            self._refuse(style, principal)
            wait = max(self._down_until - time.monotonic(), 0.0) or self._redis_retry_seconds
            raise RateLimited(params={"retryAfter": retry_seconds(wait)})

    # -- Redis health --------------------------------------------------------------------------

    def _redis_resting(self) -> bool:
        return self._redis is not None and time.monotonic() < self._down_until

    def _redis_failed(self) -> None:
        now = time.monotonic()
        self._down_until = now + self._redis_retry_seconds
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "Redis at %s is unreachable: quotas fail %s until it answers again",
                _redacted(self.redis_url),
                self.on_redis_down.value,
                extra={"fields": {"quotaBackend": "redis", "onRedisDown": self.on_redis_down.value}},
            )

    def _redis_answered(self) -> None:
        if self._down_since is not None:
            log.warning(
                "Redis at %s answers again after %.1f s: quotas are enforced again",
                _redacted(self.redis_url),
                time.monotonic() - self._down_since,
            )
            self._down_since = None

    async def health(self) -> dict[str, Any]:
        """What ``/healthz`` says about quotas (Redis is pinged, within the same short timeout)."""
        report: dict[str, Any] = {
            "rateLimit": self.policy.text if self.policy else "off",
            "streamLimit": self.stream_limit or "off",
            "backend": self.backend,
        }
        if self._redis is None:
            report["status"] = "up"
            return report
        try:
            await self._redis.ping()
        except Exception:  # any failure to answer is "down"; the reason goes to the log
            log.debug("Redis ping failed", exc_info=True)
            self._redis_failed()
            report["status"] = "down"
        else:
            self._redis_answered()
            self._down_until = 0.0
            report["status"] = "up"
        report["onRedisDown"] = self.on_redis_down.value
        if report["status"] == "down":
            report["effect"] = {
                OnRedisDown.OPEN: "every request passes unmetered",
                OnRedisDown.CLOSED: "every request is refused (RATE_LIMITED)",
                OnRedisDown.CLOSED_FOR_WRITES: "reads pass unmetered, writes are refused (RATE_LIMITED)",
            }[self.on_redis_down]
        return report

    # -- open streams ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def stream(self, principal: Principal, style: str) -> AsyncIterator[None]:
        """Hold one of the principal's stream slots while the block runs (RateLimited when none is free)."""
        if self.stream_limit <= 0:
            yield
            return
        key = principal.quota_key
        if self._redis is None or self._redis_resting():
            async with self._memory_slot(principal, style, key):
                yield
            return
        lease = uuid.uuid4().hex
        lease_key = f"{self.key_prefix}:streams:{key}"
        lease_ms = int(self.lease_seconds * 1000)
        try:
            granted = await self._acquire_lease(keys=[lease_key], args=[lease, self.stream_limit, lease_ms])
        except Exception:  # Redis unreachable: counted in this process only
            self._redis_failed()
            async with self._memory_slot(principal, style, key):
                yield
            return
        self._redis_answered()
        if not granted:
            self._refuse(style, principal)
            raise RateLimited(params={"retryAfter": retry_seconds(1.0), "streams": self.stream_limit})
        renewal = asyncio.create_task(self._renew(lease_key, lease, lease_ms))
        try:
            yield
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            with contextlib.suppress(Exception):  # unreachable: the lease expires by itself
                await self._redis.zrem(lease_key, lease)

    @contextlib.asynccontextmanager
    async def _memory_slot(self, principal: Principal, style: str, key: str) -> AsyncIterator[None]:
        held = self._open_streams.get(key, 0)
        if held >= self.stream_limit:
            self._refuse(style, principal)
            raise RateLimited(params={"retryAfter": retry_seconds(1.0), "streams": self.stream_limit})
        self._open_streams[key] = held + 1
        try:
            yield
        finally:
            remaining = self._open_streams[key] - 1
            if remaining:
                self._open_streams[key] = remaining
            else:
                del self._open_streams[key]

    async def _renew(self, lease_key: str, lease: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self._renew_lease(keys=[lease_key], args=[lease, lease_ms])
            except Exception:  # a missed renewal is retried next time; the lease outlives two misses
                log.debug("stream lease renewal failed", exc_info=True)

    async def close(self) -> None:
        if self._redis is None:
            return
        await self._redis.aclose()
        # throttled-py's store builds its client over a pool of its own, which aclose() leaves open.
        backend = getattr(getattr(self._throttle, "_store", None), "_backend", None)
        client = getattr(backend, "_client", None)
        if client is not None:
            await client.aclose(close_connection_pool=True)


def retry_seconds(seconds: float) -> float:
    """A wait as sent on the wire: rounded up to the millisecond, never zero (HTTP rounds it up to 1 s)."""
    return max(math.ceil(seconds * 1000) / 1000, 0.001)


def _redacted(url: str) -> str:
    """The Redis URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{sep}{rest}"


def check_settings(settings: Any) -> None:
    """Raise QuotaConfigError (a ValueError) for a quota setting that cannot be used, naming it."""
    parse_rate_limit(settings.rate_limit)
    OnRedisDown.parse(settings.quota_on_redis_down)
    if settings.stream_limit < 0:
        raise QuotaConfigError(f"ROSETTA_STREAM_LIMIT={settings.stream_limit}: use 0 (no limit) or more.")
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise QuotaConfigError(
            f"ROSETTA_REDIS_URL={_redacted(settings.redis_url)!r}: expected redis://host:port/db "
            "(or rediss://, unix://)."
        )


def describe(settings: Any) -> str:
    """One line for the banner: what is limited, and where the counters live."""
    policy = parse_rate_limit(settings.rate_limit)
    where = f"Redis {_redacted(settings.redis_url)}" if settings.redis_url else "in memory"
    rate = f"{policy.text} per client" if policy else "off"
    streams = (
        f"{settings.stream_limit} open streams per client" if settings.stream_limit else "no stream limit"
    )
    return f"rate limit {rate}, {streams} ({where}; ROSETTA_RATE_LIMIT, ROSETTA_STREAM_LIMIT)"


def quotas_from_settings(settings: Any, metrics: Any = None) -> Quotas:
    """The Quotas a process runs with (raises QuotaConfigError on a bad setting, at start-up).

    ``metrics`` (gateway.observability.Metrics) counts every refusal by style, code and client.
    """
    check_settings(settings)
    refused: Refused | None = None
    if metrics is not None:
        counter = metrics.refusals
        refused = lambda style, code, principal: counter.labels(style, code, client_label(principal)).inc()  # noqa: E731
    return Quotas(
        parse_rate_limit(settings.rate_limit),
        stream_limit=settings.stream_limit,
        redis_url=settings.redis_url,
        on_redis_down=OnRedisDown.parse(settings.quota_on_redis_down),
        key_prefix=settings.redis_key_prefix,
        refused=refused,
    )
