"""Errors of the webhook management API that the core catalog does not (yet) hold.

``SUBSCRIPTION_NOT_FOUND`` and ``DELIVERY_NOT_FOUND`` are defined here with their en/ko/fr
text until the lead adds them to services/core/messages.py and errors.py; ``WebhookPropertyError``
is the core's INVALID_PROPERTY with reasons specific to webhooks, localized from this module.
"""

from __future__ import annotations

from typing import Any

from services.core import messages
from services.core.errors import InvalidProperty, NotFound

CATALOG: dict[str, dict[str, tuple[str, str]]] = {
    "SUBSCRIPTION_NOT_FOUND": {
        "en": ("Subscription not found", "No webhook subscription with id '{subscriptionId}' exists."),
        "ko": ("구독을 찾을 수 없음", "ID가 '{subscriptionId}'인 웹훅 구독이 없습니다."),
        "fr": (
            "Abonnement introuvable",
            "Aucun abonnement webhook ne porte l'identifiant « {subscriptionId} ».",
        ),
    },
    "DELIVERY_NOT_FOUND": {
        "en": ("Delivery not found", "No delivery with id '{deliveryId}' exists for this subscription."),
        "ko": ("전송 기록을 찾을 수 없음", "이 구독에는 ID가 '{deliveryId}'인 전송 기록이 없습니다."),
        "fr": (
            "Envoi introuvable",
            "Aucun envoi ne porte l'identifiant « {deliveryId} » pour cet abonnement.",
        ),
    },
}

REASONS: dict[str, dict[str, str]] = {
    "url": {
        "en": "expected an absolute http or https URL.",
        "ko": "절대 http 또는 https URL이 필요합니다.",
        "fr": "une URL absolue http ou https est attendue.",
    },
    "unresolvable": {
        "en": "the host '{host}' could not be resolved.",
        "ko": "호스트 '{host}'의 주소를 확인할 수 없습니다.",
        "fr": "l'hôte « {host} » n'a pas pu être résolu.",
    },
    "address_refused": {
        "en": "the host resolves to {address}, a {kind} address, which webhooks may not target "
        "unless the server's allowlist names it.",
        "ko": "호스트가 {kind} 주소 {address}(으)로 확인되며, "
        "서버 허용 목록에 없으면 웹훅 대상이 될 수 없습니다.",
        "fr": "l'hôte se résout en {address}, une adresse {kind}, interdite aux webhooks "
        "sauf si la liste d'autorisation du serveur la nomme.",
    },
    "secret": {
        "en": "expected 'whsec_' followed by 24 to 64 base64-encoded bytes.",
        "ko": "'whsec_' 뒤에 base64로 인코딩된 24~64바이트가 필요합니다.",
        "fr": "« whsec_ » suivi de 24 à 64 octets encodés en base64 est attendu.",
    },
    "timestamp": {
        "en": "expected an RFC 3339 timestamp, e.g. 2026-01-31T09:00:00Z.",
        "ko": "RFC 3339 타임스탬프가 필요합니다(예: 2026-01-31T09:00:00Z).",
        "fr": "un horodatage RFC 3339 est attendu, par ex. 2026-01-31T09:00:00Z.",
    },
    "empty": {
        "en": "at least one value is required.",
        "ko": "값이 하나 이상 필요합니다.",
        "fr": "au moins une valeur est requise.",
    },
}


class _Format(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _language(language: str | None) -> str:
    return (
        language if language is not None and language in messages.LANGUAGES else messages.negotiate(language)
    )


class _LocalNotFound(NotFound):
    """A NotFound whose text lives in this module's ``CATALOG``."""

    def localized(self, language: str | None = None) -> str:
        if self._message is not None:
            return self._message
        return CATALOG[self.code][_language(language)][1].format_map(_Format(self.params))

    def title(self, language: str | None = None) -> str:
        return CATALOG[self.code][_language(language)][0]


class SubscriptionNotFound(_LocalNotFound):
    code = "SUBSCRIPTION_NOT_FOUND"


class DeliveryNotFound(_LocalNotFound):
    code = "DELIVERY_NOT_FOUND"


class WebhookPropertyError(InvalidProperty):
    """INVALID_PROPERTY whose reason comes from ``REASONS`` (core reasons still work as usual)."""

    def __init__(self, field: str, reason: str, **params: Any) -> None:
        super().__init__(field=field, params={"reason": reason, **params})

    def localized(self, language: str | None = None) -> str:
        reason = self.params.get("reason")
        if not isinstance(reason, str) or reason not in REASONS:
            return super().localized(language)
        lang = _language(language)
        text = REASONS[reason][lang].format_map(_Format(self.params))
        return messages.detail(self.code, lang, {**self.params, "reason": text})


# RFC 9457 status of each code this API can answer with (DESIGN §3 plus the two local codes).
HTTP_STATUS: dict[str, int] = {
    "MISSING_MANDATORY_PROPERTY": 400,
    "INVALID_PROPERTY": 400,
    "MALFORMED_REQUEST": 400,
    "PAYLOAD_TOO_LARGE": 413,
    "SUBSCRIPTION_NOT_FOUND": 404,
    "DELIVERY_NOT_FOUND": 404,
    "ROOM_NOT_FOUND": 404,
    "RESERVATION_NOT_FOUND": 404,
    "RESERVATION_CONFLICT": 409,
    "INVALID_STATE_TRANSITION": 409,
    "VERSION_MISMATCH": 412,
    "CAPACITY_EXCEEDED": 422,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "UNAUTHENTICATED": 401,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
}
