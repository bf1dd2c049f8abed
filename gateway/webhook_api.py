"""The webhook management API at ``/api/v1/webhook-subscriptions``: FastAPI path operations.

They join the REST app (``webhook_operations`` is one of its extensions), so they appear in the
same OpenAPI document and answer exactly as REST does: the same strict query string, body
reader, HEAD/OPTIONS/405 handling and localized RFC 9457 problems (``services.rest.http``).
The rules live in ``WebhookService``; these operations only translate. It is REST (the
``services.rest`` building blocks) over the webhooks style's service, so it lives in the gateway:
no style imports another (the import-linter contract in pyproject.toml).

Size: over 500 lines, and ``webhook_operations``/``extend`` over 80: FastAPI path operations defined
in a closure over the service and its options (see below), with their wire models.
"""

# pylint: disable=too-many-lines

# No ``from __future__ import annotations``: FastAPI reads the annotations of the path
# operations defined in a closure, so they must be evaluated where the closure's names exist.

import datetime as dt
import json
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from services.core.access import Guard as AccessGuard
from services.core.api import ServerApi
from services.core.errors import DeliveryNotFound, InvalidProperty, SubscriptionNotFound
from services.core.model import format_timestamp
from services.rest import openapi, security
from services.rest.app import Extension
from services.rest.errors import VARY
from services.rest.http import JsonBody, language, strict_query
from services.rest.models import Body, EventTypeName, Links, Pagination, Wire, no_default, one_of
from services.rest.negotiation import JSON, MERGE_PATCH
from services.webhooks.model import DeliveryStatus, Subscription
from services.webhooks.options import WebhookOptions
from services.webhooks.ports import WebhookStore
from services.webhooks.service import DeliveryRecord, Page, WebhookService
from services.webhooks.ssrf import Guard, system_resolver

PREFIX = "/api/v1/webhook-subscriptions"
SUBSCRIPTION_ACTIONS = ["modify", "delete", "rotate-secret", "ping", "replay"]


# -- wire models (the document's schemas) ------------------------------------------------------------


class SubscriptionOut(Wire):
    subscription_id: str
    url: str
    event_types: list[EventTypeName]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: dt.datetime | None
    previous_secret_expires_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    actions: list[str]
    secret: str | None = Field(default=None, description="Only when created or rotated: keep it now.")
    links: Links = Field(alias="_links")


class SubscriptionCollection(Wire):
    items: list[SubscriptionOut]
    pagination: Pagination
    links: Links = Field(alias="_links")


class AttemptOut(Wire):
    attempt: int
    attempted_at: dt.datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None


class DeliveryOut(Wire):
    delivery_id: str
    webhook_id: str = Field(description="The `webhook-id` header of every attempt.")
    subscription_id: str
    event_id: str
    event_type: str
    sequence: int | None
    status: Annotated[str, one_of([s.value for s in DeliveryStatus])]
    attempt_count: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    payload: dict[str, Any]
    attempts: list[AttemptOut]
    actions: list[str]
    links: Links = Field(alias="_links")


class DeliveryCollection(Wire):
    items: list[DeliveryOut]
    pagination: Pagination
    links: Links = Field(alias="_links")


class ReplayOut(Wire):
    subscription_id: str
    since: str | None
    replayed: int
    links: Links = Field(alias="_links")


class SubscriptionCreate(Body):
    url: Annotated[str, Field(examples=["https://example.com/hooks/rosetta"])]
    event_types: list[EventTypeName] | None = None
    description: str | None = None
    secret: str | None = Field(
        default=None, description="`whsec_` + base64 (24-64 bytes); generated if absent."
    )


class SubscriptionPatch(Body):
    url: str = Field(default=None, json_schema_extra=no_default)  # type: ignore[assignment]
    event_types: list[EventTypeName] = Field(default=None, json_schema_extra=no_default)  # type: ignore[arg-type]
    description: str | None = None
    enabled: bool = Field(default=None, json_schema_extra=no_default)  # type: ignore[assignment]


CREATE_FIELDS = {"url": "url", "eventTypes": "event_types", "description": "description", "secret": "secret"}
PATCH_FIELDS = {"url": "url", "eventTypes": "event_types", "description": "description", "enabled": "enabled"}


# -- documentation --------------------------------------------------------------------------------------

openapi.add_error_examples(
    {
        "subscriptionNotFound": openapi.problem_example(
            SubscriptionNotFound(params={"subscriptionId": "whs_x"})
        ),
        "deliveryNotFound": openapi.problem_example(DeliveryNotFound(params={"deliveryId": "msg_x"})),
    },
    {
        404: (
            "Not found.",
            ("roomNotFound", "reservationNotFound", "noRoute", "subscriptionNotFound", "deliveryNotFound"),
        )
    },
)
REFUSALS = ("invalidProperty", "unknownProperty", "missingProperty", "malformed")
BODY_REFUSALS = (*REFUSALS, "payloadTooLarge", "unsupportedMediaType")
NOT_FOUND = ("subscriptionNotFound",)


def _doc(
    operation_id: str,
    summary: str,
    status: int,
    model: type[BaseModel] | None,
    description: str,
    problems: tuple[int, ...],
    *,
    only: tuple[str, ...] = REFUSALS,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": description, "headers": {"Vary": openapi.VARY_HEADER}}
    if model is not None:
        success["model"] = model
    found = openapi.operation(
        operation_id,
        summary,
        "webhooks",
        {status: success, **openapi.problems(*problems, only=only)},
        body=body,
    )
    found["status_code"] = status
    return found


def _timestamp(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


# -- the operations -------------------------------------------------------------------------------------


def webhook_operations(  # pylint: disable=function-too-long
    api: ServerApi, store: WebhookStore, options: WebhookOptions, guard: AccessGuard | None = None
) -> Extension:
    """The extension of the REST app that serves the management API over ``store``."""
    ssrf = Guard(options.allowlist, options.resolver or system_resolver)
    service = WebhookService(
        store, ssrf, api.last_event_sequence, rotation_overlap_seconds=options.rotation_overlap_seconds
    )
    base = options.base_url.rstrip("/") + PREFIX
    optional_body = JsonBody((JSON,), limit=options.max_body_bytes, required=False)
    patch_body = JsonBody((JSON, MERGE_PATCH), limit=options.max_body_bytes, required=False)

    def checks(operation: str) -> list[Any]:
        """The strict query string, then (with a guard) the caller admitted for ``operation``."""
        admit = [Depends(security.admission(guard, operation, "webhooks"))] if guard is not None else []
        return [Depends(strict_query), *admit]

    SubscriptionId = Annotated[str, Path(alias="subscriptionId", examples=["whs_3m7q2kx9d4hb6n5p"])]
    DeliveryId = Annotated[str, Path(alias="deliveryId", examples=["msg_3m7q2kx9d4hb6n5p"])]
    PageNumber = Annotated[int, Query(alias="page", ge=1, le=10**9, description="Page number.")]
    PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=100, description="Page size.")]
    Language = Annotated[str, Depends(language)]
    OptionalBody = Annotated[dict[str, Any], Depends(optional_body)]

    def answer(
        body: Any, language: str, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        all_headers = {"vary": VARY, "content-language": language, **(headers or {})}
        return Response(encoded, status, all_headers, media_type=JSON)

    def subscription(s: Subscription) -> dict[str, Any]:
        href = f"{base}/{s.subscription_id}"
        previous = [secret.expires_at for secret in s.secrets[1:] if secret.expires_at is not None]
        return {
            "subscriptionId": s.subscription_id,
            "url": s.url,
            "eventTypes": list(s.event_types),
            "description": s.description,
            "enabled": s.enabled,
            "disabledReason": s.disabled_reason.value if s.disabled_reason else None,
            "failingSince": _timestamp(s.failing_since),
            "previousSecretExpiresAt": _timestamp(max(previous)) if previous else None,
            "createdAt": _timestamp(s.created_at),
            "updatedAt": _timestamp(s.updated_at),
            "actions": SUBSCRIPTION_ACTIONS,
            "_links": {
                "self": {"href": href},
                "collection": {"href": base},
                "deliveries": {"href": f"{href}/deliveries"},
                "modify": {"href": href, "method": "PATCH"},
                "delete": {"href": href, "method": "DELETE"},
                "rotate-secret": {"href": f"{href}/rotate-secret", "method": "POST"},
                "ping": {"href": f"{href}/ping", "method": "POST"},
                "replay": {"href": f"{href}/replay{{?since}}", "method": "POST", "templated": True},
            },
        }

    def delivery(record: DeliveryRecord) -> dict[str, Any]:
        d = record.delivery
        owner = f"{base}/{d.subscription_id}"
        href = f"{owner}/deliveries/{d.delivery_id}"
        return {
            "deliveryId": d.delivery_id,
            "webhookId": d.delivery_id,
            "subscriptionId": d.subscription_id,
            "eventId": d.event_id,
            "eventType": d.event_type,
            "sequence": d.sequence,
            "status": d.status.value,
            "attemptCount": d.total_attempts,
            "nextAttemptAt": _timestamp(d.next_attempt_at) if d.status.value == "PENDING" else None,
            "createdAt": _timestamp(d.created_at),
            "updatedAt": _timestamp(d.updated_at),
            "payload": json.loads(d.payload),
            "attempts": [
                {
                    "attempt": a.number,
                    "attemptedAt": _timestamp(a.attempted_at),
                    "statusCode": a.status_code,
                    "latencyMs": a.latency_ms,
                    "error": a.error,
                    "responseExcerpt": a.response_excerpt,
                }
                for a in record.attempts
            ],
            "actions": ["replay"],
            "_links": {
                "self": {"href": href},
                "subscription": {"href": owner},
                "replay": {"href": f"{href}/replay", "method": "POST"},
            },
        }

    def collection(href: str, page: Page, items: list[Any], language: str, extra: str = "") -> Response:
        def link(number: int) -> str:
            return f"{href}?{extra}page={number}&pageSize={page.page_size}"

        last = max(page.total_pages, 1)
        links: dict[str, Any] = {"self": {"href": link(page.page)}, "first": {"href": link(1)}}
        if page.page > 1:
            links["prev"] = {"href": link(min(page.page - 1, last))}
        if page.page < last:
            links["next"] = {"href": link(page.page + 1)}
        links["last"] = {"href": link(last)}
        body = {
            "items": items,
            "pagination": {
                "page": page.page,
                "pageSize": page.page_size,
                "totalItems": page.total_items,
                "totalPages": page.total_pages,
            },
            "_links": links,
        }
        header = ", ".join(f'<{v["href"]}>; rel="{k}"' for k, v in links.items() if k != "self")
        return answer(body, language, headers={"link": header})

    def members(body: dict[str, Any], allowed: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in body.items():
            if key not in allowed:
                raise InvalidProperty(field=str(key), params={"reason": "unknown"})
            values[allowed[key]] = value
        return values

    create_body = openapi.request_body("SubscriptionCreate", {"url": "https://example.com/hooks/rosetta"})
    patch_doc = openapi.request_body("SubscriptionPatch", {"enabled": False}, (MERGE_PATCH, JSON))

    def extend(app: FastAPI) -> None:  # pylint: disable=function-too-long
        @app.get(
            PREFIX,
            dependencies=checks("listSubscriptions"),
            **_doc(
                "listSubscriptions",
                "List webhook subscriptions",
                200,
                SubscriptionCollection,
                "A page.",
                (400,),
            ),
        )
        async def list_subscriptions(
            language: Language, page: PageNumber = 1, page_size: PageSize = 20
        ) -> Response:
            found = await service.list_subscriptions(page, page_size)
            return collection(base, found, [subscription(s) for s in found.items], language)

        @app.post(
            PREFIX,
            dependencies=checks("createSubscription"),
            **_doc(
                "createSubscription",
                "Subscribe a URL to events",
                201,
                SubscriptionOut,
                "Created; the secret is shown this once.",
                (400, 413, 415),
                only=BODY_REFUSALS,
                body=create_body,
            ),
        )
        async def create_subscription(language: Language, body: OptionalBody) -> Response:
            created, secret = await service.create_subscription(**members(body, CREATE_FIELDS))
            representation = {**subscription(created), "secret": secret}
            href = representation["_links"]["self"]["href"]
            return answer(representation, language, 201, {"location": href, "cache-control": "no-store"})

        @app.get(
            PREFIX + "/{subscriptionId}",
            dependencies=checks("getSubscription"),
            **_doc(
                "getSubscription",
                "Get a subscription",
                200,
                SubscriptionOut,
                "The subscription.",
                (400, 404),
                only=(*REFUSALS, *NOT_FOUND),
            ),
        )
        async def get_subscription(subscription_id: SubscriptionId, language: Language) -> Response:
            return answer(subscription(await service.get_subscription(subscription_id)), language)

        @app.patch(
            PREFIX + "/{subscriptionId}",
            dependencies=checks("updateSubscription"),
            **_doc(
                "updateSubscription",
                "Modify a subscription (JSON merge patch)",
                200,
                SubscriptionOut,
                "The subscription.",
                (400, 404, 413, 415),
                only=(*BODY_REFUSALS, *NOT_FOUND),
                body=patch_doc,
            ),
        )
        async def modify_subscription(
            subscription_id: SubscriptionId,
            language: Language,
            body: Annotated[dict[str, Any], Depends(patch_body)],
        ) -> Response:
            changed = await service.update_subscription(subscription_id, members(body, PATCH_FIELDS))
            return answer(subscription(changed), language)

        @app.delete(
            PREFIX + "/{subscriptionId}",
            dependencies=checks("deleteSubscription"),
            **_doc(
                "deleteSubscription",
                "Delete a subscription",
                204,
                None,
                "Deleted.",
                (400, 404),
                only=(*REFUSALS, *NOT_FOUND),
            ),
        )
        async def delete_subscription(subscription_id: SubscriptionId, language: Language) -> Response:
            await service.delete_subscription(subscription_id)
            return Response(None, 204, {"vary": VARY, "content-language": language})

        @app.post(
            PREFIX + "/{subscriptionId}/rotate-secret",
            dependencies=checks("rotateSubscriptionSecret"),
            **_doc(
                "rotateSubscriptionSecret",
                "Rotate the signing secret",
                200,
                SubscriptionOut,
                "The subscription and its new secret (the old one verifies for a while).",
                (400, 404, 413, 415),
                only=(*BODY_REFUSALS, *NOT_FOUND),
            ),
        )
        async def rotate_secret(
            subscription_id: SubscriptionId, language: Language, body: OptionalBody
        ) -> Response:
            members(body, {})
            rotated, secret = await service.rotate_secret(subscription_id)
            return answer(
                {**subscription(rotated), "secret": secret}, language, headers={"cache-control": "no-store"}
            )

        @app.post(
            PREFIX + "/{subscriptionId}/ping",
            dependencies=checks("pingSubscription"),
            **_doc(
                "pingSubscription",
                "Send a test delivery",
                202,
                DeliveryOut,
                "Queued.",
                (400, 404, 413, 415),
                only=(*BODY_REFUSALS, *NOT_FOUND),
            ),
        )
        async def ping(subscription_id: SubscriptionId, language: Language, body: OptionalBody) -> Response:
            members(body, {})
            queued = delivery(DeliveryRecord(await service.ping(subscription_id), ()))
            return answer(queued, language, 202, {"location": queued["_links"]["self"]["href"]})

        @app.post(
            PREFIX + "/{subscriptionId}/replay",
            dependencies=checks("replayFailedDeliveries"),
            **_doc(
                "replayFailedDeliveries",
                "Replay the failed deliveries since a time",
                202,
                ReplayOut,
                "Queued again.",
                (400, 404, 413, 415),
                only=(*BODY_REFUSALS, *NOT_FOUND),
            ),
        )
        async def replay_failed(
            subscription_id: SubscriptionId,
            language: Language,
            body: OptionalBody,
            since: Annotated[
                str | None,
                Query(description="RFC 3339 timestamp.", json_schema_extra={"format": "date-time"}),
            ] = None,
        ) -> Response:
            members(body, {})
            count = await service.replay_failed_since(subscription_id, since)
            deliveries = f"{base}/{subscription_id}/deliveries"
            replayed = {
                "subscriptionId": subscription_id,
                "since": since,
                "replayed": count,
                "_links": {"deliveries": {"href": f"{deliveries}?status=PENDING"}},
            }
            return answer(replayed, language, 202)

        @app.get(
            PREFIX + "/{subscriptionId}/deliveries",
            dependencies=checks("listDeliveries"),
            **_doc(
                "listDeliveries",
                "List a subscription's deliveries",
                200,
                DeliveryCollection,
                "A page.",
                (400, 404),
                only=(*REFUSALS, *NOT_FOUND),
            ),
        )
        async def list_deliveries(
            subscription_id: SubscriptionId,
            language: Language,
            status: Annotated[
                str | None,
                Query(
                    description="Only deliveries in this status.",
                    json_schema_extra={"enum": [s.value for s in DeliveryStatus]},
                ),
            ] = None,
            page: PageNumber = 1,
            page_size: PageSize = 20,
        ) -> Response:
            found = await service.list_deliveries(
                subscription_id, status=status, page=page, page_size=page_size
            )
            extra = f"status={quote(status)}&" if status else ""
            href = f"{base}/{subscription_id}/deliveries"
            return collection(href, found, [delivery(r) for r in found.items], language, extra)

        @app.get(
            PREFIX + "/{subscriptionId}/deliveries/{deliveryId}",
            dependencies=checks("getDelivery"),
            **_doc(
                "getDelivery",
                "Get a delivery and its attempts",
                200,
                DeliveryOut,
                "The delivery.",
                (400, 404),
                only=(*REFUSALS, *NOT_FOUND, "deliveryNotFound"),
            ),
        )
        async def get_delivery(
            subscription_id: SubscriptionId, delivery_id: DeliveryId, language: Language
        ) -> Response:
            return answer(delivery(await service.get_delivery(subscription_id, delivery_id)), language)

        @app.post(
            PREFIX + "/{subscriptionId}/deliveries/{deliveryId}/replay",
            dependencies=checks("replayDelivery"),
            **_doc(
                "replayDelivery",
                "Deliver again",
                202,
                DeliveryOut,
                "Queued again.",
                (400, 404, 413, 415),
                only=(*BODY_REFUSALS, *NOT_FOUND, "deliveryNotFound"),
            ),
        )
        async def replay_delivery(
            subscription_id: SubscriptionId, delivery_id: DeliveryId, language: Language, body: OptionalBody
        ) -> Response:
            members(body, {})
            return answer(delivery(await service.replay(subscription_id, delivery_id)), language, 202)

    return Extension(extend, models=(SubscriptionCreate, SubscriptionPatch))
