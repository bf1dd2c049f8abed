"""The message catalog: a title and a detail template per error code, in en, ko and fr.

Every style renders error text from here, so a code reads the same in REST, GraphQL, gRPC,
SOAP and WebSocket. ``negotiate`` picks the language from an Accept-Language value.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES: tuple[str, ...] = ("en", "ko", "fr")
DEFAULT_LANGUAGE = "en"

# code -> language -> (title, detail template). Templates use str.format fields from params.
CATALOG: dict[str, dict[str, tuple[str, str]]] = {
    "MISSING_MANDATORY_PROPERTY": {
        "en": ("Missing mandatory property", "The property '{field}' is required."),
        "ko": ("필수 속성 누락", "'{field}' 속성은 필수입니다."),
        "fr": ("Propriété obligatoire manquante", "La propriété « {field} » est obligatoire."),
    },
    "INVALID_PROPERTY": {
        "en": ("Invalid property", "The property '{field}' is invalid: {reason}"),
        "ko": ("잘못된 속성", "'{field}' 속성이 올바르지 않습니다: {reason}"),
        "fr": ("Propriété invalide", "La propriété « {field} » est invalide : {reason}"),
    },
    "MALFORMED_REQUEST": {
        "en": ("Malformed request", "The request could not be read: {reason}"),
        "ko": ("잘못된 형식의 요청", "요청을 읽을 수 없습니다: {reason}"),
        "fr": ("Requête mal formée", "La requête n'a pas pu être lue : {reason}"),
    },
    "ROOM_NOT_FOUND": {
        "en": ("Room not found", "No room with id '{roomId}' exists."),
        "ko": ("회의실을 찾을 수 없음", "ID가 '{roomId}'인 회의실이 없습니다."),
        "fr": ("Salle introuvable", "Aucune salle ne porte l'identifiant « {roomId} »."),
    },
    "RESERVATION_NOT_FOUND": {
        "en": ("Reservation not found", "No reservation with id '{reservationId}' exists."),
        "ko": ("예약을 찾을 수 없음", "ID가 '{reservationId}'인 예약이 없습니다."),
        "fr": (
            "Réservation introuvable",
            "Aucune réservation ne porte l'identifiant « {reservationId} ».",
        ),
    },
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
    "RESERVATION_CONFLICT": {
        "en": (
            "Reservation conflict",
            "Room '{roomId}' is already reserved on {date} between {startTime} and {endTime}.",
        ),
        "ko": (
            "예약 충돌",
            "'{roomId}' 회의실은 {date} {startTime}–{endTime}에 이미 예약되어 있습니다.",
        ),
        "fr": (
            "Conflit de réservation",
            "La salle « {roomId} » est déjà réservée le {date} entre {startTime} et {endTime}.",
        ),
    },
    "CAPACITY_EXCEEDED": {
        "en": (
            "Capacity exceeded",
            "Room '{roomId}' holds at most {capacity} people; {attendees} were requested.",
        ),
        "ko": (
            "수용 인원 초과",
            "'{roomId}' 회의실의 최대 수용 인원은 {capacity}명인데 {attendees}명이 요청되었습니다.",
        ),
        "fr": (
            "Capacité dépassée",
            "La salle « {roomId} » accueille au plus {capacity} personnes ; {attendees} demandées.",
        ),
    },
    "INVALID_STATE_TRANSITION": {
        "en": (
            "Invalid state transition",
            "A reservation in status {status} cannot be {action}.",
        ),
        "ko": (
            "잘못된 상태 전이",
            "{status} 상태의 예약은 {action} 작업을 할 수 없습니다.",
        ),
        "fr": (
            "Transition d'état invalide",
            "Une réservation à l'état {status} ne peut pas être {action}.",
        ),
    },
    "VERSION_MISMATCH": {
        "en": (
            "Version mismatch",
            "The reservation is at version {actual}, not the expected version {expected}.",
        ),
        "ko": (
            "버전 불일치",
            "예약의 현재 버전은 {actual}이며 예상한 버전 {expected}와 다릅니다.",
        ),
        "fr": (
            "Version différente",
            "La réservation est à la version {actual}, et non à la version attendue {expected}.",
        ),
    },
    "IDEMPOTENCY_KEY_REUSED": {
        "en": (
            "Idempotency key reused",
            "The idempotency key '{key}' was already used with a different request.",
        ),
        "ko": (
            "멱등성 키 재사용",
            "멱등성 키 '{key}'는 이미 다른 요청에 사용되었습니다.",
        ),
        "fr": (
            "Clé d'idempotence réutilisée",
            "La clé d'idempotence « {key} » a déjà servi pour une autre requête.",
        ),
    },
    "UNAUTHENTICATED": {
        "en": ("Unauthenticated", "Valid credentials are required for this request: {reason}"),
        "ko": ("인증 필요", "이 요청에는 유효한 자격 증명이 필요합니다: {reason}"),
        "fr": ("Non authentifié", "Cette requête exige des identifiants valides : {reason}"),
    },
    "FORBIDDEN": {
        "en": ("Forbidden", "This request is not allowed: {reason}"),
        "ko": ("권한 없음", "이 요청은 허용되지 않습니다: {reason}"),
        "fr": ("Interdit", "Cette requête n'est pas autorisée : {reason}"),
    },
    "RATE_LIMITED": {
        "en": ("Too many requests", "Too many requests; slow down and retry later."),
        "ko": ("요청 과다", "요청이 너무 많습니다. 잠시 후 다시 시도하세요."),
        "fr": ("Trop de requêtes", "Trop de requêtes ; ralentissez et réessayez plus tard."),
    },
    "PAYLOAD_TOO_LARGE": {
        "en": ("Payload too large", "The request body exceeds the limit of {limit} bytes."),
        "ko": ("요청 본문이 너무 큼", "요청 본문이 {limit}바이트 제한을 넘었습니다."),
        "fr": ("Requête trop volumineuse", "Le corps de la requête dépasse la limite de {limit} octets."),
    },
    "UNAVAILABLE": {
        "en": ("Service unavailable", "The service cannot answer right now; retry in a moment."),
        "ko": ("서비스 사용 불가", "지금은 서비스가 응답할 수 없습니다. 잠시 후 다시 시도하세요."),
        "fr": (
            "Service indisponible",
            "Le service ne peut pas répondre pour le moment ; réessayez dans un instant.",
        ),
    },
    "INTERNAL": {
        "en": ("Internal error", "An unexpected error occurred on the server."),
        "ko": ("내부 오류", "서버에서 예기치 않은 오류가 발생했습니다."),
        "fr": ("Erreur interne", "Une erreur inattendue s'est produite sur le serveur."),
    },
}

# Localized fragments used inside templates: the reason of INVALID_PROPERTY / MALFORMED_REQUEST,
# and the action words of INVALID_STATE_TRANSITION. A fragment may hold fields of its own, filled
# from the same params as the template (e.g. ``max`` of ``too_deep``).
FRAGMENTS: dict[str, dict[str, str]] = {
    "unknown": {
        "en": "this property is not recognised.",
        "ko": "알 수 없는 속성입니다.",
        "fr": "cette propriété est inconnue.",
    },
    "type": {
        "en": "the value has the wrong type.",
        "ko": "값의 형식이 잘못되었습니다.",
        "fr": "la valeur n'a pas le bon type.",
    },
    "text": {
        "en": "the text holds a character that is not allowed (a control character, a noncharacter "
        "or an unpaired surrogate).",
        "ko": "허용되지 않는 문자(제어 문자, 비문자 또는 짝이 없는 서로게이트)가 있습니다.",
        "fr": "le texte contient un caractère interdit (caractère de contrôle, non-caractère ou "
        "demi-codet isolé).",
    },
    "date": {
        "en": "expected a date as YYYY-MM-DD.",
        "ko": "YYYY-MM-DD 형식의 날짜가 필요합니다.",
        "fr": "une date au format AAAA-MM-JJ est attendue.",
    },
    "time": {
        "en": "expected a time as HH:MM (24 h).",
        "ko": "HH:MM(24시간) 형식의 시각이 필요합니다.",
        "fr": "une heure au format HH:MM (24 h) est attendue.",
    },
    "time_order": {
        "en": "startTime must be before endTime.",
        "ko": "startTime은 endTime보다 앞서야 합니다.",
        "fr": "startTime doit précéder endTime.",
    },
    "date_order": {
        "en": "dateFrom must not be after dateTo.",
        "ko": "dateFrom은 dateTo보다 늦을 수 없습니다.",
        "fr": "dateFrom ne doit pas être postérieure à dateTo.",
    },
    "range": {
        "en": "expected a whole number from {min} to {max}.",
        "ko": "{min}에서 {max} 사이의 정수가 필요합니다.",
        "fr": "un entier entre {min} et {max} est attendu.",
    },
    "length": {
        "en": "expected {min} to {max} characters.",
        "ko": "{min}자에서 {max}자 사이여야 합니다.",
        "fr": "entre {min} et {max} caractères sont attendus.",
    },
    "enum": {
        "en": "expected one of {allowed}.",
        "ko": "{allowed} 중 하나여야 합니다.",
        "fr": "une valeur parmi {allowed} est attendue.",
    },
    "range_header": {
        "en": "the requested range lies outside the collection.",
        "ko": "요청한 범위가 컬렉션 밖에 있습니다.",
        "fr": "la plage demandée est en dehors de la collection.",
    },
    "syntax": {
        "en": "the body is not well-formed.",
        "ko": "본문 형식이 올바르지 않습니다.",
        "fr": "le corps n'est pas bien formé.",
    },
    "forbidden_construct": {
        "en": "DTDs, entities and processing instructions are not accepted.",
        "ko": "DTD, 엔티티, 처리 명령은 허용되지 않습니다.",
        "fr": "les DTD, entités et instructions de traitement ne sont pas acceptées.",
    },
    "unknown_type": {
        "en": "unknown message type.",
        "ko": "알 수 없는 메시지 유형입니다.",
        "fr": "type de message inconnu.",
    },
    "not_acceptable": {
        "en": "none of the accepted media types can be produced.",
        "ko": "요청한 미디어 타입을 제공할 수 없습니다.",
        "fr": "aucun des types de média acceptés ne peut être produit.",
    },
    # Refusals decided by HTTP itself (REST and the webhook management API).
    "no_route": {
        "en": "no resource exists at this path.",
        "ko": "이 경로에는 리소스가 없습니다.",
        "fr": "aucune ressource n'existe à ce chemin.",
    },
    "method": {
        "en": "this method is not allowed on this resource.",
        "ko": "이 리소스에는 이 메서드를 사용할 수 없습니다.",
        "fr": "cette méthode n'est pas autorisée sur cette ressource.",
    },
    "media_type": {
        "en": "the body must be sent as one of the supported media types.",
        "ko": "본문은 지원되는 미디어 타입 중 하나로 보내야 합니다.",
        "fr": "le corps doit être envoyé dans l'un des types de média pris en charge.",
    },
    "not_object": {
        "en": "the body must be a JSON object.",
        "ko": "본문은 JSON 객체여야 합니다.",
        "fr": "le corps doit être un objet JSON.",
    },
    # GraphQL's protection limits (params: max).
    "too_deep": {
        "en": "the query is nested deeper than {max} levels.",
        "ko": "쿼리 중첩이 {max}단계를 넘습니다.",
        "fr": "la requête est imbriquée sur plus de {max} niveaux.",
    },
    "too_many_aliases": {
        "en": "the query uses more than {max} aliases.",
        "ko": "쿼리에 별칭이 {max}개를 넘습니다.",
        "fr": "la requête utilise plus de {max} alias.",
    },
    "too_many_tokens": {
        "en": "the query has more than {max} tokens.",
        "ko": "쿼리의 토큰이 {max}개를 넘습니다.",
        "fr": "la requête compte plus de {max} jetons.",
    },
    "too_costly": {
        "en": "the query would cost {cost}, above the limit of {max} (each field counts 1; a list "
        "multiplies what it holds by its page size).",
        "ko": "쿼리 비용이 {cost}(으)로 한도 {max}을(를) 넘습니다(필드마다 1, 목록은 안의 비용에 "
        "페이지 크기를 곱함).",
        "fr": "la requête coûterait {cost}, au-delà de la limite de {max} (chaque champ compte 1 ; une "
        "liste multiplie ce qu'elle contient par sa taille de page).",
    },
    "too_slow": {
        "en": "the query ran longer than the limit of {max} seconds.",
        "ko": "쿼리 실행 시간이 한도 {max}초를 넘었습니다.",
        "fr": "la requête a duré plus que la limite de {max} secondes.",
    },
    # GraphQL over HTTP: operations that need another method or transport (params: operation).
    "subscription_transport": {
        "en": "subscriptions need a WebSocket (graphql-transport-ws).",
        "ko": "구독에는 WebSocket(graphql-transport-ws)이 필요합니다.",
        "fr": "les abonnements exigent un WebSocket (graphql-transport-ws).",
    },
    "operation_method": {
        "en": "{operation} operations need POST.",
        "ko": "{operation} 작업에는 POST가 필요합니다.",
        "fr": "les opérations {operation} exigent POST.",
    },
    # Browser safety and slow clients.
    "origin": {
        "en": "pages of this origin may not connect; only the server's own origin and configured ones may.",
        "ko": "이 출처의 페이지는 연결할 수 없습니다. 서버 자신의 출처와 설정된 출처만 허용됩니다.",
        "fr": "les pages de cette origine ne peuvent pas se connecter ; seules l'origine du serveur et "
        "celles configurées le peuvent.",
    },
    "soap_version": {
        "en": "only SOAP 1.1 envelopes (namespace http://schemas.xmlsoap.org/soap/envelope/) are understood.",
        "ko": "SOAP 1.1 봉투(네임스페이스 http://schemas.xmlsoap.org/soap/envelope/)만 처리합니다.",
        "fr": "seules les enveloppes SOAP 1.1 (espace de noms http://schemas.xmlsoap.org/soap/envelope/) "
        "sont comprises.",
    },
    "timeout": {
        "en": "the request was not received in time.",
        "ko": "요청을 제시간에 받지 못했습니다.",
        "fr": "la requête n'a pas été reçue à temps.",
    },
    # WebSocket handshakes (params: subprotocol).
    "subprotocol": {
        "en": "the {subprotocol} subprotocol must be offered.",
        "ko": "{subprotocol} 하위 프로토콜을 제시해야 합니다.",
        "fr": "le sous-protocole {subprotocol} doit être proposé.",
    },
    "websocket_upgrade": {
        "en": "connect with WebSocket, offering the {subprotocol} subprotocol.",
        "ko": "{subprotocol} 하위 프로토콜을 제시하여 WebSocket으로 연결하세요.",
        "fr": "connectez-vous en WebSocket en proposant le sous-protocole {subprotocol}.",
    },
    # Webhook subscriptions (params: host, address, kind).
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
        "en": "the host resolves to {address}, which is {kind} and which webhooks may not target "
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
    # Why a credential was refused (UNAUTHENTICATED) or a request not allowed (FORBIDDEN; params: scope).
    "auth_missing": {
        "en": "no credential was sent (an API key, a bearer token or a client id and secret).",
        "ko": "자격 증명이 없습니다(API 키, 베어러 토큰 또는 클라이언트 ID와 비밀).",
        "fr": "aucun identifiant n'a été envoyé (clé d'API, jeton porteur ou identifiant et secret client).",
    },
    "auth_invalid": {
        "en": "the credential is not recognised.",
        "ko": "자격 증명을 확인할 수 없습니다.",
        "fr": "l'identifiant n'est pas reconnu.",
    },
    "auth_expired": {
        "en": "the access token has expired; request a new one.",
        "ko": "액세스 토큰이 만료되었습니다. 새 토큰을 요청하세요.",
        "fr": "le jeton d'accès a expiré ; demandez-en un nouveau.",
    },
    "auth_revoked": {
        "en": "the client's access has been revoked.",
        "ko": "클라이언트의 접근 권한이 취소되었습니다.",
        "fr": "l'accès du client a été révoqué.",
    },
    "scope_missing": {
        "en": "the credential lacks the scope '{scope}'.",
        "ko": "자격 증명에 '{scope}' 범위(scope)가 없습니다.",
        "fr": "l'identifiant n'a pas la portée « {scope} ».",
    },
    "not_owner": {
        "en": "the reservation belongs to another client; only that client or an admin may change it.",
        "ko": "이 예약은 다른 클라이언트의 것입니다. 그 클라이언트나 관리자만 변경할 수 있습니다.",
        "fr": "la réservation appartient à un autre client ; "
        "seul ce client ou un administrateur peut la modifier.",
    },
    # The action words of INVALID_STATE_TRANSITION.
    "modified": {"en": "modified", "ko": "변경", "fr": "modifiée"},
    "canceled": {"en": "canceled", "ko": "취소", "fr": "annulée"},
    "checked_in": {"en": "checked in", "ko": "체크인", "fr": "enregistrée"},
}


def negotiate(accept_language: str | None) -> str:
    """Choose en, ko or fr from an Accept-Language value, honouring q-values (RFC 9110 §12.5.4)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        # Earlier tags win ties, as listed order expresses preference among equal q-values.
        if primary in LANGUAGES and q > 0 and q > best_q:
            best, best_q = primary, q - position * 1e-9
    return best


def _language(language: str | None) -> str:
    if language and language in LANGUAGES:
        return language
    return negotiate(language)


def title(code: str, language: str | None = None) -> str:
    entry = CATALOG.get(code, CATALOG["INTERNAL"])
    return entry[_language(language)][0]


def detail(code: str, language: str | None = None, params: Mapping[str, object] | None = None) -> str:
    """Render the detail message of ``code``; fragment keys in params are localized first."""
    lang = _language(language)
    entry = CATALOG.get(code, CATALOG["INTERNAL"])
    values: dict[str, object] = dict(params or {})
    for key in ("reason", "action"):
        name = values.get(key)
        if isinstance(name, str) and name in FRAGMENTS:
            values[key] = FRAGMENTS[name][lang].format_map(_Defaulting(values))
    return entry[lang][1].format_map(_Defaulting(values))


def fragment(name: str, language: str | None = None, params: Mapping[str, object] | None = None) -> str:
    """One fragment rendered on its own (e.g. a reason written to a log rather than a response)."""
    return FRAGMENTS[name][_language(language)].format_map(_Defaulting(dict(params or {})))


class _Defaulting(dict[str, object]):
    """format_map mapping that leaves unknown fields visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
