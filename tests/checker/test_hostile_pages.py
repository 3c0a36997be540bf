"""Hostile pages through the public check endpoint: a fixture site answers with the
values that made the old parsers quadratic (a `Refresh` header or meta refresh padded with
spaces, `Link: <<<<…`, a megabyte robots meta) and with control characters and huge
values in everything that ends up in a result. Each check answers correctly, and every
string of the answer is clean and capped (adapters.untrusted)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import untrusted
from tests.checker.conftest import Checker, one_server_per_module
from tests.checker.sites import FixtureSite

MB = 1 << 20
#: the client reads header lines up to 32 KB (Fetcher); stay just under
HEADER = 30_000

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.xdist_group("heavy"),
    pytest.mark.asyncio(loop_scope="module"),
]
site, check, fresh_site = one_server_per_module()


def html(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><title>t</title>{head}</head><body>{body}</body></html>"


LINKED = html('<a href="https://example.com/">Example</a>')


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def assert_clean(result: dict[str, Any]) -> None:
    for s in strings(result):
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s), s[:80]
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in s)
        assert len(s) <= untrusted.MAX_URL


async def test_refresh_header_padded_with_spaces(site: FixtureSite, check: Checker):
    # the URL ends at its closing quote (HTML's refresh steps); the old regex took the
    # spaces one by one and rescanned the rest each time
    target = site.page("/there", LINKED)
    value = "0; url='/there'" + " " * HEADER + "x"
    url = site.page("/refresh", "", headers=[("Refresh", value)])
    result = await check.one(url)
    assert result["redirectChain"] == [{"url": url, "httpStatus": 200}]
    assert result["finalUrl"] == target
    assert result["hasLink"] is True
    assert_clean(result)


async def test_meta_refresh_padded_with_a_megabyte_of_spaces(site: FixtureSite, check: Checker):
    target = site.page("/there", LINKED)
    head = '<meta http-equiv="refresh" content="1; url=\'/there\'' + " " * MB + 'x">'
    url = site.page("/meta", html("", head))
    result = await check.one(url)
    assert result["finalUrl"] == target and result["hasLink"] is True


async def test_link_header_of_opening_brackets(site: FixtureSite, check: Checker):
    hostile = [("Link", "<" * HEADER) for _ in range(16)]
    result = await check.one(site.page("/links", LINKED, headers=hostile))
    assert (result["canonicalUrl"], result["indexable"], result["hasLink"]) == (None, True, True)


@pytest.mark.parametrize(
    "value",
    [
        '</canon>; rel="canonical"; title="' + "\\" * HEADER,
        # (a Link header is read up to 8 KB: the canonical must come before that)
        "<" * 7_000 + ', </canon>; rel="canonical"',
        "<a>; x=" + ";" * 7_000 + ', </canon>; rel="canonical"',
    ],
)
async def test_link_header_canonical_among_junk(site: FixtureSite, check: Checker, value: str):
    result = await check.one(site.page("/junk", LINKED, headers=[("Link", value)]))
    assert result["canonicalUrl"] == site.url("/canon")
    assert result["indexable"] is False


async def test_robots_meta_of_a_megabyte(site: FixtureSite, check: Checker):
    content = "noindex, unavailable_after: " + "x, " * (MB // 3)
    page = html(LINKED, f'<meta name="robots" content="{content}">')
    result = await check.one(site.page("/robots", page))
    first, second = result["robotsDirectives"]
    assert first == "noindex" and second.startswith("unavailable_after: x, x, x")
    assert len(second) <= untrusted.MAX_TEXT
    assert result["indexable"] is False


async def test_x_robots_tag_of_many_huge_values(site: FixtureSite, check: Checker):
    headers = [("X-Robots-Tag", "googlebot: unavailable_after: x" + ", x" * (HEADER // 3))]
    headers += [("X-Robots-Tag", "nofollow, " * (HEADER // 10))] * 40
    result = await check.one(site.page("/xrobots", LINKED, headers=headers))
    date, follow = result["robotsDirectives"]
    # the value is a text from a stranger: cleaned and capped before it is read
    assert date.startswith("unavailable_after: x, x, x") and len(date) <= untrusted.MAX_TEXT
    assert follow == "nofollow"
    assert result["linkType"] == "nofollow"


async def test_control_characters_and_huge_values_never_reach_the_answer(
    site: FixtureSite, check: Checker
):
    anchor = "Ex\x01am\x7fple\x1b\x9b text" + " more" * (MB // 5)
    rel = "nofollow\x02 ugc\x0b " + "x " * 3000
    page = html(
        f'<a href="https://example.com/pa\x01th/{"p" * 10_000}" rel="{rel}">{anchor}</a>',
        '<link rel="canonical" href="/can\x03onical">',
    )
    result = await check.one(site.page("/controls", page))
    assert result["hasLink"] is True and result["linkType"] == "ugc"
    assert result["targetUrl"].startswith("https://example.com/path/ppp")
    assert len(result["targetUrl"]) == untrusted.MAX_URL
    assert result["anchorText"].startswith("Example text more more")
    assert len(result["anchorText"]) == untrusted.MAX_TEXT
    assert result["relAttributes"][:3] == ["nofollow", "ugc", "x"]
    assert result["canonicalUrl"] == site.url("/canonical")
    assert_clean(result)


async def test_a_charset_trick_does_not_fool_the_decoding(site: FixtureSite, check: Checker):
    # a charset label only inside a comment, then one after 64 KB: neither counts
    head = '<!-- <meta charset="koi8-r"> -->' + " " * (70 * 1024) + '<meta charset="koi8-r">'
    page = html('<a href="https://example.com/">caf\xe9</a>', head).encode("cp1252")
    result = await check.one(site.page("/charset", page, content_type="text/html"))
    assert result["anchorText"] == "café"
