"""Settings of the GraphQL adapter (re-exported by ``services.graphql.app``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraphQLOptions:
    max_depth: int = 8
    max_tokens: int = 1000
    max_aliases: int = 15
    introspection: bool = True
    max_body_bytes: int = 262144
    # Browser pages on these origins may open subscription WebSockets; same-origin pages (GraphiQL,
    # the playground) and non-browser clients (no Origin header) are always allowed.
    allowed_origins: tuple[str, ...] = ()
    max_subscriptions_per_connection: int = 10
    graphiql: bool = True
    # Bounded operations (README "Robustness"): the cost of services.graphql.cost, computed before
    # execution, and the wall-clock limit of a query (mutations are never cut off halfway).
    max_cost: int = 20000
    max_seconds: float = 5.0
    # Operations costing at least this run on a worker loop of their own (see app.WorkerLoop).
    offload_cost: int = 1000
