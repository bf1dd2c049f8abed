"""Webhook secrets as the Standard Webhooks spec describes them: ``whsec_`` + base64 of 24-64 random bytes."""

from __future__ import annotations

import base64

import pytest

from services.webhooks.signing import is_valid_secret, new_secret


def test_a_new_secret_is_whsec_and_32_fresh_random_bytes() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20, "new secrets repeat"
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        assert is_valid_secret(secret)


@pytest.mark.parametrize(
    ("secret", "valid"),
    [
        ("whsec_" + base64.b64encode(b"k" * 24).decode(), True),
        ("whsec_" + base64.b64encode(b"k" * 64).decode(), True),
        ("whsec_" + base64.b64encode(b"k" * 23).decode(), False),  # too short to be a key
        ("whsec_" + base64.b64encode(b"k" * 65).decode(), False),
        (base64.b64encode(b"k" * 32).decode(), False),  # no prefix
        ("whsec_not base64!", False),
        ("whsec_", False),
        (None, False),
        (32, False),
    ],
)
def test_only_whsec_secrets_of_24_to_64_bytes_are_valid(secret: object, valid: bool) -> None:
    assert is_valid_secret(secret) is valid
