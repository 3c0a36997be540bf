"""The pure rules of `domain`: domain normalisation, host matching, robots directives,
canonical comparison."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.hostnames import HostNameRules
from domain import robots
from domain.backlink_evidence import comparable_url, host_matches
from domain.errors import InvalidDomain
from domain.target_domain import normalise_domain

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("example.com", "example.com"),
        ("  WWW.Example.COM.  ", "example.com"),
        ("https://www.example.co.uk:8443/path?q#f", "example.co.uk"),
        ("http://user@blog.example.com/", "blog.example.com"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("www.www.example.com", "www.example.com"),
        ("example.com/some/path", "example.com"),
    ],
)
def test_domain_normalisation(raw: str, normal: str) -> None:
    assert normalise_domain(raw, HostNameRules()) == normal


@pytest.mark.parametrize(
    "raw", ["", "   ", "localhost", "com", "co.uk", "www.co.uk", "10.0.0.1", "[::1]", "a..b.com"]
)
def test_invalid_domains(raw: str) -> None:
    with pytest.raises(InvalidDomain) as caught:
        normalise_domain(raw, HostNameRules())
    assert caught.value.field == "domain" and caught.value.code == "invalid_domain"


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("example.com", True),
        ("EXAMPLE.COM.", True),
        ("a.b.example.com", True),
        ("notexample.com", False),
        ("example.com.evil.net", False),
        ("example.co", False),
        ("", False),
    ],
)
def test_host_matching(host: str, matches: bool) -> None:
    assert host_matches(host, "example.com") is matches


def test_x_robots_tag_scopes() -> None:
    assert robots.header_directives("googlebot: noindex, nofollow") == ["noindex", "nofollow"]
    assert robots.header_directives("bingbot: noindex") == []
    assert robots.header_directives("noarchive, bingbot: noindex, googlebot: none") == [
        "noarchive",
        "none",
    ]
    assert robots.header_directives("unavailable_after: 25 Jun 2010 15:00:00 PST") == [
        "unavailable_after: 25 jun 2010 15:00:00 pst"
    ]


def test_unavailable_after_in_rfc_850_with_its_comma() -> None:
    found = robots.meta_directives("noarchive, unavailable_after: Friday, 25-Jun-2010 15:00:00 PST")
    assert found == ["noarchive", "unavailable_after: friday, 25-jun-2010 15:00:00 pst"]
    assert robots.is_noindex(found, NOW) is True


@pytest.mark.parametrize(
    ("directive", "noindex"),
    [
        ("unavailable_after: 2010-06-25", True),
        ("unavailable_after: 2024-12-31T23:59:59Z", True),
        ("unavailable_after: 2025-01-02T00:00:00+00:00", False),
        ("unavailable_after: 1 Jan 2030 00:00:00 GMT", False),
        ("unavailable_after: whenever", False),
    ],
)
def test_unavailable_after(directive: str, noindex: bool) -> None:
    assert robots.is_noindex([directive], NOW) is noindex


def test_none_means_noindex_and_nofollow() -> None:
    assert robots.is_noindex(["none"], NOW) and robots.is_nofollow(["none"])


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("HTTPS://Example.COM:443/a?b#c", "https://example.com/a?b", True),
        ("http://example.com:80/", "http://example.com/", True),
        ("http://example.com:8080/", "http://example.com/", False),
        ("https://example.com/a/", "https://example.com/a", False),
        ("https://example.com/A", "https://example.com/a", False),
        ("https://example.com/a?x=1", "https://example.com/a?x=2", False),
    ],
)
def test_canonical_comparison(a: str, b: str, same: bool) -> None:
    assert (comparable_url(a) == comparable_url(b)) is same
