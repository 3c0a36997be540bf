"""The form and json submitters against the sandbox directories, over real HTTP."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.demo.sandbox import STATE, build_app, catalogue
from adapters.submitters import Submitter
from domain.directory import Directory, parse_catalogue
from domain.services.delivery import Failed, RetryLater, Submitted
from domain.site import SiteFacts

SITE = SiteFacts(
    url="https://example.com/",
    domain="example.com",
    name="Example Site",
    description="An example site for the sandbox tests.",
    contact_email="owner@example.com",
    category="saas",
    keywords="a, b",
)


@pytest.fixture
async def sandbox():
    app = build_app()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    entries = parse_catalogue(msgspec.json.encode(catalogue(base)))
    yield app, {d.id: d for d in entries}, base
    await server.close()


def submitter() -> Submitter:
    return Submitter(lambda: aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))


async def test_csrf_form_with_field_map_and_success_pattern(sandbox):
    app, dirs, base = sandbox
    outcome = await submitter().submit(dirs[1], SITE)
    assert outcome == Submitted(f"{base}/startup-index/site/example.com")
    assert app[STATE].submissions["startup-index"] == 1


async def test_label_only_form_is_filled_by_labels_and_placeholders(sandbox):
    app, dirs, base = sandbox
    outcome = await submitter().submit(dirs[3], SITE)
    # the directory redirects to the listing
    assert outcome == Submitted(f"{base}/local-listings/site/example.com")
    listing = app[STATE].listings[("local-listings", "example.com")]
    assert (listing.url, listing.name) == (SITE.url, SITE.name)


async def test_a_form_redirecting_to_a_thank_you_page_is_listed_where_the_catalogue_says(
    sandbox,
):
    """Post/redirect/get: the thank-you page is not the listing; the template is."""
    app, dirs, base = sandbox
    outcome = await submitter().submit(dirs[9], SITE)
    assert outcome == Submitted(f"{base}/launch-board/site/example.com")
    assert app[STATE].submissions["launch-board"] == 1
    # without a template, the page the POST was redirected to is all there is
    bare = msgspec.structs.replace(dirs[9], listing_url_template=None)
    assert await submitter().submit(bare, SITE) == Submitted(f"{base}/launch-board/thanks")


async def test_json_directory_returns_the_listing_url(sandbox):
    _, dirs, base = sandbox
    assert await submitter().submit(dirs[2], SITE) == Submitted(f"{base}/saas-hub/site/example.com")


async def test_captcha_fails_without_submitting(sandbox):
    app, dirs, _ = sandbox
    outcome = await submitter().submit(dirs[6], SITE)
    assert isinstance(outcome, Failed) and outcome.code == "captcha_required"
    assert app[STATE].submissions["captcha-directory"] == 0


async def test_validation_error_is_rejected_with_the_directorys_message(sandbox):
    _, dirs, _ = sandbox
    short = msgspec.structs.replace(SITE, description="too short")
    outcome = await submitter().submit(dirs[8], short)
    assert outcome == Failed("rejected", "Description must be at least 20 characters.")


async def test_flaky_directory_is_transient_then_succeeds(sandbox):
    _, dirs, base = sandbox
    first = await submitter().submit(dirs[7], SITE)
    assert isinstance(first, RetryLater) and first.code == "directory_unavailable"
    assert await submitter().submit(dirs[7], SITE) == Submitted(
        f"{base}/flaky-directory/site/example.com"
    )


async def test_unreachable_directory_and_timeouts_are_transient():
    gone = Directory(
        id=9,
        name="Gone",
        homepage_url="http://127.0.0.1:9/",
        category="x",
        domain_rating=1,
        link_type="dofollow",
        turnaround_days=0,
        status="active",
        method="json",
        submit_url="http://127.0.0.1:9/api",
    )
    outcome = await submitter().submit(gone, SITE)
    assert isinstance(outcome, RetryLater) and outcome.code == "directory_unavailable"

    async def slow(request: web.Request) -> web.Response:
        import asyncio

        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/submit", slow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        slowpoke = msgspec.structs.replace(
            gone, method="form", submit_url=str(server.make_url("/submit"))
        )
        quick = Submitter(submitter().open_session, timeout=0.3)
        outcome = await quick.submit(slowpoke, SITE)
        assert isinstance(outcome, RetryLater) and outcome.code == "timeout"
    finally:
        await server.close()


async def test_a_page_without_a_url_form_is_form_not_found(sandbox):
    _, dirs, base = sandbox
    homepage_only = msgspec.structs.replace(dirs[1], submit_url=f"{base}/startup-index/")
    outcome = await submitter().submit(homepage_only, SITE)
    assert isinstance(outcome, Failed) and outcome.code == "form_not_found"


async def test_a_form_page_read_in_many_chunks_is_read_whole(sandbox):
    """The form sits at the end of a page that arrives in many network reads."""
    _, dirs, _ = sandbox
    padding = "<p>" + "directory news " * 20_000 + "</p>"

    async def big_page(request: web.Request) -> web.Response:
        form = '<form method="post" action="/done"><input name="website"><input name="title">'
        return web.Response(content_type="text/html", text=f"<html><body>{padding}{form}</form>")

    async def done(request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text="<p>Thank you!</p>")

    app = web.Application()
    app.router.add_get("/submit", big_page)
    app.router.add_post("/done", done)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        directory = msgspec.structs.replace(
            dirs[1], submit_url=str(server.make_url("/submit")), listing_url_template=None
        )
        assert await submitter().submit(directory, SITE) == Submitted(None)
    finally:
        await server.close()


def test_the_demo_catalogue_file_is_the_sandbox_catalogue():
    """`adapters/demo/directories.json` (the example import file) never drifts from what
    `backlynk demo load` imports."""
    import json
    from pathlib import Path

    from adapters.demo import SANDBOX_URL

    path = Path(__file__).parent.parent / "adapters" / "demo" / "directories.json"
    assert json.loads(path.read_text()) == catalogue(SANDBOX_URL)
