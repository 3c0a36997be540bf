"""Every dashboard form's refusals, through the real app (Postgres, Redis) with a cookie
jar and no browser: the API's words for the API's rules, CSRF refusals that change
nothing, another account's ids answering 404, the session cookie's flags."""

from __future__ import annotations

import html
import re

import msgspec
import pytest

from adapters.wiring import auth_ports
from api.app import create_app
from domain.services import sessions
from domain.services.accounts import set_plan
from tests.accounts import PASSWORD, unique_email
from tests.conftest import LiveServer
from tests.core.client import Client
from tests.dashboard.pages import Browser


def _text(page: str) -> str:
    return html.unescape(page)


async def _site(customer: Browser, url: str = "https://shop.example.com/") -> str:
    seen = await customer.submit(
        "/dashboard/sites", "/dashboard/sites", {"url": url, "name": "Shop"}
    )
    assert seen.status == 200 and "Site added." in seen.text, seen.text
    return re.findall(r"/dashboard/sites/(site_\w+)/edit", seen.text)[0]


async def _api_client(api, browser: Browser) -> Client:
    async with api.http.post(
        "/api/v1/auth/login", json={"email": browser.email, "password": PASSWORD}
    ) as r:
        assert r.status == 200
        return Client(api, await r.json())


async def _site_count(api, browser: Browser) -> int:
    client = await _api_client(api, browser)
    return len((await client.get("/api/v1/sites")).body["data"])


# -- signing in ---------------------------------------------------------------------


async def test_register_sign_out_and_in_again(visitor: Browser):
    await visitor.register()
    assert visitor.cookie("bk_session")
    overview = await visitor.get("/dashboard")
    assert "Your plan: Free" in overview.text and visitor.email in overview.text
    out = await visitor.post("/dashboard/sign-out", {"csrf_token": overview.csrf}, follow=False)
    assert out.status == 303 and out.headers["location"] == "/dashboard/sign-in?signed-out=1"
    assert visitor.cookie("bk_session") is None
    again = await visitor.get("/dashboard", follow=False)
    assert again.status == 303 and again.headers["location"].startswith("/dashboard/sign-in")
    signed = await visitor.sign_in(visitor.email)
    assert signed.status == 200 and "Overview" in signed.text


async def test_the_session_cookie_flags_in_dev_mode(visitor: Browser):
    page = await visitor.get("/dashboard/register")
    seen = await visitor.post(
        "/dashboard/register",
        {"csrf_token": page.csrf, "email": unique_email(), "password": PASSWORD},
        follow=False,
    )
    assert seen.status == 303
    cookie = next(c for c in seen.headers.getall("set-cookie") if c.startswith("bk_session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/dashboard" in flags
    assert "secure" not in flags  # dev mode serves plain http on loopback


async def test_the_cookies_are_secure_outside_dev_mode(isolated_settings, infra):
    app = create_app(
        msgspec.structs.replace(isolated_settings, dev=False),
        infra=infra,
        in_process_projector=True,
    )
    async with LiveServer(app) as live:
        browser = Browser(live)
        try:
            page = await browser.get("/dashboard/register")
            visitor_cookie = page.headers.getone("set-cookie")
            assert "secure" in visitor_cookie.lower() and "httponly" in visitor_cookie.lower()
            # a client keeps a Secure cookie for https only: hand it back ourselves
            seen = await browser.post(
                "/dashboard/register",
                {"csrf_token": page.csrf, "email": unique_email(), "password": PASSWORD},
                follow=False,
                headers={"Cookie": visitor_cookie.split(";", 1)[0]},
            )
            cookie = next(
                c for c in seen.headers.getall("set-cookie") if c.startswith("bk_session=")
            )
            flags = [part.strip().lower() for part in cookie.split(";")]
            assert {"secure", "httponly", "samesite=lax"} <= set(flags)
        finally:
            await browser.close()


async def test_sign_in_refusals_are_the_apis(visitor: Browser, api):
    await visitor.register()
    email = visitor.email
    other = Browser(api)
    try:
        wrong = await other.sign_in(email, "not the password at all")
        assert wrong.status == 401
        assert "The email or password is incorrect." in _text(wrong.text)
        assert email in wrong.text and "not the password" not in wrong.text
        assert other.cookie("bk_session") is None
        # the API's login throttle, per email: the form is no way around it
        for _ in range(5):
            await other.sign_in(email, "still wrong, still wrong")
        throttled = await other.sign_in(email)
        assert throttled.status == 429 and throttled.headers["retry-after"].isdigit()
        async with api.http.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ) as r:
            assert r.status == 429
    finally:
        await other.close()


async def test_register_refusals_are_the_apis(visitor: Browser, api):
    taken = unique_email()
    async with api.http.post(
        "/api/v1/auth/register", json={"email": taken, "password": PASSWORD}
    ) as r:
        assert r.status == 201
    cases = [
        ({"email": taken, "password": PASSWORD}, 409),
        ({"email": "not-an-address", "password": PASSWORD}, 422),
        ({"email": unique_email(), "password": "short"}, 422),
    ]
    for fields, status in cases:
        async with api.http.post("/api/v1/auth/register", json=fields) as r:
            assert r.status == status
            words = (await r.json())["error"]["details"]
        seen = await visitor.submit("/dashboard/register", "/dashboard/register", fields)
        assert seen.status == status and words in _text(seen.text), (fields, words)
        assert visitor.cookie("bk_session") is None


async def test_register_shares_the_apis_signup_limit(isolated_settings, infra):
    app = create_app(
        msgspec.structs.replace(isolated_settings, register_rate=1),
        infra=infra,
        in_process_projector=True,
    )
    async with LiveServer(app) as live:
        async with live.http.post(
            "/api/v1/auth/register", json={"email": unique_email(), "password": PASSWORD}
        ) as r:
            assert r.status == 201
        browser = Browser(live)
        try:
            seen = await browser.submit(
                "/dashboard/register",
                "/dashboard/register",
                {"email": unique_email(), "password": PASSWORD},
            )
            assert seen.status == 429 and "At most 1 sign-ups per hour" in seen.text
        finally:
            await browser.close()


async def test_a_next_page_is_a_dashboard_page_only(visitor: Browser):
    await visitor.register()
    await visitor.post(
        "/dashboard/sign-out", {"csrf_token": (await visitor.get("/dashboard")).csrf}
    )
    page = await visitor.get("/dashboard/sign-in", next="https://evil.example/")
    assert 'name="next" value="/dashboard"' in page.text
    for target, lands in (
        ("//evil.example/x", "/dashboard"),
        ("/dashboard/sites", "/dashboard/sites"),
    ):
        seen = await visitor.post(
            "/dashboard/sign-in",
            {"csrf_token": page.csrf, "email": visitor.email, "password": PASSWORD, "next": target},
            follow=False,
        )
        assert seen.status == 303 and seen.headers["location"] == lands
        await visitor.post(
            "/dashboard/sign-out", {"csrf_token": (await visitor.get("/dashboard")).csrf}
        )
        page = await visitor.get("/dashboard/sign-in")


async def test_an_ended_or_forged_session_goes_back_to_sign_in(customer: Browser, infra, api):
    assert (await customer.get("/dashboard/sites")).status == 200
    # the session ends elsewhere (as the API's logout ends it): the next page asks again
    await sessions.logout(auth_ports(infra), customer.cookie("bk_session"))
    seen = await customer.get("/dashboard/sites?status=x", follow=False)
    assert seen.status == 303
    assert seen.headers["location"] == "/dashboard/sign-in?next=%2Fdashboard%2Fsites%3Fstatus%3Dx"
    forged = Browser(api)
    try:
        forged.http.cookie_jar.update_cookies({"bk_session": "0" * 32 + ".0." + "A" * 43})
        assert (await forged.get("/dashboard", follow=False)).status == 303
    finally:
        await forged.close()


async def test_free_plan_pages_say_the_plan_rule(visitor: Browser):
    await visitor.register()
    for path in (
        "/dashboard/sites",
        "/dashboard/jobs/new",
        "/dashboard/backlinks",
        "/dashboard/api-keys",
    ):
        seen = await visitor.get(path)
        assert seen.status == 403 and "The Free plan has no API access" in seen.text, path


# -- CSRF ----------------------------------------------------------------------------


async def test_forms_without_the_sessions_token_change_nothing(customer: Browser, api):
    fields = {"url": "https://csrf.example.com/", "name": "Forged"}
    other = Browser(api)
    try:
        await other.register()
        someone_elses = (await other.get("/dashboard")).csrf
    finally:
        await other.close()
    for token in (None, "", "x" * 43, someone_elses):
        data = fields if token is None else {"csrf_token": token, **fields}
        seen = await customer.post("/dashboard/sites", data)
        assert seen.status == 403 and "This form was refused" in seen.text
    # not a form at all
    seen = await customer.post(
        "/dashboard/sites",
        b'{"url": "https://csrf.example.com/"}',
        headers={"Content-Type": "application/json"},
    )
    assert seen.status == 403
    assert await _site_count(api, customer) == 0
    # nor does signing out without it
    page = await customer.get("/dashboard")
    assert (await customer.post("/dashboard/sign-out", {"csrf_token": "nope"})).status == 403
    assert (await customer.get("/dashboard")).csrf == page.csrf  # still signed in


async def test_every_post_checks_the_token(customer: Browser):
    site = await _site(customer)
    for path in (
        "/dashboard/sites",
        f"/dashboard/sites/{site}",
        f"/dashboard/sites/{site}/archive",
        "/dashboard/jobs",
        "/dashboard/jobs/job_00000000000000000000000000000000/cancel",
        "/dashboard/api-keys",
        "/dashboard/api-keys/key_00000000000000000000000000000000/revoke",
        "/dashboard/sign-out",
    ):
        seen = await customer.post(path, {"csrf_token": "wrong", "name": "x"})
        assert seen.status in (403, 404), path
        assert seen.status == 403 or "jobs/job_" in path or "api-keys/key_" in path, path
    assert "status-active" in (await customer.get("/dashboard/sites")).text


async def test_the_sign_in_form_needs_the_visitors_token(visitor: Browser, api):
    email = unique_email()
    async with api.http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    ) as r:
        assert r.status == 201
    # no visitor cookie at all, as from another site's page
    seen = await visitor.post("/dashboard/sign-in", {"email": email, "password": PASSWORD})
    assert seen.status == 403 and visitor.cookie("bk_session") is None
    page = await visitor.get("/dashboard/sign-in")  # the visitor cookie is set now
    seen = await visitor.post(
        "/dashboard/sign-in", {"csrf_token": page.csrf[::-1], "email": email, "password": PASSWORD}
    )
    assert seen.status == 403 and visitor.cookie("bk_session") is None


# -- sites ---------------------------------------------------------------------------


async def test_site_refusals_are_the_apis(customer: Browser, api):
    client = await _api_client(api, customer)
    await _site(customer, "https://taken.example.com/")
    cases = [
        ({"url": "not a url", "name": "X"}, "url"),
        ({"url": "https://localhost/", "name": "X"}, "url"),
        ({"url": "https://taken.example.com/", "name": "Again"}, None),
        ({"url": "https://ok.example.com/", "name": "N" * 201}, "name"),
        ({"url": "https://ok.example.com/", "name": "X", "contact_email": "nope"}, "contact_email"),
        ({"url": "https://ok.example.com/", "name": "X", "keywords": ",".join(["k"] * 51)}, None),
    ]
    for fields, _ in cases:
        body = {k: v for k, v in fields.items() if k != "keywords"}
        if "keywords" in fields:
            body["keywords"] = fields["keywords"].split(",")
        answer = await client.post("/api/v1/sites", body)
        assert answer.status in (409, 422), answer.body
        seen = await customer.submit("/dashboard/sites", "/dashboard/sites", fields)
        assert seen.status == answer.status, (fields, seen.status)
        assert answer.body["error"]["details"] in _text(seen.text), (fields, answer.body)
        # what was typed stays in the form
        assert html.escape(fields["name"], quote=True) in seen.text
    assert await _site_count(api, customer) == 1


async def test_the_site_limit_is_the_plans(customer: Browser, infra):
    await set_plan(auth_ports(infra), customer.email, "pro")
    for i in range(10):
        await _site(customer, f"https://limit{i}.example.com/")
    seen = await customer.submit(
        "/dashboard/sites", "/dashboard/sites", {"url": "https://eleven.example.com/", "name": "X"}
    )
    assert seen.status == 422 and "10" in seen.text and "sites" in seen.text


async def test_edit_and_archive_a_site(customer: Browser, api):
    site = await _site(customer)
    page = await customer.get(f"/dashboard/sites/{site}/edit")
    assert page.status == 200 and 'value="Shop"' in page.text
    bad = await customer.post(
        f"/dashboard/sites/{site}", {"csrf_token": page.csrf, "name": "", "keywords": ""}
    )
    assert bad.status == 422 and 'aria-invalid="true"' in bad.text
    saved = await customer.post(
        f"/dashboard/sites/{site}",
        {"csrf_token": page.csrf, "name": "Shop 2", "keywords": "a, b", "category": "saas"},
    )
    assert saved.status == 200 and "Site saved." in saved.text
    client = await _api_client(api, customer)
    shown = (await client.get(f"/api/v1/sites/{site}")).body
    assert shown["name"] == "Shop 2" and shown["keywords"] == ["a", "b"]
    assert shown["category"] == "saas" and shown["description"] is None
    archived = await customer.post(f"/dashboard/sites/{site}/archive", {"csrf_token": page.csrf})
    assert "Site archived." in archived.text
    assert (await client.get(f"/api/v1/sites/{site}")).body["status"] == "archived"
    # an archived site cannot change: the domain's words, in the form
    again = await customer.post(f"/dashboard/sites/{site}/archive", {"csrf_token": page.csrf})
    assert again.status == 200  # archiving twice is no change
    edit = await customer.post(
        f"/dashboard/sites/{site}", {"csrf_token": page.csrf, "name": "Shop 3"}
    )
    assert edit.status == 422
    assert "The site is archived; register it again to use it." in edit.text


# -- jobs ----------------------------------------------------------------------------


async def test_new_job_shows_the_plans_directories_and_the_cost(customer: Browser, catalogue):
    site = await _site(customer)
    page = await customer.get("/dashboard/jobs/new", site=site)
    # the catalogue fixture: 5 is paused, 6 is above Pro's cap
    assert re.findall(r'name="d" value="(\d+)"', page.text) == ["1", "2", "3", "4"]
    assert re.search(r'id="cost-units"[^>]*>4<', page.text)
    review = await customer.post(
        "/dashboard/jobs",
        [("csrf_token", page.csrf), ("site", site), ("d", "1"), ("d", "3"), ("step", "review")],
    )
    assert review.status == 200 and re.search(r'id="cost-units"[^>]*>2<', review.text)
    assert re.findall(r'value="(\d+)" data-fresh checked', review.text) == ["1", "3"]
    started = await customer.post(
        "/dashboard/jobs",
        [("csrf_token", page.csrf), ("site", site), ("d", "1"), ("d", "3"), ("step", "start")],
    )
    assert started.status == 200 and "Job for Shop" in started.text
    # those two are claimed now: skipped and free in the next job
    again = await customer.get("/dashboard/jobs/new", site=site)
    assert again.text.count("already submitted: skipped, free") == 2
    assert re.search(r'id="cost-units"[^>]*>2<', again.text)
    filtered = await customer.get("/dashboard/jobs/new", site=site, min_dr="23")
    assert re.findall(r'name="d" value="(\d+)"', filtered.text) == ["3", "4"]
    # every eligible directory ticked is the API's "all not yet submitted": no skips
    everything = await customer.post(
        "/dashboard/jobs",
        [("csrf_token", page.csrf), ("site", site), ("step", "start")]
        + [("d", str(d)) for d in (1, 2, 3, 4)],
    )
    assert everything.status == 200 and "Job for Shop" in everything.text
    tasks = re.findall(r'<td class="wrap">(Dir \d)</td>', everything.text)
    assert tasks == ["Dir 2", "Dir 4"] and "skipped" not in everything.text.split("<h2>")[1]


async def test_the_months_table_is_the_usage_report(customer: Browser, api, catalogue):
    site = await _site(customer)
    page = await customer.get("/dashboard/jobs/new", site=site)
    started = await customer.post(
        "/dashboard/jobs",
        [("csrf_token", page.csrf), ("site", site), ("d", "1"), ("d", "2"), ("step", "start")],
    )
    assert started.status == 200
    client = await _api_client(api, customer)
    report = (await client.get("/api/v1/reports/usage")).body["data"]
    this_month = report[-1]
    assert this_month["reserved"] == 2 and this_month["used"] == 0
    seen = await customer.get("/dashboard/backlinks")
    row = re.findall(r"<tr><td>([\d-]+)</td>(.*?)</tr>", seen.text)[-1]
    cells = re.findall(r'<td class="num">(\d+)</td>', row[1])
    assert row[0] == this_month["period"]
    assert cells == [str(this_month[k]) for k in ("reserved", "used", "released")]


async def test_job_refusals_are_the_services(customer: Browser, catalogue):
    site = await _site(customer)
    token = (await customer.get("/dashboard/jobs/new")).csrf

    async def start(*pairs: tuple[str, str]):
        return await customer.post(
            "/dashboard/jobs", [("csrf_token", token), ("step", "start"), *pairs]
        )

    cases = [
        ((("d", "1"),), 422, "Pick a site."),
        ((("site", site),), 422, "Tick at least one directory."),
        ((("site", site), ("d", "abc")), 422, "Expected `int`, got `str`"),
        ((("site", site), ("d", "5")), 422, "Directory 5 is paused."),
        ((("site", site), ("d", "6")), 403, "Directory 6 has DR 80, above your plan's cap of 50."),
    ]
    for pairs, status, words in cases:
        seen = await start(*pairs)
        assert seen.status == status and words in _text(seen.text), (pairs, seen.status)
    assert "No jobs yet." in (await customer.get("/dashboard/jobs")).text


async def test_cancel_a_job_then_cancel_it_again(customer: Browser, catalogue):
    site = await _site(customer)
    page = await customer.get("/dashboard/jobs/new", site=site)
    job = await customer.post(
        "/dashboard/jobs",
        [("csrf_token", page.csrf), ("site", site), ("d", "1"), ("step", "start")],
    )
    job_path = job.url.split("127.0.0.1", 1)[1].split(":", 1)[1].split("/", 1)[1]
    job_path = "/" + job_path
    assert job_path.startswith("/dashboard/jobs/job_")
    live = await customer.get(f"{job_path}/progress")
    assert live.status == 200 and "data-final" not in live.text.split(">", 1)[0]
    canceled = await customer.post(f"{job_path}/cancel", {"csrf_token": page.csrf})
    assert canceled.status == 200 and "Cancel requested" in canceled.text
    assert "status-canceled" in canceled.text
    final = await customer.get(f"{job_path}/progress")
    assert "data-final" in final.text.split(">", 1)[0]
    again = await customer.post(f"{job_path}/cancel", {"csrf_token": page.csrf})
    assert again.status == 409 and "finished" in again.text


# -- another account's ids -----------------------------------------------------------


async def test_another_accounts_ids_are_not_found(customer: Browser, api, infra, catalogue):
    site = await _site(customer)
    page = await customer.get("/dashboard/jobs/new", site=site)
    job = await customer.post(
        "/dashboard/jobs",
        [("csrf_token", page.csrf), ("site", site), ("d", "1"), ("step", "start")],
    )
    job_id = re.search(r"/dashboard/jobs/(job_\w+)", job.url).group(1)
    created = await customer.submit("/dashboard/api-keys", "/dashboard/api-keys", {"name": "k"})
    key_id = re.search(r"/dashboard/api-keys/(key_\w+)/revoke", created.text).group(1)

    intruder = Browser(api)
    try:
        await intruder.register()
        await set_plan(auth_ports(infra), intruder.email, "pro")
        token = (await intruder.get("/dashboard")).csrf
        for path in (
            f"/dashboard/sites/{site}/edit",
            f"/dashboard/jobs/{job_id}",
            f"/dashboard/jobs/{job_id}/progress",
            f"/dashboard/jobs/new?site={site}",
            f"/dashboard/backlinks?site_id={site}",
            f"/dashboard/backlinks.csv?site_id={site}",
            "/dashboard/jobs/not-an-id",
            "/dashboard/no-such-page",
        ):
            seen = await intruder.get(path)
            assert seen.status == 404 and "Not found" in seen.text, path
            assert seen.headers["content-type"].startswith("text/html"), path
        for path, fields in (
            (f"/dashboard/sites/{site}", {"name": "Mine now"}),
            (f"/dashboard/sites/{site}/archive", {}),
            (f"/dashboard/jobs/{job_id}/cancel", {}),
            (f"/dashboard/api-keys/{key_id}/revoke", {}),
        ):
            seen = await intruder.post(path, {"csrf_token": token, **fields})
            assert seen.status == 404, path
        seen = await intruder.post(
            "/dashboard/jobs",
            [("csrf_token", token), ("site", site), ("d", "2"), ("step", "start")],
        )
        assert seen.status == 404
    finally:
        await intruder.close()
    # nothing of theirs changed
    assert "status-queued" in (await customer.get(f"/dashboard/jobs/{job_id}")).text
    assert 'value="Shop"' in (await customer.get(f"/dashboard/sites/{site}/edit")).text
    assert key_id in (await customer.get("/dashboard/api-keys")).text


# -- backlinks and API keys ----------------------------------------------------------


async def test_backlink_filters_refuse_as_the_api_does(customer: Browser, api):
    client = await _api_client(api, customer)
    answer = await client.get("/api/v1/backlinks", status="gone")
    seen = await customer.get("/dashboard/backlinks", status="gone")
    assert seen.status == 422 == answer.status
    assert answer.body["error"]["details"] in _text(seen.text)
    ok = await customer.get("/dashboard/backlinks", status="live")
    assert ok.status == 200 and "No backlinks match these filters yet." in ok.text
    assert 'href="/dashboard/backlinks.csv?status=live"' in ok.text
    csv = await customer.get("/dashboard/backlinks.csv", status="live")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text == (await client.call("GET", "/api/v1/backlinks?format=csv&status=live")).body


async def test_api_keys_shown_once_limited_and_revoked(customer: Browser, api):
    seen = await customer.submit("/dashboard/api-keys", "/dashboard/api-keys", {"name": "   "})
    assert seen.status == 422 and "Give the key a name of 1 to" in seen.text
    secrets = []
    for i in range(5):
        made = await customer.submit(
            "/dashboard/api-keys", "/dashboard/api-keys", {"name": f"k{i}"}
        )
        assert made.status == 201 and made.headers["cache-control"] == "no-store"
        secrets.append(re.search(r'id="new-key-secret">([^<]+)<', made.text).group(1))
    over = await customer.submit("/dashboard/api-keys", "/dashboard/api-keys", {"name": "six"})
    assert over.status == 422 and "5" in over.text
    listed = await customer.get("/dashboard/api-keys")
    assert not any(s in listed.text for s in secrets) and 'href="/docs"' in listed.text
    key_id = re.findall(r"/dashboard/api-keys/(key_\w+)/revoke", listed.text)[-1]
    async with api.http.get("/api/v1/users/me", headers={"x-api-key": secrets[0]}) as r:
        assert r.status == 200
    revoked = await customer.post(
        f"/dashboard/api-keys/{key_id}/revoke", {"csrf_token": listed.csrf}
    )
    assert "Key revoked" in revoked.text and key_id not in revoked.text
    async with api.http.get("/api/v1/users/me", headers={"x-api-key": secrets[0]}) as r:
        assert r.status == 401
    again = await customer.post(f"/dashboard/api-keys/{key_id}/revoke", {"csrf_token": listed.csrf})
    assert again.status == 404


@pytest.mark.parametrize("size", [300 * 1024])
async def test_an_oversized_form_is_refused(customer: Browser, size: int):
    token = (await customer.get("/dashboard/sites")).csrf
    seen = await customer.post("/dashboard/sites", {"csrf_token": token, "name": "x" * size})
    assert seen.status == 403  # never read: not a form of ours


async def test_digits_that_are_not_ascii_are_no_number_on_any_page(customer: Browser, catalogue):
    # "²" passed `str.isdigit()` and then crashed `int()`: a 500 on every page below
    site = await _site(customer)
    for path, params in [
        ("/dashboard/jobs/new", {"site": site, "min_dr": "\u00b2"}),
        ("/dashboard/sites", {"before": "\u00b2"}),
        ("/dashboard/jobs", {"before": "\u00b2"}),
        ("/dashboard/backlinks", {"before": "\u00b2"}),
        ("/dashboard/jobs", {"before": "9" * 5000}),
    ]:
        seen = await customer.get(path, **params)
        assert seen.status == 200, (path, params, seen.text[:200])
    # read as no filter: every eligible directory listed, as without min_dr
    unfiltered = await customer.get("/dashboard/jobs/new", site=site)
    filtered = await customer.get("/dashboard/jobs/new", site=site, min_dr="\u00b2")
    listed = re.compile(r'name="d" value="(\d+)"')
    assert listed.findall(filtered.text) == listed.findall(unfiltered.text) != []
