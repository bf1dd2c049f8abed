"""The SSRF guard at delivery time, over real TCP: a redirect is not followed and proxy settings from
the environment are not used, since either would send the POST to an address the guard never checked.

No name resolves to a public address here, so the endpoints are allow-listed loopback receivers
(``127.0.0.1``); the private address a redirect points at is another loopback address (``127.0.0.2``)
that the allowlist does not name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from services.store import MemoryStore
from services.store.webhooks.memory import MemoryWebhookStore
from services.webhooks.model import DeliveryStatus
from tests.support.server import free_socket, serve_app
from tests.webhooks.conftest import DEFAULTS, Harness

Scope = dict[str, Any]


class Recorder:
    """A tiny ASGI endpoint recording every request (method, target, Host) and answering ``status``."""

    def __init__(self, status: int = 204, location: str | None = None) -> None:
        self.status = status
        self.location = location
        self.requests: list[tuple[str, str, str]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        target = scope["path"] if not scope.get("raw_path") else scope["raw_path"].decode()
        self.requests.append((scope["method"], target, headers.get(b"host", b"").decode()))
        reply_headers = [(b"content-length", b"0")]
        if self.location is not None:
            reply_headers.append((b"location", self.location.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": reply_headers})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def private_sink() -> Iterator[tuple[Recorder, str]]:
    """An endpoint on 127.0.0.2, an address the allowlist does not name: it must never be reached."""
    sink = Recorder()
    with serve_app(sink, sock=free_socket("127.0.0.2")) as port:
        yield sink, f"http://127.0.0.2:{port}/internal-admin"


@pytest.fixture
async def real_http() -> AsyncIterator[Harness]:
    """A dispatcher with real outbound HTTP (no MockTransport) that may deliver to 127.0.0.1 only."""
    rig = Harness(
        MemoryStore(), MemoryWebhookStore(), dataclasses.replace(DEFAULTS, allowlist=("127.0.0.1",))
    )
    rig.options = dataclasses.replace(rig.options, transport=None)
    await rig.core_store.open()
    await rig.store.open()
    await rig.start()
    yield rig
    await rig.stop()
    await rig.store.close()
    await rig.core_store.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_a_private_address_is_not_followed(
    real_http: Harness, private_sink: tuple[Recorder, str], status: int
) -> None:
    sink, private_url = private_sink
    redirector = Recorder(status, location=private_url)
    with serve_app(redirector) as port:
        await real_http.webhooks.create_subscription(url=f"http://127.0.0.1:{port}/hooks")
        await real_http.reserve()
        await real_http.attempts.until(lambda items: len(items) >= 1)
    assert sink.requests == [], (
        f"the dispatcher followed a {status} redirect to a private address the guard never checked: "
        f"{sink.requests}"
    )
    assert [request[:2] for request in redirector.requests][:1] == [("POST", "/hooks")]
    delivery, attempt = real_http.attempts.items[0]
    assert attempt.status_code == status and not attempt.succeeded, "a redirect counted as a delivery"
    assert delivery.status is DeliveryStatus.PENDING  # retried later, at the address that was checked


async def test_proxy_settings_from_the_environment_are_not_used(
    real_http: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dispatcher made its HTTP client at start; a client made from the environment now would
    # read these too, so the fixture's dispatcher is restarted under them.
    proxy = Recorder(204)
    receiver = Recorder(204)
    with serve_app(proxy) as proxy_port, serve_app(receiver) as port:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
        await real_http.stop()
        await real_http.start()
        await real_http.webhooks.create_subscription(url=f"http://127.0.0.1:{port}/hooks")
        await real_http.reserve()
        await real_http.attempts.until(lambda items: len(items) >= 1)
    assert proxy.requests == [], (
        f"the dispatcher sent a delivery through the proxy named in the environment: {proxy.requests}"
    )
    assert [request[:2] for request in receiver.requests] == [("POST", "/hooks")]
