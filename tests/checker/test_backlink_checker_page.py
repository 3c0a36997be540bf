"""The web tool at /tools/backlink-checker, driven in a real headless Chromium under a
strict Content-Security-Policy: a person fills the form, reads the table and downloads the
CSV — one check per click, the download built from that one answer."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from tests.checker.apps import checker_app
from tests.checker.sites import FixtureSite
from tests.conftest import LiveServer

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = pytest.mark.xdist_group("heavy")

CHECK_ENDPOINT = "/api/v1/public/check-backlinks"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; `make test` installs it when missing
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    assert Path(CHROMIUM).exists(), "chromium is missing: run `make browser`"
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


#: what a strict policy allows: same-origin script, style and fetch, nothing inline
STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class StrictCsp:
    """Puts STRICT_CSP on every answer of the app it wraps (an ASGI middleware)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", STRICT_CSP.encode()),
                ]
            await send(message)

        await self.app(scope, receive, with_policy if scope["type"] == "http" else send)


@pytest.fixture
async def strict_server(
    checker_settings: Settings, infra: Infrastructure, fetcher: Fetcher
) -> AsyncIterator[LiveServer]:
    app = StrictCsp(checker_app(checker_settings, infra, fetcher))
    async with LiveServer(app) as live:
        yield live


def watch(page: Page) -> tuple[list[str], list[str]]:
    """(the page's console errors and uncaught exceptions, its requests to the checker)."""
    problems: list[str] = []
    checks: list[str] = []

    def console(m: ConsoleMessage) -> None:
        source = m.location.get("url", "")
        if m.type == "error" and not source.endswith("/favicon.ico"):  # no icon: a 404
            problems.append(f"{m.text} ({source})")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: checks.append(r.method) if r.url.endswith(CHECK_ENDPOINT) else None,
    )
    return problems, checks


async def test_a_person_checks_backlinks_and_downloads_the_csv(
    site: FixtureSite, strict_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    linked = site.page(
        "/listing", '<a href="https://www.example.com/" rel="nofollow">Example &amp; Co</a>'
    )
    site.page("/moved-here", '<meta name="robots" content="noindex"><p>no link</p>')
    moved = site.redirect("/moved", "/moved-here", 301)
    formula = site.page(
        "/formula",
        '<a href="https://example.com/a,b" rel="UGC, sponsored">'
        '=HYPERLINK("https://evil.example/","Grüße, \u201cCo\u201d")</a>',
    )
    blocked = "http://private.test/"
    page = await (await browser.new_context(accept_downloads=True)).new_page()
    problems, checks = watch(page)
    await page.goto(f"{strict_server.url}/tools/backlink-checker")
    assert await page.title() == "Backlink checker — Backlynk"

    await page.fill("#domain", "Example.com")
    await page.fill("#urls", f"{linked}\n{moved}\n{formula}\n{blocked}\n")
    await page.click("#submit")
    # the exact text the finished check shows, not a neighbouring signal
    await expect(page.locator("#message")).to_have_text(
        "Checked 4 pages for example.com.", timeout=30_000
    )

    summary = {
        await box.get_attribute("data-key"): await box.eval_on_selector("b", "b => b.textContent")
        for box in await page.query_selector_all("#summary div")
    }
    assert summary == {
        "alive": "3", "dead": "1", "withLink": "2", "dofollow": "0", "indexable": "2",
        "redirected": "1",
    }  # fmt: skip
    rows = await page.eval_on_selector_all(
        "#results tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert rows[:2] == [
        [linked, "200", "none", "yes", "nofollow", "Example & Co", "—", "none", "yes", "—"],
        [moved, "200", f"301 {moved}", "no", "—", "—", "—", "noindex", "no", "—"],
    ]
    assert rows[2][5] == '=HYPERLINK("https://evil.example/","Grüße, \u201cCo\u201d")'
    assert rows[3][-1] == "blocked_address"

    async with page.expect_download() as download_info:
        await page.click("#csv")
    download = await download_info.value
    assert download.suggested_filename == "backlinks.csv"
    target = tmp_path / "backlinks.csv"
    await download.save_as(target)

    # one click: one request to the checker, each page fetched once
    assert checks == ["POST"]
    assert (site.hits["/listing"], site.hits["/moved"], site.hits["/moved-here"]) == (1, 1, 1)
    assert site.hits["/formula"] == 1
    assert problems == []  # nothing refused by the strict policy, no script error

    # the download is, byte for byte, the API's CSV of the same check
    assert strict_server.http
    async with strict_server.http.post(
        CHECK_ENDPOINT,
        json={"domain": "Example.com", "urls": [linked, moved, formula, blocked]},
        headers={"Accept": "text/csv"},
    ) as response:
        assert response.status == 200
        api_csv = await response.read()
    assert target.read_bytes() == api_csv
    table = list(csv.reader(io.StringIO(api_csv.decode("utf-8"))))
    assert table[3][8] == '\'=HYPERLINK("https://evil.example/","Grüße, \u201cCo\u201d")'


async def test_the_page_shows_the_api_error(strict_server: LiveServer, browser: Browser) -> None:
    page = await browser.new_page()
    problems, checks = watch(page)
    await page.goto(f"{strict_server.url}/tools/backlink-checker")
    await page.fill("#domain", "localhost")
    await page.fill("#urls", "https://a.example/")
    await page.click("#submit")
    await page.wait_for_selector("#message.error")
    message = await page.text_content("#message")
    assert message is not None and "public suffix" in message and "(domain)" in message
    assert await page.is_hidden("#report") and await page.is_hidden("#csv")
    assert checks == ["POST"]
    # the 422 itself is logged by Chromium as a failed resource; nothing else may be
    assert [p for p in problems if "422" not in p] == []
