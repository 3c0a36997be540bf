"""The fetcher as a reusable adapter (site registration and listing verification use it
too), and its address policy."""

from __future__ import annotations

import ipaddress

import pytest

from adapters.fetcher import Fetcher
from adapters.ssrf import AddressPolicy
from tests.checker.fetchers import make_fetcher
from tests.checker.sites import FixtureSite, StaticResolver, Tls


async def test_loopback_is_blocked_when_the_allow_list_is_empty(
    site: FixtureSite, tls: Tls, resolver: StaticResolver
) -> None:
    url = site.page("/p", "<p>hi</p>")
    fetcher = make_fetcher(tls, resolver, allow=())
    try:
        for target in (url, site.url("/p", host="site.test"), site.url("/p", host="[::1]")):
            result = await fetcher.fetch(target)
            assert (result.error, result.status, result.final_url) == (
                "blocked_address", None, target,
            )  # fmt: skip
    finally:
        await fetcher.close()
    assert site.hits["/p"] == 0


async def test_max_redirects_is_a_parameter(site: FixtureSite, fetcher: Fetcher) -> None:
    for i in range(6):
        site.redirect(f"/r/{i}", f"/r/{i + 1}", 302)
    site.page("/r/6", "<p>landing</p>")
    result = await fetcher.fetch(site.url("/r/0"), max_redirects=5)
    assert result.error == "too_many_redirects"
    assert len(result.chain) == 6
    assert site.hits["/r/6"] == 0
    result = await fetcher.fetch(site.url("/r/1"), max_redirects=5)
    assert (result.error, result.status, result.ok) == (None, 200, True)
    assert result.text == "<p>landing</p>"


async def test_result_exposes_headers_and_decoded_text(site: FixtureSite, fetcher: Fetcher) -> None:
    url = site.page(
        "/t", "Grüße".encode("utf-16"), content_type="text/plain; charset=utf-16",
        headers=[("X-Robots-Tag", "noindex")],
    )  # fmt: skip
    result = await fetcher.fetch(url)
    assert result.text == "Grüße"
    assert result.headers is not None and result.headers["X-Robots-Tag"] == "noindex"
    assert result.is_html is False and result.media_type == "text/plain"


async def test_one_session_serves_every_fetch(site: FixtureSite, fetcher: Fetcher) -> None:
    url = site.page("/s", "<p>x</p>")
    await fetcher.fetch(url)
    session = fetcher._session
    await fetcher.fetch(url)
    assert session is not None and fetcher._session is session


async def test_names_are_resolved_on_each_new_connection_and_never_cached(
    site: FixtureSite, fetcher: Fetcher, resolver: StaticResolver
) -> None:
    site.page("/n", "<p>x</p>")
    result = await fetcher.fetch(site.url("/n", host="site.test"))
    assert result.ok
    assert resolver.lookups["site.test"] == 1


def policy(*allowed: str) -> AddressPolicy:
    return AddressPolicy(ipaddress.ip_network(a) for a in allowed)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.0.170",
        "::1", "::", "fe80::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::", "2001:db8::1",
    ],
)  # fmt: skip
def test_internal_addresses_are_refused(address: str) -> None:
    assert policy().refusal(ipaddress.ip_address(address), 80) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_are_allowed_on_web_ports_only(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert policy().refusal(ip, 80) is None
    assert policy().refusal(ip, 443) is None
    assert "port 8080" in (policy().refusal(ip, 8080) or "")


def test_allowed_cidrs_open_any_port() -> None:
    assert policy("127.0.0.0/8").refusal(ipaddress.ip_address("127.0.0.1"), 8080) is None
    assert policy("127.0.0.0/8").refusal(ipaddress.ip_address("::ffff:127.0.0.1"), 81) is None
    assert policy("127.0.0.0/8").refusal(ipaddress.ip_address("10.0.0.1"), 80) is not None
