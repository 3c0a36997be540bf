"""One fixture page per rule of API.md's "Backlink check" table, checked through the
public endpoint: links, rel, anchors, mentions, robots, canonical."""

from __future__ import annotations

import pytest

from tests.checker.conftest import Checker, one_server_per_module
from tests.checker.sites import FixtureSite

pytestmark = pytest.mark.asyncio(loop_scope="module")
site, check, fresh_site = one_server_per_module()


def html(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><title>t</title>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("rel", "link_type", "tokens"),
    [
        ("nofollow", "nofollow", ["nofollow"]),
        ("ugc sponsored", "sponsored", ["ugc", "sponsored"]),
        ("NOFOLLOW", "nofollow", ["nofollow"]),
        ("nofollow,noopener", "nofollow", ["nofollow", "noopener"]),
        ("noopener , UGC  ugc", "ugc", ["noopener", "ugc"]),
        ("noopener noreferrer", "dofollow", ["noopener", "noreferrer"]),
    ],
)
async def test_rel_tokens_decide_the_link_type(
    site: FixtureSite, check: Checker, rel: str, link_type: str, tokens: list[str]
) -> None:
    url = site.page("/rel", html(f'<a href="https://example.com/" rel="{rel}">Example</a>'))
    result = await check.one(url)
    assert result["hasLink"] is True
    assert result["linkType"] == link_type
    assert result["relAttributes"] == tokens
    assert result["targetUrl"] == "https://example.com/"
    assert result["anchorText"] == "Example"


async def test_first_followed_link_is_chosen_over_an_earlier_nofollow_one(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page(
        "/two",
        html(
            '<a href="https://example.com/a" rel="nofollow">first</a>'
            '<a href="https://example.com/b">second</a>'
        ),
    )
    result = await check.one(url)
    assert (result["linkType"], result["targetUrl"], result["anchorText"]) == (
        "dofollow",
        "https://example.com/b",
        "second",
    )
    assert result["relAttributes"] == []


async def test_without_a_followed_link_the_first_link_is_chosen(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page(
        "/nf",
        html(
            '<a href="https://example.com/a" rel="ugc">one</a>'
            '<a href="https://example.com/b" rel="nofollow">two</a>'
        ),
    )
    result = await check.one(url)
    assert (result["linkType"], result["anchorText"]) == ("ugc", "one")


@pytest.mark.parametrize(
    "href",
    [
        "https://blog.example.com/post",
        "https://www.example.com/",
        "HTTPS://EXAMPLE.COM/Path",
        "http://example.com./",
        "//example.com/protocol-relative",
    ],
)
async def test_subdomains_www_case_and_trailing_dot_match(
    site: FixtureSite, check: Checker, href: str
) -> None:
    url = site.page("/host", html(f'<a href="{href}">x</a>'))
    result = await check.one(url)
    assert result["hasLink"] is True, href
    assert result["linkType"] == "dofollow"


async def test_the_domain_given_with_www_and_upper_case_matches_its_links(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page("/www", html('<a href="https://example.com/">x</a>'))
    status, body = await check.post({"domain": "https://WWW.Example.COM./about", "urls": [url]})
    assert status == 200
    assert body["domain"] == "example.com"
    assert body["results"][0]["hasLink"] is True


@pytest.mark.parametrize(
    "href",
    [
        "https://notexample.com/",
        "https://example.com.evil.net/",
        "https://example.co/",
        "https://example.com@evil.net/",
    ],
)
async def test_look_alike_hosts_are_not_links(site: FixtureSite, check: Checker, href: str) -> None:
    url = site.page("/lookalike", html(f'<a href="{href}">x</a>'))
    result = await check.one(url)
    assert result["hasLink"] is False
    assert result["linkType"] is None
    assert result["targetUrl"] is None
    assert result["anchorText"] is None
    assert result["relAttributes"] == []


async def test_a_look_alike_host_is_not_a_mention_but_userinfo_and_mailto_are(
    site: FixtureSite, check: Checker
) -> None:
    lookalike = site.page("/m1", html("<p>see example.com.evil.net and notexample.com</p>"))
    userinfo = site.page("/m2", html('<a href="https://example.com@evil.net/">x</a>'))
    mailto = site.page("/m3", html('<a href="mailto:me@example.com">mail</a>'))
    status, body = await check.post(
        {"domain": "example.com", "urls": [lookalike, userinfo, mailto]}
    )
    assert status == 200
    found = [(r["domainFound"], r["hasLink"]) for r in body["results"]]
    assert found == [(False, False), (True, False), (True, False)]


async def test_relative_link_resolves_against_base_href(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/dir/page",
        html('<a href="listing/42?x=1">listing</a>', head='<base href="https://example.com/d/">'),
    )
    result = await check.one(url)
    assert result["hasLink"] is True
    assert result["targetUrl"] == "https://example.com/d/listing/42?x=1"


async def test_relative_link_without_base_is_not_a_link_to_another_domain(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page("/rel-only", html('<a href="/example.com">x</a>'))
    result = await check.one(url)
    assert result["hasLink"] is False


async def test_image_link_uses_alt_as_anchor(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/img",
        html('<a href="https://example.com/"> <img src="/logo.png" alt="  Example   logo "> </a>'),
    )
    result = await check.one(url)
    assert result["anchorText"] == "Example logo"


async def test_area_link_counts_with_its_alt_as_anchor(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/area",
        html(
            '<map name="m"><area shape="rect" coords="0,0,1,1" '
            'href="https://example.com/map" alt="Map to Example"></map>'
        ),
    )
    result = await check.one(url)
    assert (result["hasLink"], result["anchorText"]) == (True, "Map to Example")


async def test_anchor_text_collapses_whitespace_and_skips_comments(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page(
        "/ws", html('<a href="https://example.com/">\n  Best <b>Example</b><!-- x -->\t site </a>')
    )
    assert (await check.one(url))["anchorText"] == "Best Example site"


async def test_link_inside_a_comment_is_not_a_link_nor_a_mention(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page("/comment", html('<!-- <a href="https://example.com/">old</a> --><p>hi</p>'))
    result = await check.one(url)
    assert (result["hasLink"], result["domainFound"]) == (False, False)


async def test_javascript_and_mailto_hrefs_are_not_links(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/js",
        html(
            "<a href=\"javascript:location='https://example.com/'\">js</a>"
            '<a href="mailto:hello@example.com">mail</a>'
        ),
    )
    result = await check.one(url)
    assert result["hasLink"] is False
    assert result["domainFound"] is True  # both attribute values mention the host


async def test_mentions_in_script_and_style_do_not_count(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/script",
        html(
            "<script>var u = 'https://example.com/';</script>"
            "<style>.x{background:url(https://example.com/a.png)}</style><p>nothing</p>"
        ),
    )
    assert (await check.one(url))["domainFound"] is False


async def test_plain_text_mention_without_link(site: FixtureSite, check: Checker) -> None:
    url = site.page("/text", html("<p>Visit Blog.Example.COM. today</p>"))
    result = await check.one(url)
    assert (result["domainFound"], result["hasLink"]) == (True, False)


async def test_idn_domain_is_normalised_and_matched_in_either_form(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page("/idn", html('<a href="https://BÜCHER.de/shop">Bücher</a><p>www.bücher.de</p>'))
    puny = site.page("/idn2", html('<a href="https://www.xn--bcher-kva.de/">x</a>'))
    status, body = await check.post({"domain": "Bücher.DE", "urls": [url, puny]})
    assert status == 200
    assert body["domain"] == "xn--bcher-kva.de"
    first, second = body["results"]
    assert (first["hasLink"], first["domainFound"], first["anchorText"]) == (True, True, "Bücher")
    assert second["hasLink"] is True


# --- robots ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "directives", "indexable", "link_type"),
    [
        (
            '<meta name="robots" content="NoIndex, follow">',
            ["noindex", "follow"],
            False,
            "dofollow",
        ),
        ('<meta name="googlebot" content="noindex">', ["noindex"], False, "dofollow"),
        ('<meta name="bingbot" content="noindex">', [], True, "dofollow"),
        ('<meta name="robots" content="none">', ["none"], False, "nofollow"),
        ('<meta name="robots" content="nofollow">', ["nofollow"], True, "nofollow"),
        (
            '<meta name="robots" content="unavailable_after: 25 Jun 2010 15:00:00 PST">',
            ["unavailable_after: 25 jun 2010 15:00:00 pst"],
            False,
            "dofollow",
        ),
        (
            '<meta name="robots" content="unavailable_after: 2999-01-01">',
            ["unavailable_after: 2999-01-01"],
            True,
            "dofollow",
        ),
        (
            '<meta name="robots" content="index">'
            '<meta name="googlebot" content="INDEX, noarchive">',
            ["index", "noarchive"],
            True,
            "dofollow",
        ),
    ],
)
async def test_meta_robots(
    site: FixtureSite,
    check: Checker,
    head: str,
    directives: list[str],
    indexable: bool,
    link_type: str,
) -> None:
    url = site.page("/robots", html('<a href="https://example.com/">x</a>', head=head))
    result = await check.one(url)
    assert result["robotsDirectives"] == directives
    assert result["indexable"] is indexable
    assert result["linkType"] == link_type


@pytest.mark.parametrize(
    ("headers", "directives", "indexable", "link_type"),
    [
        ([("X-Robots-Tag", "noindex")], ["noindex"], False, "dofollow"),
        ([("X-Robots-Tag", "otherbot: noindex")], [], True, "dofollow"),
        ([("X-Robots-Tag", "googlebot: nofollow")], ["nofollow"], True, "nofollow"),
        (
            [("X-Robots-Tag", "otherbot: noindex, googlebot: noarchive"), ("X-Robots-Tag", "NONE")],
            ["noarchive", "none"],
            False,
            "nofollow",
        ),
    ],
)
async def test_x_robots_tag(
    site: FixtureSite,
    check: Checker,
    headers: list[tuple[str, str]],
    directives: list[str],
    indexable: bool,
    link_type: str,
) -> None:
    url = site.page("/xrt", html('<a href="https://example.com/">x</a>'), headers=headers)
    result = await check.one(url)
    assert result["robotsDirectives"] == directives
    assert result["indexable"] is indexable
    assert result["linkType"] == link_type


async def test_meta_directives_come_before_header_directives_without_duplicates(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page(
        "/both",
        html("<p>x</p>", head='<meta name="robots" content="noarchive, noindex">'),
        headers=[("X-Robots-Tag", "noindex, nosnippet")],
    )
    assert (await check.one(url))["robotsDirectives"] == ["noarchive", "noindex", "nosnippet"]


async def test_x_robots_tag_is_read_from_non_html_responses(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page(
        "/doc.pdf", b"%PDF-1.4 example.com", content_type="application/pdf",
        headers=[("X-Robots-Tag", "noindex")],
    )  # fmt: skip
    result = await check.one(url)
    assert result["robotsDirectives"] == ["noindex"]
    assert result["indexable"] is False


# --- canonical ---------------------------------------------------------------------------


async def test_canonical_to_itself_keeps_the_page_indexable(
    site: FixtureSite, check: Checker
) -> None:
    url = site.url("/self", host="site.test")
    same = site.url("/self", host="SITE.TEST").replace("http:", "HTTP:") + "#top"
    site.page("/self", html("<p>x</p>", head=f'<link rel="canonical" href="{same}">'))
    result = await check.one(url)
    assert result["canonicalUrl"] == same.replace("HTTP:", "http:")
    assert result["indexable"] is True


async def test_relative_canonical_to_itself(site: FixtureSite, check: Checker) -> None:
    url = site.page("/rel-self", html("<p>x</p>", head='<link rel="canonical" href="/rel-self">'))
    result = await check.one(url)
    assert (result["canonicalUrl"], result["indexable"]) == (url, True)


async def test_canonical_elsewhere_makes_the_page_not_indexable(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page(
        "/dup", html("<p>x</p>", head='<link rel="canonical" href="https://other.example/orig">')
    )
    result = await check.one(url)
    assert result["canonicalUrl"] == "https://other.example/orig"
    assert result["indexable"] is False


async def test_trailing_slash_is_significant_for_canonical(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page("/slash", html("<p>x</p>", head='<link rel="canonical" href="/slash/">'))
    assert (await check.one(url))["indexable"] is False


async def test_canonical_from_link_header(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/hdr",
        html("<p>x</p>"),
        headers=[
            ("Link", '<https://cdn.example/x.css>; rel="preload", </elsewhere>; rel="canonical"')
        ],
    )
    result = await check.one(url)
    assert result["canonicalUrl"] == site.url("/elsewhere")
    assert result["indexable"] is False


async def test_canonical_tag_wins_over_the_header(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/win",
        html("<p>x</p>", head='<link rel="canonical" href="/win">'),
        headers=[("Link", '</elsewhere>; rel="canonical"')],
    )
    result = await check.one(url)
    assert (result["canonicalUrl"], result["indexable"]) == (url, True)


async def test_a_link_canonical_header_counts_on_a_non_html_page(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page(
        "/file.txt", "https://example.com/", content_type="text/plain",
        headers=[("Link", "<https://example.org/file>; rel=canonical")],
    )  # fmt: skip
    result = await check.one(url)
    assert result["canonicalUrl"] == "https://example.org/file"
    assert (result["hasLink"], result["domainFound"]) == (False, False)
