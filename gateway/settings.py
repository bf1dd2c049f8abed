"""Settings from ``ROSETTA_*`` environment variables; CLI flags override them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

STYLES: tuple[str, ...] = ("rest", "graphql", "grpc", "soap", "websocket", "webhooks")


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected on or off, not {value!r}")


def _styles(value: str) -> frozenset[str]:
    names = {part.strip() for part in value.split(",") if part.strip()}
    if names == {"all"}:
        return frozenset(STYLES)
    unknown = names - set(STYLES)
    if unknown:
        raise ValueError(f"unknown style(s): {', '.join(sorted(unknown))}; choose from {', '.join(STYLES)}")
    return frozenset(names)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int = 50051
    db: str = "sqlite:///data/rosetta.db"
    styles: frozenset[str] = field(default_factory=lambda: frozenset(STYLES))
    public_url: str = ""  # e.g. https://rosetta.example; empty: http://{host}:{port}
    log_level: str = "info"
    dispatcher: bool = True  # run the webhook dispatcher inside `serve` when webhooks are enabled
    project_dir: str = ""  # where protos/, wsdl/ and contracts/ are; empty: the source checkout
    # Behind an edge (compose), the playground reaches every style through the same origin and
    # calls gRPC here instead of this process's own port, e.g. grpc:50051.
    playground_grpc_target: str = ""
    access_log: bool = True
    bench_report: str = "bench-results/bench.html"  # `rosetta bench`'s latest report: /bench, linked from /
    # Identity and permissions (DESIGN §6a): off turns every check off, for pure protocol comparison
    auth: bool = True
    auth_issuer: str = ""  # the iss of access tokens; empty: the base URL
    auth_audience: str = "urn:rosetta:api"  # the aud access tokens carry and must carry
    auth_token_seconds: int = 900  # access token lifetime
    auth_cache_seconds: float = 1.0  # how long a client's record (and so a revocation) may be stale
    auth_demo: bool = True  # seed a `demo` client (read + write) when the store has no client
    # GraphQL protection
    graphql_max_depth: int = 8
    graphql_max_tokens: int = 1000
    graphql_max_aliases: int = 15
    graphql_introspection: bool = True
    # Limits shared by the request styles
    max_body_bytes: int = 256 * 1024
    ws_max_frame_bytes: int = 64 * 1024
    ws_rate_per_second: float = 200.0
    ws_ping_interval: float = 20.0
    grpc_max_message_bytes: int = 4 * 1024 * 1024
    # Quotas (gateway/quota.py): one bucket per client shared by every style, e.g. "20/s burst 40".
    # Off by default so protocol comparisons (bench, conformance) measure the styles, not the limiter;
    # compose and any shared deployment set it.
    rate_limit: str = "off"
    stream_limit: int = 10  # open streams per client at once; 0: no limit
    redis_url: str = ""  # e.g. redis://redis:6379/0: buckets shared by every process; empty: in memory
    quota_on_redis_down: str = "closed-for-writes"  # or "open" / "closed"
    redis_key_prefix: str = "rosetta"  # deployments (or tests) sharing one Redis keep apart by prefix
    # Outbound webhooks
    webhook_allowlist: str = ""  # comma-separated hosts/CIDRs allowed despite the SSRF guard
    webhook_retry_scale: float = 1.0  # multiplies the retry schedule (tests and workshops: 0.001)
    webhook_timeout: float = 10.0
    webhook_concurrency: int = 16
    webhook_per_subscription: int = 2
    webhook_disable_after: float = 5 * 24 * 3600.0  # failing continuously this long disables a subscription
    webhook_rotation_overlap: float = 24 * 3600.0  # old secret still signs this long after a rotation
    # Teaching: `serve --workshop` turns on the fault injector (gateway/faults.py) and /workshop/faults.
    workshop: bool = False
    faults: str = ""  # initial rules, e.g. "rest.createReservation:drop=0.5"; refused unless workshop

    @property
    def issuer(self) -> str:
        return self.auth_issuer.rstrip("/") or self.base_url

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}"

    def for_workshop(self) -> Settings:
        """What `serve --workshop` changes: faults allowed, fast webhook retries, loopback receivers."""
        allow = self.webhook_allowlist or "127.0.0.1,::1"
        return replace(self, workshop=True, webhook_retry_scale=0.001, webhook_allowlist=allow)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"ROSETTA_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw)
        return cls(**values)

    def override(self, **changes: Any) -> Settings:
        given = {
            k: (_convert(k, v) if isinstance(v, str) else v) for k, v in changes.items() if v is not None
        }
        return replace(self, **given)


def _convert(name: str, raw: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if name == "styles":
        return _styles(raw)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return _bool(raw)
    return raw
