"""Standard Webhooks signing: ``whsec_`` secrets and the three ``webhook-*`` headers."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def is_valid_secret(secret: object) -> bool:
    """``whsec_`` + base64 of 24 to 64 bytes (the range the Standard Webhooks spec recommends)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


@lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)  # decodes the key once per secret, not once per message


def signature_header(secrets: Sequence[str], message_id: str, sent_at: datetime, body: str) -> str:
    """``v1,<sig>`` per active secret, space-separated (two during a rotation)."""
    return " ".join(_signer(secret).sign(message_id, sent_at, body) for secret in secrets)


def webhook_headers(secrets: Sequence[str], message_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature_header(secrets, message_id, sent_at, body),
    }
