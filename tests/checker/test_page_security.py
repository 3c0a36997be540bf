"""Security headers: every answer says `nosniff` and sends no referrer; the HTML pages
(the checker and /docs) carry a Content-Security-Policy that allows only their own inline
script and styles (by hash), are never framed, and still work in a real Chromium with
no CSP violation reported."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from playwright.async_api import Browser, Page

from tests.checker import test_backlink_checker_page as checker_page
from tests.checker.sites import FixtureSite
from tests.conftest import LiveServer

# the same headless Chromium as the checker page's own test
chromium_path = checker_page.chromium_path
browser = checker_page.browser

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = pytest.mark.xdist_group("heavy")

INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


async def test_html_pages_allow_exactly_their_inline_code_and_are_never_framed(
    app_server: LiveServer,
) -> None:
    assert app_server.http
    for path in ("/tools/backlink-checker", "/docs"):
        async with app_server.http.get(path) as r:
            assert r.status == 200 and r.content_type == "text/html"
            page, headers = await r.text(), r.headers
        policy = directives(headers["Content-Security-Policy"])
        assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"] and policy["connect-src"] == ["'self'"]
        for tag, text in INLINE.findall(page):
            digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy[f"{tag}-src"], (path, tag)
        assert not any("unsafe" in v for values in policy.values() for v in values)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"


async def test_every_other_answer_is_nosniff_and_loads_nothing(app_server: LiveServer) -> None:
    assert app_server.http
    for method, path, status in [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/openapi.json", 200),
        ("GET", "/api/v1/nothing-here", 404),
        ("POST", "/api/v1/public/check-backlinks", 415),
    ]:
        async with app_server.http.request(method, path, data=b"x") as r:
            assert r.status == status, path
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Referrer-Policy"] == "no-referrer"
            assert (
                r.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
            )


# Playwright's init script is injected by the browser itself, outside the page's CSP
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


async def open_watched(browser: Browser, url: str) -> tuple[Page, list[str]]:
    """A page whose CSP violations are collected from the console and from the DOM."""
    context = await browser.new_context(accept_downloads=True)
    await context.add_init_script(WATCH)
    page = await context.new_page()
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.goto(url)
    return page, console


async def violations(page: Page, console: list[str]) -> list[str]:
    return [*console, *await page.evaluate("window.__csp")]


async def test_the_checker_page_works_under_its_policy(
    site: FixtureSite, app_server: LiveServer, browser: Browser
) -> None:
    linked = site.page("/listing", '<a href="https://www.example.com/">Example</a>')
    page, console = await open_watched(browser, f"{app_server.url}/tools/backlink-checker")
    # its stylesheet applied, its script ran: a check goes through and the CSV downloads
    assert await page.evaluate("getComputedStyle(document.body).maxWidth") != "none"
    await page.fill("#domain", "example.com")
    await page.fill("#urls", linked)
    await page.click("#submit")
    await page.wait_for_selector("#report:not([hidden])")
    await page.wait_for_selector("#csv:not([hidden])")
    async with page.expect_download() as download_info:
        await page.click("#csv")
    assert (await download_info.value).suggested_filename == "backlinks.csv"
    assert await violations(page, console) == []

    # the policy is enforced: a script injected into the page does not run, and says so
    ran = await page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.__injected = true';
                   document.body.append(s); return window.__injected === true; }"""
    )
    assert ran is False
    await page.wait_for_function("window.__csp.length > 0")
    assert any(v.startswith("script-src") for v in await violations(page, console))


async def test_the_docs_page_renders_under_its_policy(
    app_server: LiveServer, browser: Browser
) -> None:
    page, console = await open_watched(browser, f"{app_server.url}/docs")
    assert await page.text_content("h1") == "Backlynk API v1"
    assert await page.evaluate("getComputedStyle(document.body).maxWidth") != "none"
    assert await violations(page, console) == []
    # a table of contents whose links land on the operations, usable 360 px wide
    await page.click("nav a[href='#post_api_v1_sites']")
    assert page.url.endswith("#post_api_v1_sites")
    assert await page.is_visible("#post_api_v1_sites-h")
    await page.set_viewport_size({"width": 360, "height": 740})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    # every operation section is labelled by its heading
    unlabelled = (
        "[...document.querySelectorAll('section.op')]"
        ".filter(s => !document.getElementById(s.getAttribute('aria-labelledby'))).length"
    )
    assert await page.evaluate(unlabelled) == 0
