"""What the dispatcher and the management API are configured with (the gateway builds it from settings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from services.webhooks.model import Attempt, Delivery
    from services.webhooks.ssrf import Resolver


@dataclass(frozen=True)
class WebhookOptions:
    base_url: str = "http://127.0.0.1:8000"
    allowlist: tuple[str, ...] = ()  # hosts or CIDRs that may be targeted despite the SSRF guard
    retry_scale: float = 1.0  # multiplies the retry schedule (tests: 0.001 or less)
    request_timeout: float = 10.0
    max_concurrency: int = 16
    per_subscription_concurrency: int = 2
    disable_after_seconds: float = 5 * 24 * 3600.0
    rotation_overlap_seconds: float = 24 * 3600.0
    transport: httpx.AsyncBaseTransport | None = None  # injected outbound HTTP (tests: MockTransport)
    resolver: Resolver | None = None  # injected DNS (tests); None: the system resolver
    poll_interval: float = 1.0  # longest sleep without a wake-up (covers writers in other processes)
    batch_size: int = 100  # events read per fan-out step
    max_body_bytes: int = 256 * 1024
    response_excerpt_bytes: int = 1024
    on_attempt: Callable[[Delivery, Attempt], None] | None = None  # observer hook (metrics, tests)
