"""How a URL is fetched, through the public endpoint: redirects, refreshes, limits,
failures, encodings, TLS and the SSRF guard (API.md, "Backlink check")."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
from aiohttp import web

from adapters.fetcher import MAX_BODY
from tests.checker.conftest import Checker, one_server_per_module
from tests.checker.sites import FixtureSite

pytestmark = pytest.mark.asyncio(loop_scope="module")
site, check, fresh_site = one_server_per_module()

LINK = '<html><body><a href="https://example.com/">Example</a></body></html>'


def hops(result: dict) -> list[tuple[int, str]]:
    return [(h["httpStatus"], h["url"]) for h in result["redirectChain"]]


async def test_301_then_302_then_200(site: FixtureSite, check: Checker) -> None:
    final = site.page("/final", LINK)
    second = site.redirect("/second", "/final", 302)
    first = site.redirect("/first", second, 301)
    result = await check.one(first)
    assert hops(result) == [(301, first), (302, second)]
    assert (result["finalUrl"], result["httpStatus"], result["error"]) == (final, 200, None)
    assert result["hasLink"] is True


async def test_303_307_308_are_followed(site: FixtureSite, check: Checker) -> None:
    site.page("/end", LINK)
    site.redirect("/c", "/end", 308)
    site.redirect("/b", "/c", 307)
    start = site.redirect("/a", "/b", 303)
    result = await check.one(start)
    assert [s for s, _ in hops(result)] == [303, 307, 308]
    assert result["httpStatus"] == 200


async def test_redirect_loop_is_caught_before_any_url_is_requested_twice(
    site: FixtureSite, check: Checker
) -> None:
    a = site.redirect("/loop-a", "/loop-b#frag", 302)
    b = site.redirect("/loop-b", "/loop-a", 301)
    result = await check.one(a)
    assert hops(result) == [(302, a), (301, b + "#frag")]
    assert result["error"]["code"] == "redirect_loop"
    assert (result["finalUrl"], result["httpStatus"]) == (b + "#frag", 301)
    assert site.hits["/loop-a"] == 1 and site.hits["/loop-b"] == 1
    assert result["error"]["details"]


async def test_ten_redirects_are_followed(site: FixtureSite, check: Checker) -> None:
    for i in range(10):
        site.redirect(f"/ten/{i}", f"/ten/{i + 1}", 301)
    site.page("/ten/10", LINK)
    result = await check.one(site.url("/ten/0"))
    assert len(result["redirectChain"]) == 10
    assert (result["httpStatus"], result["error"], result["hasLink"]) == (200, None, True)


async def test_an_eleventh_redirect_ends_the_check(site: FixtureSite, check: Checker) -> None:
    for i in range(20):
        site.redirect(f"/hop/{i}", f"/hop/{i + 1}", 302)
    result = await check.one(site.url("/hop/0"))
    assert len(result["redirectChain"]) == 11
    assert result["error"]["code"] == "too_many_redirects"
    assert (result["finalUrl"], result["httpStatus"]) == (site.url("/hop/10"), 302)
    assert site.hits["/hop/10"] == 1
    assert site.hits["/hop/11"] == 0  # the 12th URL is never requested
    assert result["indexable"] is False


async def test_meta_refresh_within_five_seconds_is_a_hop(site: FixtureSite, check: Checker) -> None:
    final = site.page("/refreshed", LINK)
    start = site.page(
        "/meta",
        '<html><head><meta http-equiv="Refresh" content="3; URL=\'/refreshed\'"></head></html>',
    )
    result = await check.one(start)
    assert hops(result) == [(200, start)]
    assert (result["finalUrl"], result["hasLink"]) == (final, True)


async def test_slow_meta_refresh_and_refresh_without_url_are_ignored(
    site: FixtureSite, check: Checker
) -> None:
    slow = site.page(
        "/slow",
        '<meta http-equiv="refresh" content="6; url=/elsewhere">' + LINK,
    )
    bare = site.page("/bare", '<meta http-equiv="refresh" content="0">' + LINK)
    header = site.page("/bare-header", LINK, headers=[("Refresh", "2")])
    status, body = await check.post({"domain": "example.com", "urls": [slow, bare, header]})
    assert status == 200
    for result in body["results"]:
        assert result["redirectChain"] == []
        assert (result["finalUrl"], result["hasLink"]) == (result["url"], True)
    assert site.hits["/elsewhere"] == 0


async def test_refresh_header_is_a_hop(site: FixtureSite, check: Checker) -> None:
    final = site.page("/after-refresh", LINK)
    start = site.page("/refresh-header", "wait", headers=[("Refresh", "0;url=/after-refresh")])
    result = await check.one(start)
    assert hops(result) == [(200, start)]
    assert result["finalUrl"] == final


async def test_redirect_to_a_non_http_scheme_is_invalid_url(
    site: FixtureSite, check: Checker
) -> None:
    start = site.redirect("/to-ftp", "ftp://files.example/x", 302)
    result = await check.one(start)
    assert hops(result) == [(302, start)]
    assert (result["finalUrl"], result["httpStatus"]) == ("ftp://files.example/x", None)
    assert result["error"]["code"] == "invalid_url"


async def test_404_and_500_are_answers_not_errors(site: FixtureSite, check: Checker) -> None:
    missing = site.page("/gone", LINK, status=404)
    broken = site.page("/broken", LINK, status=500)
    status, body = await check.post({"domain": "example.com", "urls": [missing, broken]})
    assert status == 200
    assert [(r["httpStatus"], r["error"], r["hasLink"]) for r in body["results"]] == [
        (404, None, False),
        (500, None, False),
    ]
    assert body["summary"] == {
        "alive": 0, "dead": 2, "withLink": 0, "dofollow": 0, "indexable": 0, "redirected": 0,
    }  # fmt: skip


async def test_body_of_exactly_five_million_bytes_is_read(
    site: FixtureSite, check: Checker
) -> None:
    body = LINK.encode().ljust(MAX_BODY, b" ")
    result = await check.one(site.page("/big", body))
    assert (result["error"], result["hasLink"]) == (None, True)


async def test_one_byte_more_is_too_large(site: FixtureSite, check: Checker) -> None:
    body = LINK.encode().ljust(MAX_BODY + 1, b" ")
    result = await check.one(site.page("/too-big", body))
    assert (result["httpStatus"], result["error"]["code"]) == (200, "too_large")
    assert (result["hasLink"], result["indexable"]) == (False, False)


async def test_too_large_counts_decompressed_bytes(site: FixtureSite, check: Checker) -> None:
    body = gzip.compress(LINK.encode().ljust(MAX_BODY + 1, b" "))
    assert len(body) < 100_000
    url = site.page("/bomb", body, headers=[("Content-Encoding", "gzip")])
    assert (await check.one(url))["error"]["code"] == "too_large"


async def test_too_large_without_content_length(site: FixtureSite, check: Checker) -> None:
    async def chunked(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(6):
            await response.write(b"x" * 1_000_000)
        await response.write_eof()
        return response

    assert (await check.one(site.handle("/chunked", chunked)))["error"]["code"] == "too_large"


async def test_gzip_deflate_and_brotli_pages(site: FixtureSite, check: Checker) -> None:
    data = LINK.encode()
    urls = [
        site.page("/gz", gzip.compress(data), headers=[("Content-Encoding", "gzip")]),
        site.page("/deflate", zlib.compress(data), headers=[("Content-Encoding", "deflate")]),
        site.page("/br", brotli.compress(data), headers=[("Content-Encoding", "br")]),
    ]
    status, body = await check.post({"domain": "example.com", "urls": urls})
    assert status == 200
    assert [r["hasLink"] for r in body["results"]] == [True, True, True]


async def test_windows_1251_page_by_meta_charset(site: FixtureSite, check: Checker) -> None:
    page = (
        '<html><head><meta charset="windows-1251"></head>'
        '<body><a href="https://example.com/">Пример сайта</a></body></html>'
    )
    url = site.page("/cp1251", page.encode("cp1251"), content_type="text/html")
    assert (await check.one(url))["anchorText"] == "Пример сайта"


async def test_header_charset_wins_over_meta_and_bom_wins_over_both(
    site: FixtureSite, check: Checker
) -> None:
    page = '<meta charset="utf-8"><a href="https://example.com/">Ελληνικά</a>'
    by_header = site.page(
        "/greek", page.encode("iso-8859-7"), content_type="text/html; charset=ISO-8859-7"
    )
    by_bom = site.page(
        "/bom",
        b"\xef\xbb\xbf" + page.encode("utf-8"),
        content_type="text/html; charset=iso-8859-7",
    )
    status, body = await check.post({"domain": "example.com", "urls": [by_header, by_bom]})
    assert status == 200
    assert [r["anchorText"] for r in body["results"]] == ["Ελληνικά", "Ελληνικά"]


async def test_without_any_charset_windows_1252_is_used(site: FixtureSite, check: Checker) -> None:
    page = '<a href="https://example.com/">Caf\xe9 \x93quoted\x94</a>'.encode("latin-1")
    url = site.page("/1252", page, content_type="text/html")
    assert (await check.one(url))["anchorText"] == "Café “quoted”"


async def test_non_html_body_has_no_links(site: FixtureSite, check: Checker) -> None:
    url = site.page(
        "/data.json", '{"link": "https://example.com/"}', content_type="application/json"
    )
    result = await check.one(url)
    assert (result["httpStatus"], result["error"]) == (200, None)
    assert (result["hasLink"], result["domainFound"], result["canonicalUrl"]) == (
        False, False, None,
    )  # fmt: skip
    assert result["indexable"] is True  # alive, no noindex, no canonical elsewhere


async def test_xhtml_pages_are_read(site: FixtureSite, check: Checker) -> None:
    url = site.page("/x.xhtml", LINK, content_type="application/xhtml+xml")
    assert (await check.one(url))["hasLink"] is True


async def test_https_page_with_a_verified_certificate(site: FixtureSite, check: Checker) -> None:
    site.page("/secure", LINK)
    result = await check.one(site.url("/secure", host="site.test", https=True))
    assert (result["httpStatus"], result["error"], result["hasLink"]) == (200, None, True)


async def test_certificate_for_another_host_is_a_tls_error(
    site: FixtureSite, check: Checker
) -> None:
    site.page("/secure", LINK)
    # other.test resolves to the same server, whose certificate does not name it
    url = site.url("/secure", host="other.test", https=True)
    result = await check.one(url)
    assert (result["httpStatus"], result["error"]["code"]) == (None, "tls_error")
    assert site.hits["/secure"] == 0


async def test_unknown_host_is_a_dns_error(check: Checker) -> None:
    result = await check.one("http://no-such-host.test/")
    assert result["error"]["code"] == "dns_error"


async def test_refused_connection(check: Checker) -> None:
    result = await check.one("http://127.0.0.1:1/")
    assert (result["httpStatus"], result["error"]["code"]) == (None, "connection_error")


async def test_names_resolving_to_internal_addresses_are_blocked(check: Checker) -> None:
    urls = [
        "http://private.test/",
        "http://metadata-alias.test/latest/meta-data/",
        "http://cgnat.test/",
        "http://mapped.test/",
        "http://mixed.test/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fd00::1]/",
    ]
    status, body = await check.post({"domain": "example.com", "urls": urls})
    assert status == 200
    for result in body["results"]:
        assert result["error"]["code"] == "blocked_address", result
        assert (result["finalUrl"], result["httpStatus"]) == (result["url"], None)


async def test_a_redirect_into_a_private_address_is_blocked(
    site: FixtureSite, check: Checker
) -> None:
    start = site.redirect("/to-private", "http://private.test/admin", 302)
    result = await check.one(start)
    assert hops(result) == [(302, start)]
    assert (result["finalUrl"], result["httpStatus"]) == ("http://private.test/admin", None)
    assert result["error"]["code"] == "blocked_address"


async def test_requests_identify_as_backlynkbot(site: FixtureSite, check: Checker) -> None:
    await check.one(site.page("/ua", LINK))
    assert site.user_agents and all("BacklynkBot" in ua for ua in site.user_agents)
