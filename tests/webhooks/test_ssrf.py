"""The SSRF guard on its own: which addresses are refused, and what the allowlist lets through."""

from __future__ import annotations

import pytest

from services.webhooks.ssrf import Guard, TargetRefused, system_resolver


async def resolve_to(address: str) -> Guard:
    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    return Guard((), resolver)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
async def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    guard = await resolve_to(address)
    with pytest.raises(TargetRefused) as refused:
        await guard.check("https://hooks.example.com/x")
    assert refused.value.reason == "address_refused"
    assert refused.value.params == {"address": address.removeprefix("::ffff:"), "kind": kind}


@pytest.mark.parametrize(
    ("address", "kind"),
    [("2002:7f00:1::1", "loopback"), ("2002:a00:1::1", "private"), ("2002:a9fe:a9fe::", "link-local")],
)
async def test_a_6to4_address_is_judged_by_the_ipv4_address_it_carries(address: str, kind: str) -> None:
    guard = await resolve_to(address)
    with pytest.raises(TargetRefused) as refused:
        await guard.check("https://hooks.example.com/x")
    assert refused.value.params == {"address": address, "kind": kind}
    public = await resolve_to("2002:5db8:d822::1")  # 93.184.216.34 inside
    assert (await public.check("https://hooks.example.com/x")).address == "2002:5db8:d822::1"


async def test_a_public_address_passes_and_is_pinned() -> None:
    guard = await resolve_to("93.184.216.34")
    target = await guard.check("https://hooks.example.com:8443/x")
    assert (target.host, target.port, target.address) == ("hooks.example.com", 8443, "93.184.216.34")


async def test_one_private_answer_among_public_ones_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.1"]

    with pytest.raises(TargetRefused):
        await Guard((), resolver).check("http://hooks.example.com/")


@pytest.mark.parametrize(
    ("allowlist", "url"),
    [
        (("127.0.0.1",), "http://127.0.0.1:8080/hook"),
        (("127.0.0.0/8",), "http://127.0.0.2/hook"),
        (("10.0.0.0/8", "::1"), "http://[::1]:9000/hook"),
        (("receiver.internal",), "http://receiver.internal/hook"),
    ],
)
async def test_the_allowlist_names_hosts_and_networks(allowlist: tuple[str, ...], url: str) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["10.9.8.7"]

    target = await Guard(allowlist, resolver).check(url)
    assert target.url == url


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///nohost", "not a url", "http://[::1/x"])
async def test_urls_that_are_not_http_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        await Guard(()).check(url)
    assert refused.value.reason == "url"


async def test_an_unresolvable_host_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(TargetRefused) as refused:
        await Guard((), resolver).check("https://nowhere.invalid/")
    assert refused.value.reason == "unresolvable" and refused.value.params == {"host": "nowhere.invalid"}


def test_a_refusal_says_its_reason_and_what_was_refused() -> None:
    refused = TargetRefused("address_refused", address="10.0.0.7", kind="private")
    assert str(refused) == "address_refused: address=10.0.0.7, kind=private"
    assert (refused.reason, refused.params) == ("address_refused", {"address": "10.0.0.7", "kind": "private"})
    assert str(TargetRefused("url")) == "url"


async def test_the_port_and_host_are_the_urls_own_and_reach_the_resolver() -> None:
    asked: list[tuple[str, int]] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34"]

    guard = Guard((), resolver)
    https = await guard.check("https://hooks.example.com./in")
    http = await guard.check("http://hooks.example.com/in")
    other = await guard.check("https://hooks.example.com:8443/in")
    assert [(t.host, t.port, t.address) for t in (https, http, other)] == [
        ("hooks.example.com", 443, "93.184.216.34"),
        ("hooks.example.com", 80, "93.184.216.34"),
        ("hooks.example.com", 8443, "93.184.216.34"),
    ]
    assert asked == [("hooks.example.com", 443), ("hooks.example.com", 80), ("hooks.example.com", 8443)]


async def test_a_scoped_ipv6_answer_is_judged_by_its_address() -> None:
    with pytest.raises(TargetRefused) as caught:
        await (await resolve_to("fe80::1%eth0")).check("https://hooks.example.com/in")
    assert caught.value.params == {"address": "fe80::1", "kind": "link-local"}


async def test_a_resolver_failure_is_unresolvable_not_an_error() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(TargetRefused) as caught:
        await Guard((), failing).check("https://nowhere.example/in")
    assert (caught.value.reason, caught.value.params) == ("unresolvable", {"host": "nowhere.example"})


async def test_the_system_resolver_answers_the_addresses_of_a_name_each_once() -> None:
    # Literals and /etc/hosts only: getaddrinfo answers them without asking a DNS server.
    assert await system_resolver("93.184.216.34", 443) == ["93.184.216.34"]
    assert await system_resolver("2001:db8::1", 80) == ["2001:db8::1"]
    assert "127.0.0.1" in await system_resolver("localhost", 80)


async def test_by_default_a_name_is_judged_by_what_the_system_resolves_it_to() -> None:
    with pytest.raises(TargetRefused) as refused:
        await Guard(()).check("http://localhost:8080/hooks")
    assert refused.value.reason == "address_refused" and refused.value.params["kind"] == "loopback"
