"""The public pages in a real headless Chromium (Debian's, as the checker page's test uses)
under the app's own Content-Security-Policy: a visitor opens each page, goes from one to
the next by their links and back to the first from the backlink checker, with no CSP
violation and no script error; each page fits a 360 px screen. A screenshot of each page
is kept in tests/artifacts/public/ (ignored by git)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.checker import test_backlink_checker_page as checker_page
from tests.checker.test_page_security import WATCH
from tests.public.conftest import catalogue_secrets, customer_secrets
from tests.public.flows import choose, deliver

chromium_path = checker_page.chromium_path
browser = checker_page.browser

# starts Chromium: the "heavy" tests share one xdist worker (`--dist loadgroup`)
pytestmark = [
    pytest.mark.xdist_group("heavy"),
    pytest.mark.usefixtures("demo_catalogue"),
    pytest.mark.timeout(300),
]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "public"

#: (link text that leads to the page, its path, its <h1>, its screenshot's name)
TOUR = [
    ("Quality tiers", "/quality-tiers", "Quality tiers", "quality-tiers.png"),
    ("Delivery examples", "/delivery-examples", "Delivery examples", "delivery-examples.png"),
    ("Backlink checker", "/tools/backlink-checker", "Backlink checker", "backlink-checker.png"),
    ("Coverage", "/coverage", "Directory coverage", "coverage.png"),
]


async def watched_page(browser: Browser) -> tuple[Page, list[str]]:
    """A page whose CSP violations (console and DOM event) and script errors are kept."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    await context.add_init_script(WATCH)
    page = await context.new_page()
    problems: list[str] = []

    def console(message) -> None:
        source = message.location.get("url", "")
        if message.type == "error" and not source.endswith("/favicon.ico"):
            problems.append(f"{message.text} ({source})")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page, problems


async def check_page(page: Page, problems: list[str], path: str, heading: str) -> str:
    """The page at `path` is shown, styled, free of CSP violations, fits 360 px; its text."""
    assert page.url.endswith(path), page.url
    assert (await page.text_content("h1") or "").strip() == heading
    assert await page.evaluate("window.__csp") == [], path
    assert problems == [], (path, problems)
    # its same-origin style sheet applied (the CSP let it in)
    assert await page.evaluate("getComputedStyle(document.body).margin") != "8px", path
    return await page.content()


async def test_a_visitor_tours_the_public_pages_under_their_policy(
    api, infra, agency, browser: Browser, demo_catalogue
):
    sites = []
    found: dict[int, str] = {}
    for n in range(3):  # enough outcomes in DR 30-49 for its figures to show
        sites.append(await agency.add_site())
        found |= await deliver(
            api, infra, agency, sites[-1], list(range(1, 10)), failed=(6,) if n else (6, 9)
        )
    await choose(infra, found[3], "Live the same day")
    await choose(infra, found[8])
    secrets = catalogue_secrets(demo_catalogue) + customer_secrets(sites) + [*found.values()]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, problems = await watched_page(browser)
    await page.goto(f"{api.url}/coverage")
    await check_page(page, problems, "/coverage", "Directory coverage")
    await page.screenshot(path=str(ARTIFACTS / "coverage.png"), full_page=True)

    for link, path, heading, shot in TOUR:
        # follow the page's own link (the navigation's, as a visitor would)
        async with page.expect_navigation():
            await page.get_by_role("link", name=link, exact=True).first.click()
        text = await check_page(page, problems, path, heading)
        lowered = text.casefold()
        assert [s for s in secrets if s.casefold() in lowered] == [], path
        if shot != "coverage.png":
            await page.screenshot(path=str(ARTIFACTS / shot), full_page=True)

    # what the tour showed: figures for the one tier with enough data, the examples
    await page.goto(f"{api.url}/quality-tiers")
    assert await page.text_content("tr[data-group='30-49'] td:nth-of-type(3)") == "73%"
    assert await page.text_content("tr[data-group='70+'] td") == "not enough data"
    await page.goto(f"{api.url}/delivery-examples")
    assert await page.locator("section.example").count() == 2

    # a phone's width: nothing scrolls sideways but the tables inside their own boxes
    await page.set_viewport_size({"width": 360, "height": 740})
    for _, path, heading, _shot in TOUR[:2] + TOUR[3:]:
        await page.goto(f"{api.url}{path}")
        await check_page(page, problems, path, heading)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360, path
    await page.screenshot(path=str(ARTIFACTS / "coverage-360.png"), full_page=True)
    for shot in ("coverage", "quality-tiers", "delivery-examples", "backlink-checker"):
        assert (ARTIFACTS / f"{shot}.png").stat().st_size > 0
