"""Sandbox directories: a small aiohttp app that behaves like real submission directories
(forms with CSRF tokens and cookies, label-only forms, JSON APIs, a captcha, a flaky
server, one that validates input). `make run` serves it for the Quick Start and the tests
use it as their fixture directory server, so both exercise the same behaviour.

It counts every submission it receives (`GET /_stats`), lets a test drop or restore a
listing's link (`POST /_control/{slug}/{drop|restore}/{domain}`), slow every submission
down (`POST /_control/slow?seconds=3`) or hold the answer to every submission it has
recorded until released (`SandboxState.hold()` / `release()`, for tests that need a task
in flight).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

DEFAULT_PORT = 8001


@dataclass(frozen=True)
class SandboxDirectory:
    id: int
    slug: str
    name: str
    category: str
    domain_rating: int
    link_type: str
    #: csrf_form | label_form | json | captcha | flaky_json | strict_form | prg_form
    kind: str
    turnaround_days: int = 0


DIRECTORIES = (
    SandboxDirectory(
        1, "startup-index", "Sandbox Startup Index", "startups", 34, "dofollow", "csrf_form"
    ),
    SandboxDirectory(2, "saas-hub", "Sandbox SaaS Hub", "saas", 41, "dofollow", "json"),
    SandboxDirectory(
        3, "local-listings", "Sandbox Local Listings", "local", 22, "nofollow", "label_form"
    ),
    SandboxDirectory(
        4,
        "tech-directory",
        "Sandbox Tech Directory",
        "technology",
        48,
        "dofollow",
        "csrf_form",
        turnaround_days=1,
    ),
    SandboxDirectory(5, "dev-tools", "Sandbox Dev Tools", "technology", 55, "dofollow", "json"),
    SandboxDirectory(
        6, "captcha-directory", "Sandbox Captcha Directory", "general", 30, "dofollow", "captcha"
    ),
    SandboxDirectory(
        7, "flaky-directory", "Sandbox Flaky Directory", "general", 27, "dofollow", "flaky_json"
    ),
    SandboxDirectory(
        8, "premium-review", "Sandbox Premium Review", "saas", 72, "dofollow", "strict_form"
    ),
    # post/redirect/get to a thank-you page; the listing is where the catalogue says
    SandboxDirectory(
        9, "launch-board", "Sandbox Launch Board", "marketing", 38, "dofollow", "prg_form"
    ),
)


def catalogue(
    base_url: str | dict[int, str], directories: tuple[SandboxDirectory, ...] = DIRECTORIES
) -> list[dict[str, Any]]:
    """The catalogue entries (ARCHITECTURE.md import format) for a sandbox at `base_url`
    (or, to look like separate servers, a base URL per directory id)."""
    out = []
    for d in directories:
        base = base_url if isinstance(base_url, str) else base_url[d.id]
        root = f"{base}/{d.slug}"
        entry: dict[str, Any] = {
            "id": d.id,
            "name": d.name,
            "homepage_url": f"{root}/",
            "category": d.category,
            "domain_rating": d.domain_rating,
            "link_type": d.link_type,
            "turnaround_days": d.turnaround_days,
            "status": "active",
        }
        if d.kind in ("json", "flaky_json"):
            entry |= {
                "method": "json",
                "submit_url": f"{root}/api/listings",
                "field_map": {
                    "url": "url",
                    "name": "title",
                    "description": "summary",
                    "contact_email": "email",
                },
                "headers": {"X-Sandbox-Key": "demo"},
                "listing_url_template": f"{root}/site/{{domain}}",
            }
        else:
            entry |= {
                "method": "form",
                "submit_url": f"{root}/submit",
                "listing_url_template": f"{root}/site/{{domain}}",
            }
            if d.kind == "csrf_form":
                entry["field_map"] = {"url": "website", "name": "title"}
                entry["success_pattern"] = "(?i)thank you"
            if d.kind == "prg_form":
                entry["success_pattern"] = "(?i)thank you"
        out.append(entry)
    return out


@dataclass
class Listing:
    url: str
    name: str
    linked: bool = True


@dataclass
class SandboxState:
    listings: dict[tuple[str, str], Listing] = field(default_factory=dict)
    submissions: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    sessions: dict[str, str] = field(default_factory=dict)  # session cookie -> csrf token
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    #: seconds every submission waits before it is recorded (tests kill workers meanwhile)
    delay: float = 0.0
    #: while set and not released, every submission is recorded but not answered (the
    #: directory has it; the submitter is still waiting)
    held: asyncio.Event | None = None

    def hold(self) -> None:
        self.held = asyncio.Event()

    def release(self) -> None:
        if self.held is not None:
            self.held.set()
        self.held = None


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        content_type="text/html",
        text=(
            f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
        ),
    )


STATE = web.AppKey("state", SandboxState)


def build_app(directories: tuple[SandboxDirectory, ...] = DIRECTORIES) -> web.Application:
    state = SandboxState()
    by_slug = {d.slug: d for d in directories}
    app = web.Application()
    app[STATE] = state

    def directory(request: web.Request) -> SandboxDirectory:
        d = by_slug.get(request.match_info["slug"])
        if d is None:
            raise web.HTTPNotFound()
        state.requests[d.slug] += 1
        return d

    async def slow_down() -> None:
        if state.delay:
            await asyncio.sleep(state.delay)

    async def answer_when_released() -> None:
        if state.held is not None:
            await state.held.wait()

    def record(d: SandboxDirectory, url: str, name: str) -> str:
        state.submissions[d.slug] += 1
        domain = _host(url)
        state.listings[(d.slug, domain)] = Listing(url, name)
        return domain

    async def home(request: web.Request) -> web.Response:
        d = directory(request)
        return _page(d.name, f"<p>{html.escape(d.category)} directory.</p>")

    async def form_page(request: web.Request) -> web.Response:
        d = directory(request)
        if d.kind in ("json", "flaky_json"):
            raise web.HTTPNotFound()
        fields: str
        if d.kind == "label_form":
            fields = (
                '<label for="f1">Website URL</label><input id="f1" name="f1">'
                '<label for="f2">Business name</label><input id="f2" name="f2">'
                '<label for="f3">Description</label><textarea id="f3" name="f3">'
                '</textarea><input name="f4" placeholder="Your email">'
            )
        else:
            fields = (
                '<input name="website" type="url"><input name="title">'
                '<textarea name="description"></textarea>'
                '<input name="email" type="email"><input name="keywords">'
            )
        extra = ""
        response_cookies: dict[str, str] = {}
        if d.kind in ("csrf_form", "strict_form"):
            session, token = secrets.token_hex(8), secrets.token_hex(8)
            state.sessions[session] = token
            extra = f'<input type="hidden" name="csrf_token" value="{token}">'
            response_cookies["sandbox_session"] = session
        if d.kind == "captcha":
            extra = (
                '<div class="g-recaptcha" data-sitekey="demo"></div>'
                '<script src="https://www.google.com/recaptcha/api.js"></script>'
            )
        response = _page(
            f"Submit to {d.name}",
            '<form method="post" action="submit">'
            + fields
            + extra
            + '<button type="submit">Submit</button></form>'
            '<form action="/search"><input name="q"></form>',
        )
        for k, v in response_cookies.items():
            response.set_cookie(k, v)
        return response

    async def form_post(request: web.Request) -> web.Response:
        d = directory(request)
        form = await request.post()
        if d.kind == "captcha":
            return _page("Error", '<p class="error">Please complete the captcha.</p>', 400)
        if d.kind in ("csrf_form", "strict_form"):
            session = request.cookies.get("sandbox_session", "")
            if not session or state.sessions.get(session) != form.get("csrf_token"):
                return _page("Error", '<p class="error">Invalid CSRF token.</p>', 403)
        if d.kind == "label_form":
            url, name = str(form.get("f1", "")), str(form.get("f2", ""))
        else:
            url, name = str(form.get("website", "")), str(form.get("title", ""))
        if not url.startswith(("http://", "https://")) or not name:
            return _page(
                "Error", '<div class="alert alert-error">Website and title are required.</div>', 422
            )
        if d.kind == "strict_form" and len(str(form.get("description", ""))) < 20:
            return _page(
                "Submission rejected",
                '<ul class="errors"><li>Description must be at least 20 characters.</li></ul>',
                200,
            )
        await slow_down()
        domain = record(d, url, name)
        await answer_when_released()
        if d.kind == "csrf_form":
            return _page("Thank you", "<p>Thank you! Your site is queued for review.</p>")
        if d.kind == "prg_form":  # the thank-you page is not the listing
            raise web.HTTPSeeOther(f"/{d.slug}/thanks")
        raise web.HTTPSeeOther(f"/{d.slug}/site/{domain}")

    async def thanks(request: web.Request) -> web.Response:
        d = directory(request)
        return _page("Thank you", f"<p>Thank you! {html.escape(d.name)} lists it shortly.</p>")

    async def api_post(request: web.Request) -> web.Response:
        d = directory(request)
        if d.kind not in ("json", "flaky_json"):
            raise web.HTTPNotFound()
        if request.headers.get("X-Sandbox-Key") != "demo":
            return web.json_response({"error": "missing API key"}, status=401)
        if d.kind == "flaky_json" and state.requests[d.slug] % 2 == 1:
            return web.json_response({"error": "temporarily unavailable"}, status=503)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        url, name = str(body.get("url", "")), str(body.get("title", ""))
        if not url.startswith(("http://", "https://")) or not name:
            return web.json_response({"error": "url and title are required"}, status=422)
        await slow_down()
        domain = record(d, url, name)
        await answer_when_released()
        listing = f"{request.url.origin()}/{d.slug}/site/{domain}"
        return web.json_response({"id": next(state.ids), "listing_url": listing}, status=201)

    async def listing(request: web.Request) -> web.Response:
        d = directory(request)
        found = state.listings.get((d.slug, request.match_info["domain"].lower()))
        if found is None:
            return _page("Not found", "<p>No such listing.</p>", 404)
        rel = ' rel="nofollow"' if d.link_type == "nofollow" else ""
        link = (
            f'<a href="{html.escape(found.url)}"{rel}>{html.escape(found.name)}</a>'
            if found.linked
            else html.escape(found.name)
        )
        return _page(f"{found.name} on {d.name}", f"<p>{link}</p>")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"submissions": dict(state.submissions)})

    async def control(request: web.Request) -> web.Response:
        key = (request.match_info["slug"], request.match_info["domain"].lower())
        found = state.listings.get(key)
        if found is None:
            raise web.HTTPNotFound()
        found.linked = request.match_info["action"] == "restore"
        return web.json_response({"linked": found.linked})

    async def slow(request: web.Request) -> web.Response:
        state.delay = float(request.query.get("seconds", "0"))
        return web.json_response({"delay": state.delay})

    app.router.add_get("/_stats", stats)
    app.router.add_post("/_control/slow", slow)
    app.router.add_post("/_control/{slug}/{action:drop|restore}/{domain}", control)
    app.router.add_get("/{slug}/", home)
    app.router.add_get("/{slug}/submit", form_page)
    app.router.add_post("/{slug}/submit", form_post)
    app.router.add_get("/{slug}/thanks", thanks)
    app.router.add_post("/{slug}/api/listings", api_post)
    app.router.add_get("/{slug}/site/{domain}", listing)
    return app


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    web.run_app(build_app(), host=host, port=port, print=None)
