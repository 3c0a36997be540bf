"""The web tool at /tools/backlink-checker, driven in a real headless Chromium: a person
fills the form, reads the table and downloads the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.checker.sites import FixtureSite
from tests.conftest import LiveServer

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


async def test_a_person_checks_backlinks_and_downloads_the_csv(
    site: FixtureSite, app_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    linked = site.page(
        "/listing", '<a href="https://www.example.com/" rel="nofollow">Example &amp; Co</a>'
    )
    site.page("/moved-here", '<meta name="robots" content="noindex"><p>no link</p>')
    moved = site.redirect("/moved", "/moved-here", 301)
    page = await (await browser.new_context(accept_downloads=True)).new_page()
    await page.goto(f"{app_server.url}/tools/backlink-checker")
    assert await page.title() == "Backlink checker — Backlynk"

    await page.fill("#domain", "Example.com")
    await page.fill("#urls", f"{linked}\n{moved}\n")
    await page.click("#submit")
    await page.wait_for_selector("#report:not([hidden])")

    assert await page.text_content("#message") == "Checked 2 pages for example.com."
    summary = {
        await box.get_attribute("data-key"): await box.eval_on_selector("b", "b => b.textContent")
        for box in await page.query_selector_all("#summary div")
    }
    assert summary == {
        "alive": "2", "dead": "0", "withLink": "1", "dofollow": "0", "indexable": "1",
        "redirected": "1",
    }  # fmt: skip
    rows = await page.eval_on_selector_all(
        "#results tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert rows == [
        [linked, "200", "none", "yes", "nofollow", "Example & Co", "—", "none", "yes", "—"],
        [moved, "200", f"301 {moved}", "no", "—", "—", "—", "noindex", "no", "—"],
    ]

    async with page.expect_download() as download_info:
        await page.click("#csv")
    download = await download_info.value
    assert download.suggested_filename == "backlinks.csv"
    target = tmp_path / "backlinks.csv"
    await download.save_as(target)
    table = list(csv.reader(io.StringIO(target.read_text("utf-8"))))
    assert table[0][:4] == ["url", "finalUrl", "redirectChain", "httpStatus"]
    assert [row[0] for row in table[1:]] == [linked, moved]


async def test_the_page_shows_the_api_error(app_server: LiveServer, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{app_server.url}/tools/backlink-checker")
    await page.fill("#domain", "localhost")
    await page.fill("#urls", "https://a.example/")
    await page.click("#submit")
    await page.wait_for_selector("#message.error")
    message = await page.text_content("#message")
    assert message is not None and "public suffix" in message and "(domain)" in message
    assert await page.is_hidden("#report")
