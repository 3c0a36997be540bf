"""The SSRF guard against the host spellings attackers use, through the public endpoint
`/api/v1/public/check-backlinks` (API.md: the fetcher never reaches loopback, private,
link-local, CGNAT, multicast or reserved addresses).

The checker fixture allows 127.0.0.0/8 (BACKLYNK_FETCH_ALLOW_CIDRS of the tests) so that
the fixture site answers on loopback: a legacy spelling of 127.0.0.1 is refused even so —
it is never handed to DNS, where `getaddrinfo` would turn it into 127.0.0.1."""

from __future__ import annotations

import ipaddress

import aiohttp
import pytest

from adapters.ssrf import AddressPolicy, InvalidHost, address_rule, host_address
from tests.checker.conftest import RESOLVER_TABLE, Checker
from tests.checker.sites import FixtureSite, StaticResolver

#: every way of writing 127.0.0.1 that a browser (the WHATWG URL standard) reads as it
LOOPBACK_SPELLINGS = [
    "2130706433",  # one 32-bit decimal number
    "017700000001",  # one octal number
    "0x7f000001",  # one hexadecimal number
    "0177.0.0.1",  # octal part
    "0x7f.0.0.1",  # hexadecimal part
    "127.1",  # two parts
    "127.0.1",  # three parts
    "0x7f.1",  # hexadecimal, two parts
    "0X7F.00.0.01",  # upper-case prefix, zero-padded octal parts
    "127.0.0.1.",  # trailing dot
]


def blocked(result: dict) -> str:
    assert result["error"] is not None, result
    assert result["error"]["code"] == "blocked_address", result
    assert (result["finalUrl"], result["httpStatus"]) == (result["url"], None)
    return result["error"]["details"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_legacy_ipv4_spellings_are_refused_without_dns(
    host: str, site: FixtureSite, check: Checker, resolver: StaticResolver
) -> None:
    site.page("/secret", "<p>internal</p>")
    result = await check.one(f"http://{host}:{site.port}/secret")
    assert "non-canonical" in blocked(result)
    assert site.hits["/secret"] == 0
    assert sum(resolver.lookups.values()) == 0  # refused as an address, never resolved


async def test_legacy_ipv4_spellings_are_refused_as_redirect_targets(
    site: FixtureSite, check: Checker, resolver: StaticResolver
) -> None:
    site.page("/secret", "<p>internal</p>")
    starts = [
        site.redirect(f"/hop-{i}", f"http://{host}:{site.port}/secret", 302)
        for i, host in enumerate(["2130706433", "0177.0.0.1", "127.1", "0x7f.1"])
    ]
    status, body = await check.post({"domain": "example.com", "urls": starts})
    assert status == 200
    for start, result in zip(starts, body["results"], strict=True):
        assert [(h["httpStatus"], h["url"]) for h in result["redirectChain"]] == [(302, start)]
        assert result["error"]["code"] == "blocked_address"
        assert "non-canonical" in result["error"]["details"]
        assert result["httpStatus"] is None
    assert site.hits["/secret"] == 0
    assert sum(resolver.lookups.values()) == 0


async def test_a_host_that_ends_in_a_number_but_is_no_address_is_an_invalid_url(
    check: Checker, resolver: StaticResolver
) -> None:
    urls = ["http://1.2.3.4.5/", "http://256.0.0.1/", "http://site.0x10/", "http://08.0.0.1/"]
    status, body = await check.post({"domain": "example.com", "urls": urls})
    assert status == 200
    assert [r["error"]["code"] for r in body["results"]] == ["invalid_url"] * 4
    assert sum(resolver.lookups.values()) == 0


IPV6_FORMS = {
    "[::127.0.0.1]": "IPv4-compatible",
    "[::10.0.0.1]": "IPv4-compatible",
    "[::ffff:0:127.0.0.1]": "IPv4-translated",
    "[::ffff:169.254.169.254]": "link-local",
    "[64:ff9b::10.0.0.1]": "NAT64 form of a private network",
    "[64:ff9b::127.0.0.1]": "NAT64 form of a loopback",
    "[64:ff9b:1::10.0.0.1]": "local-use NAT64",
    "[2002:a00:1::1]": "6to4",
    "[2002:7f00:1::1]": "6to4",
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]": "Teredo",
    "[fec0::1]": "site-local",
    "[fd12:3456::1]": "unique local",
    "[fe80::1]": "link-local",
    "[2001:db8::1]": "documentation",
    "[3fff::1]": "documentation",
    "[ff02::1]": "multicast",
    "[100::1]": "discard-only",
    "[::]": "unspecified",
    "[::1]": "loopback",
}


async def test_reserved_and_ipv4_embedding_ipv6_addresses_are_refused(
    site: FixtureSite, check: Checker
) -> None:
    site.page("/x", "<p>internal</p>")
    urls = [f"http://{host}/x" for host in IPV6_FORMS]
    status, body = await check.post({"domain": "example.com", "urls": urls})
    assert status == 200
    for result, rule in zip(body["results"], IPV6_FORMS.values(), strict=True):
        assert rule in blocked(result), result
    assert site.hits["/x"] == 0


async def test_details_name_the_rule_never_the_address_a_name_resolves_to(
    check: Checker,
) -> None:
    cases = {
        "private.test": "private network",
        "metadata-alias.test": "link-local",
        "cgnat.test": "carrier-grade NAT",
        "mapped.test": "private network",
        "nat64.test": "NAT64 form of a private network",
        "compat.test": "IPv4-compatible",
        "sixtofour.test": "6to4",
        "sitelocal.test": "site-local",
    }
    urls = [f"http://{name}/" for name in cases]
    status, body = await check.post({"domain": "example.com", "urls": urls})
    assert status == 200
    for name, result in zip(cases, body["results"], strict=True):
        details = blocked(result)
        assert cases[name] in details and name in details, details
        for address in RESOLVER_TABLE[name]:
            assert address not in details
            assert str(ipaddress.ip_address(address)) not in details


def test_public_addresses_pass_including_nat64_of_a_public_ipv4() -> None:
    # DNS64 answers an IPv4-only site with a NAT64 address on IPv6-only hosts
    for address in ("93.184.216.34", "2606:4700::1111", "64:ff9b::93.184.216.34"):
        assert address_rule(ipaddress.ip_address(address)) is None
    assert AddressPolicy().host_refusal("93.184.216.34", 443) is None
    assert AddressPolicy().host_refusal("[64:ff9b::5db8:d822]", 80) is None


def test_host_spellings_are_read_as_the_whatwg_url_standard_reads_them() -> None:
    cases = {
        "2130706433": "127.0.0.1",
        "0x7f.1": "127.0.0.1",
        "0177.0.0.1": "127.0.0.1",
        "192.168.257": "192.168.1.1",
        "0x": "0.0.0.0",
        "4294967295": "255.255.255.255",
        "10.0.0.1.": "10.0.0.1",
    }
    for host, address in cases.items():
        found = host_address(host)
        assert found is not None and str(found.ip) == address and not found.canonical
    canonical = host_address("10.0.0.1")
    assert canonical is not None and canonical.canonical
    assert host_address("example.com") is None and host_address("0x.example") is None
    for invalid in ("www.example.0x", "1.2.3.4.5", "example.123", "1.2.3.4%2e"):
        with pytest.raises(InvalidHost):
            host_address(invalid)


async def test_aiohttp_itself_refuses_legacy_numeric_ipv4_hosts(site: FixtureSite) -> None:
    """Defence in depth: the aiohttp floor of pyproject.toml (3.14.1) refuses these forms
    in its connector even without our policy (hexadecimal ones reach the resolver, which is
    why our own check comes first)."""
    site.page("/secret", "<p>internal</p>")
    async with aiohttp.ClientSession() as session:
        for host in ("2130706433", "017700000001", "127.1", "127.0.0.1."):
            with pytest.raises(aiohttp.InvalidUrlClientError):
                await session.get(f"http://{host}:{site.port}/secret")
    assert site.hits["/secret"] == 0
