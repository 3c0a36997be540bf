"""The Quick Start by hand, in Debian's Chromium (Playwright), against the service as
`make run` starts it (web, worker, projector and the sandbox directories as separate
processes, not in dev mode): register, get upgraded through the CLI, add a site, start a
job against the sandbox, watch it finish, download the backlinks CSV (the API's own),
create and revoke an API key, sign out. On the way: every page at 360 px, its controls
labelled, no console error (a CSP violation is one); a form posted from another origin is
refused. Screenshots of every page go to tests/artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from tests.accounts import PASSWORD, unique_email
from tests.checker.test_backlink_checker_page import CHROMIUM_ARGS
from tests.live_service import ROOT, LiveService

pytestmark = pytest.mark.xdist_group("heavy")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts" / "dashboard"
FINISHED = ("completed", "failed", "canceled")
#: fast sandbox directories within Pro's DR cap (JSON API, CSRF form, label form)
CHOSEN = ("1", "2", "3")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with LiveService(tmp_path_factory.mktemp("dashboard"), name="dashboard") as svc:
        svc.migrate()
        svc.load_demo()
        svc.start_all()
        svc.wait_ready()
        yield svc


@pytest.fixture
def chromium() -> str:
    assert Path(CHROMIUM).exists(), "chromium is missing: run `make browser`"
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class Visit:
    """One person's tab: console errors collected, screenshots saved."""

    def __init__(self, page: Page, base: str):
        self.page, self.base = page, base
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))

    def _console(self, message: ConsoleMessage) -> None:
        # the browser asks for /favicon.ico on its own: no page of ours links one
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    async def goto(self, path: str) -> None:
        answer = await self.page.goto(self.base + path)
        assert answer is not None and answer.ok, f"{path}: {answer and answer.status}"

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    async def check_page(self, name: str) -> None:
        """At 360 px: nothing wider than the screen but the scrolling tables; every
        control has a label; the skip link comes first for the keyboard. Then a
        screenshot at 360 px and one at 1024 px."""
        page = self.page
        await page.set_viewport_size({"width": 360, "height": 740})
        wide = await page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(el => !el.closest('.table-wrap') && el.getBoundingClientRect().right > 360)
                .map(el => `${el.tagName}.${el.className} ${el.getBoundingClientRect().right}`)"""
        )
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360, (name, wide)
        unlabelled = await page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea, button')]
                .filter(el => el.type !== 'hidden' && !el.hidden)
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                              && !(el.tagName === 'BUTTON' && el.textContent.trim()))
                .map(el => el.outerHTML)"""
        )
        assert unlabelled == [], (name, unlabelled)
        await self.shot(f"{name}-360")
        fresh = await page.context.new_page()  # the page as it loads, for the keyboard
        await fresh.goto(page.url)
        await fresh.keyboard.press("Tab")
        assert await fresh.evaluate("document.activeElement.className") == "skip", name
        await fresh.keyboard.press("Enter")
        assert await fresh.evaluate("document.activeElement.id") == "main", name
        await fresh.close()
        await page.set_viewport_size({"width": 1024, "height": 800})
        await self.shot(name)


def _api(service: LiveService, path: str, key: str) -> tuple[int, bytes]:
    request = urllib.request.Request(service.url + path, headers={"x-api-key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


async def _attacker(target: str) -> web.AppRunner:
    """Another origin's page that posts a site form to the dashboard on load."""
    page = f"""<!doctype html><form id=f method=post action="{target}/dashboard/sites">
      <input name=url value="https://evil.example/"><input name=name value="Evil"></form>
      <script>document.getElementById('f').submit()</script>"""

    async def serve(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


@pytest.mark.timeout(420)
async def test_quick_start_by_hand(service: LiveService, browser: Browser):
    context = await browser.new_context(accept_downloads=True)
    visit = Visit(await context.new_page(), service.url)
    page = visit.page
    email = unique_email("quickstart")

    # register: a Free account, signed in at once
    await visit.goto("/dashboard/register")
    await visit.check_page("register")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Your name").fill("Quinn")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await expect(page.get_by_role("heading", name="Your plan: Free")).to_be_visible()

    # the session cookie: HttpOnly, SameSite=Lax, Secure (not dev mode), dashboard only
    [cookie] = [c for c in await context.cookies() if c["name"] == "bk_session"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/dashboard"

    # the plan rule: Free has no sites
    answer = await page.goto(service.url + "/dashboard/sites")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_text("no API access")).to_be_visible()
    visit.errors.remove(next(e for e in visit.errors if "403" in e))  # that one was asked for

    # upgraded by the operator through the CLI
    service.backlynk("users", "set-plan", email, "pro")
    await visit.goto("/dashboard")
    await expect(page.get_by_role("heading", name="Your plan: Pro")).to_be_visible()
    await expect(page.locator("#quota-remaining")).to_have_text("150")
    await visit.check_page("overview-empty")

    # add a site
    await page.get_by_role("link", name="Sites", exact=True).click()
    await page.get_by_label("URL").fill("https://quickstart-shop.com/")
    await page.get_by_label("Name").fill("Quickstart Shop")
    await page.get_by_label("Description").fill("Hand-made things.")
    await page.get_by_label("Keywords").fill("shop, handmade")
    await page.get_by_role("button", name="Add site").click()
    await expect(page.get_by_text("Site added.")).to_be_visible()
    await visit.check_page("sites")

    # a new job: pick the site (the page recounts), select none, tick three: cost 3
    await page.get_by_role("link", name="New job").click()
    await page.get_by_label("Site").select_option(label="Quickstart Shop (quickstart-shop.com)")
    await expect(page.locator("#cost-units")).to_have_text("7")  # all seven within DR 50
    await page.get_by_role("button", name="Select none").click()
    await expect(page.locator("#cost-units")).to_have_text("0")
    await page.get_by_role("button", name="Select all").click()
    await expect(page.locator("#cost-units")).to_have_text("7")
    await page.get_by_role("button", name="Select none").click()
    for directory in CHOSEN:
        await page.locator(f"#d-{directory}").check()
    await expect(page.locator("#cost-units")).to_have_text(str(len(CHOSEN)))
    await expect(page.locator("#cost-remaining")).to_have_text("150")
    await visit.check_page("new-job")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(urlsplit(r.url).path))
    await page.get_by_role("button", name="Start job").click()
    await expect(page.get_by_role("heading", name="Job for Quickstart Shop")).to_be_visible()
    job_url = page.url

    # live progress: the page's script follows the job's stream until it has finished
    status = page.locator("#job-status")
    await expect(status).to_have_text(re.compile("|".join(FINISHED)), timeout=180_000)
    assert await status.text_content() == "completed", service.tails()
    job_path = urlsplit(job_url).path
    assert f"{job_path}/stream" in asked and f"{job_path}/progress" in asked, asked
    await expect(page.locator("#tasks tbody tr")).to_have_count(len(CHOSEN))
    await expect(page.locator("#tasks").get_by_text("live").first).to_be_visible()
    await visit.check_page("job")

    # the overview counts what the job used, and the live backlinks
    await visit.goto("/dashboard")
    await expect(page.locator("#quota-used")).to_have_text(str(len(CHOSEN)))
    await expect(page.locator("#live-count")).not_to_have_text("0")
    await visit.check_page("overview")

    # an API key, shown once
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_label("Key name").fill("quickstart")
    await page.get_by_role("button", name="Create key").click()
    key = (await page.locator("#new-key-secret").text_content() or "").strip()
    assert key.startswith("bk_live_")
    await visit.check_page("api-keys")
    await visit.goto("/dashboard/api-keys")
    assert key not in await page.content()  # shown once only

    # the backlinks, and their CSV: the API's own export, byte for byte
    await page.get_by_role("link", name="Backlinks").click()
    await expect(page.locator("#backlinks tbody tr").first).to_be_visible()
    await expect(page.locator("svg.chart-line")).to_be_visible()
    await expect(page.locator("svg.chart-bar rect.bar")).to_have_count(6)
    # the charts: today's live backlinks, this month's submissions (the reports' figures)
    await expect(page.locator("svg.chart-line circle title").last).to_have_text(
        re.compile(rf": {len(CHOSEN)}$")
    )
    await expect(page.locator("svg.chart-bar rect.bar title").last).to_have_text(
        re.compile(rf": {len(CHOSEN)}$")
    )
    await visit.check_page("backlinks")
    async with page.expect_download() as info:
        await page.locator("#csv").click()
    download = await info.value
    downloaded = await asyncio.to_thread(Path(await download.path()).read_bytes)
    status_code, from_api = _api(service, "/api/v1/backlinks?format=csv", key)
    assert status_code == 200 and downloaded == from_api
    assert downloaded.count(b"\r\n") >= 2  # a header and the job's backlinks

    # revoke the key: the API refuses it at once
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_role("button", name="Revoke quickstart").click()
    await expect(page.get_by_text("Key revoked")).to_be_visible()
    status_code, body = _api(service, "/api/v1/users/me", key)
    assert status_code == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"

    # a form posted from another origin is refused: 403, nothing added
    attacker = await _attacker(service.url)
    try:
        port = attacker.addresses[0][1]
        evil = await context.new_page()
        evil.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
        async with evil.expect_navigation(url=re.compile(r"/dashboard/sites$")) as nav:
            await evil.goto(f"http://127.0.0.1:{port}/")
        answer = await nav.value
        assert answer is not None and answer.status == 403
        await expect(evil.get_by_role("heading", name="This form was refused")).to_be_visible()
        await evil.close()
    finally:
        await attacker.cleanup()
    await visit.goto("/dashboard/sites")
    assert "Evil" not in await page.content()

    # sign out: the session has ended, the job page asks to sign in again
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You have signed out.")).to_be_visible()
    await visit.check_page("sign-in")
    await page.goto(job_url)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert visit.errors == [], visit.errors
    await context.close()
