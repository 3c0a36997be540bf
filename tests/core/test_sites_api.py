"""`/api/v1/sites` through the HTTP API: registration (URL rules, normalisation, the
landing-page check through the SSRF-guarded fetcher), list, read, update, archive."""

from __future__ import annotations

import pytest

from tests.core.client import Client, account, assert_error, event_count

SITE_KEYS = {
    "id",
    "url",
    "domain",
    "name",
    "description",
    "category",
    "keywords",
    "contact_email",
    "status",
    "created_at",
    "updated_at",
}


async def test_register_site_returns_the_normalised_site_and_reads_it_back(pro: Client):
    a = await pro.post(
        "/api/v1/sites",
        {
            "url": "https://Shop.EXAMPLE.com:443",
            "name": "Shop",
            "description": "Hand-made things",
            "category": "retail",
            "keywords": ["shop", "crafts"],
            "contact_email": "owner@shop.example.com",
        },
    )
    assert a.status == 201, a.body
    site = a.body
    assert set(site) == SITE_KEYS
    assert site["id"].startswith("site_")
    assert site["url"] == "https://shop.example.com/"
    assert site["domain"] == "shop.example.com"
    assert site["status"] == "active"
    assert site["keywords"] == ["shop", "crafts"]
    assert site["created_at"].endswith("Z") and site["created_at"] == site["updated_at"]
    # read-your-writes: the read models show it at once
    assert (await pro.get(f"/api/v1/sites/{site['id']}")).body == site
    assert (await pro.get("/api/v1/sites")).body["data"] == [site]


async def test_register_site_defaults_the_optional_fields(pro: Client):
    site = await pro.add_site("https://example.org/shop?ref=1", name="Only a name")
    assert site["url"] == "https://example.org/shop?ref=1"
    assert site["description"] is None and site["category"] is None
    assert site["contact_email"] is None and site["keywords"] == []


@pytest.mark.parametrize(
    ("raw", "url", "domain"),
    [
        ("https://bücher.de", "https://xn--bcher-kva.de/", "xn--bcher-kva.de"),
        (
            "https://www.example.co.uk:8443/a",
            "https://www.example.co.uk:8443/a",
            "www.example.co.uk",
        ),
        ("  https://EXAMPLE.net./  ", "https://example.net/", "example.net"),
    ],
)
async def test_site_urls_are_normalised(pro: Client, raw: str, url: str, domain: str):
    site = await pro.add_site(raw)
    assert (site["url"], site["domain"]) == (url, domain)


BAD_URLS = [
    "http://example.com/",  # not https
    "https://93.184.216.34/",  # IP literal
    "https://[2606:2800:220:1::]/",  # IPv6 literal
    "https://localhost/",
    "https://localhost.localdomain/",
    "https://user:secret@example.com/",  # userinfo
    "https://user@example.com/",
    "https://intranet.local/",  # not under a public suffix
    "https://co.uk/",  # a public suffix itself
    "example.com",  # not absolute
    "ftp://example.com/",
    "",
]


async def test_unacceptable_site_urls_are_refused_and_change_nothing(pro: Client, infra):
    before = await event_count(infra)
    for url in BAD_URLS:
        a = await pro.post("/api/v1/sites", {"url": url, "name": "Bad"})
        assert_error(a, 422, "invalid_site_url", "url")
    assert await event_count(infra) == before
    assert (await pro.get("/api/v1/sites")).body["data"] == []


async def test_the_same_url_twice_in_one_account_is_409(pro: Client, infra):
    await pro.add_site("https://example.com/")
    before = await event_count(infra)
    a = await pro.post("/api/v1/sites", {"url": "https://EXAMPLE.com:443", "name": "Again"})
    assert_error(a, 409, "site_exists", "url")
    assert await event_count(infra) == before
    assert len((await pro.get("/api/v1/sites")).body["data"]) == 1


async def test_two_accounts_may_register_the_same_url(api, infra, pro: Client):
    other = await account(api, infra, "pro")
    first = await pro.add_site("https://example.com/")
    second = await other.add_site("https://example.com/")
    assert first["id"] != second["id"]


async def test_the_plan_site_limit_is_enforced(pro: Client, infra):
    for n in range(10):  # pro: 10 sites
        await pro.add_site(f"https://limit{n}.example.com/")
    before = await event_count(infra)
    a = await pro.post("/api/v1/sites", {"url": "https://eleven.example.com/", "name": "11"})
    assert_error(a, 422, "site_limit_reached")
    assert "10" in a.body["error"]["details"]
    assert await event_count(infra) == before
    # archiving one makes room again
    oldest = (await pro.get("/api/v1/sites", limit=200)).body["data"][-1]
    assert (await pro.delete(f"/api/v1/sites/{oldest['id']}")).status == 200
    await pro.add_site("https://eleven.example.com/")


INVALID_BODIES = [
    ({"url": "https://example.com/"}, "name"),
    ({"name": "No URL"}, "url"),
    ({"url": "https://example.com/", "name": ""}, "name"),
    ({"url": "https://example.com/", "name": 5}, "name"),
    ({"url": "https://example.com/", "name": "x", "keywords": "a,b"}, "keywords"),
    ({"url": "https://example.com/", "name": "x", "keywords": ["ok", 3]}, "keywords[1]"),
    ({"url": "https://example.com/", "name": "x", "contact_email": "nope"}, "contact_email"),
    ({"url": 42, "name": "x"}, "url"),
]


async def test_site_validation_errors_name_the_field(pro: Client, infra):
    before = await event_count(infra)
    for body, field in INVALID_BODIES:
        assert_error(await pro.post("/api/v1/sites", body), 422, "validation_failed", field)
    assert await event_count(infra) == before


async def test_a_malformed_email_is_explained_in_words_not_a_regex(pro: Client):
    for answer in (
        await pro.post(
            "/api/v1/sites", {"url": "https://e.example.com/", "name": "x", "contact_email": "nope"}
        ),
        await pro.patch(f"/api/v1/sites/{(await pro.add_site())['id']}", {"contact_email": "x"}),
    ):
        assert_error(answer, 422, "validation_failed", "contact_email")
        details = answer.body["error"]["details"]
        assert "regex" not in details and "^" not in details, details
        assert "email address" in details, details


async def test_unknown_fields_are_ignored(pro: Client):
    a = await pro.post(
        "/api/v1/sites", {"url": "https://example.com/", "name": "x", "colour": "blue"}
    )
    assert a.status == 201 and "colour" not in a.body


async def test_body_that_is_not_a_json_object_is_400(pro: Client):
    a = await pro.call("POST", "/api/v1/sites", json=["https://example.com/"])
    assert_error(a, 400, "invalid_json")


async def test_sites_list_newest_first_with_cursor_pagination(pro: Client):
    made = [await pro.add_site(f"https://page{n}.example.com/") for n in range(5)]
    newest_first = [s["id"] for s in reversed(made)]
    first = await pro.get("/api/v1/sites", limit=2)
    assert first.status == 200
    assert [s["id"] for s in first.body["data"]] == newest_first[:2]
    assert first.body["pagination"]["limit"] == 2
    assert first.body["pagination"]["has_more"] is True
    seen = [s["id"] for s in first.body["data"]]
    cursor = first.body["pagination"]["next_cursor"]
    while cursor:
        page = await pro.get("/api/v1/sites", limit=2, cursor=cursor)
        seen += [s["id"] for s in page.body["data"]]
        cursor = page.body["pagination"]["next_cursor"]
        assert page.body["pagination"]["has_more"] is (cursor is not None)
    assert seen == newest_first
    everything = await pro.get("/api/v1/sites")
    assert everything.body["pagination"] == {"limit": 50, "has_more": False, "next_cursor": None}


BAD_LIST_PARAMS = [
    ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"cursor": "not-a-cursor!"}, "cursor"),
    ({"cursor": "eyJ4Ijp9"}, "cursor"),
    ({"status": "deleted"}, "status"),
]


async def test_bad_list_parameters_are_422(pro: Client):
    for params, field in BAD_LIST_PARAMS:
        assert_error(await pro.get("/api/v1/sites", **params), 422, "validation_failed", field)


async def test_limit_bounds_are_accepted(pro: Client):
    await pro.add_site()
    assert (await pro.get("/api/v1/sites", limit="1")).status == 200
    assert (await pro.get("/api/v1/sites", limit="200")).status == 200


async def test_patch_changes_only_what_is_sent_and_null_clears(pro: Client, infra):
    site = await pro.add_site(
        "https://example.com/",
        description="Old",
        category="retail",
        keywords=["a"],
        contact_email="a@example.com",
    )
    path = f"/api/v1/sites/{site['id']}"
    a = await pro.patch(path, {"name": "New name", "description": None, "keywords": ["b", "c"]})
    assert a.status == 200, a.body
    assert a.body["name"] == "New name"
    assert a.body["description"] is None  # null clears
    assert a.body["keywords"] == ["b", "c"]
    assert a.body["category"] == "retail"  # absent: unchanged
    assert a.body["contact_email"] == "a@example.com"
    assert a.body["url"] == site["url"] and a.body["created_at"] == site["created_at"]
    assert a.body["updated_at"] > site["updated_at"]
    assert (await pro.get(path)).body == a.body
    # an empty patch changes nothing and writes nothing
    before = await event_count(infra)
    same = await pro.patch(path, {})
    assert same.status == 200 and same.body == a.body
    assert await event_count(infra) == before


async def test_patch_refuses_a_url_change_and_bad_values_naming_the_field(pro: Client, infra):
    site = await pro.add_site("https://example.com/", category="retail")
    path = f"/api/v1/sites/{site['id']}"
    before = await event_count(infra)
    assert_error(
        await pro.patch(path, {"url": "https://other.example.com/"}),
        422,
        "validation_failed",
        "url",
    )
    assert_error(await pro.patch(path, {"name": ""}), 422, "validation_failed", "name")
    assert_error(await pro.patch(path, {"name": None}), 422, "validation_failed", "name")
    assert_error(await pro.patch(path, {"keywords": None}), 422, "validation_failed", "keywords")
    assert_error(
        await pro.patch(path, {"contact_email": "x"}), 422, "validation_failed", "contact_email"
    )
    assert_error(await pro.patch(path, {"category": 7}), 422, "validation_failed", "category")
    assert await event_count(infra) == before
    assert (await pro.get(path)).body == site


async def test_unknown_site_ids_are_404(pro: Client):
    for path in ("/api/v1/sites/site_nope", "/api/v1/sites/job_0", "/api/v1/sites/123"):
        assert_error(await pro.get(path), 404, "not_found")
        assert_error(await pro.patch(path, {"name": "x"}), 404, "not_found")
        assert_error(await pro.delete(path), 404, "not_found")


async def test_delete_archives_and_frees_the_url(pro: Client, infra):
    site = await pro.add_site("https://example.com/")
    path = f"/api/v1/sites/{site['id']}"
    a = await pro.delete(path)
    assert a.status == 200, a.body
    assert a.body["status"] == "archived" and a.body["id"] == site["id"]
    assert (await pro.get(path)).body["status"] == "archived"
    archived = await pro.get("/api/v1/sites", status="archived")
    assert [s["id"] for s in archived.body["data"]] == [site["id"]]
    assert (await pro.get("/api/v1/sites", status="active")).body["data"] == []
    # an archived site cannot be edited, and deleting it again changes nothing
    before = await event_count(infra)
    assert_error(await pro.patch(path, {"name": "x"}), 422, "validation_failed")
    again = await pro.delete(path)
    assert again.status == 200 and again.body["status"] == "archived"
    assert await event_count(infra) == before
    # the URL can be registered again, as a new site
    fresh = await pro.add_site("https://example.com/")
    assert fresh["id"] != site["id"] and fresh["status"] == "active"


async def test_trailing_slash_paths_work(pro: Client):
    a = await pro.post("/api/v1/sites/", {"url": "https://example.com/", "name": "x"})
    assert a.status == 201, a.body
    assert (await pro.get("/api/v1/sites/")).body["data"][0]["id"] == a.body["id"]
    assert (await pro.get(f"/api/v1/sites/{a.body['id']}/")).status == 200


async def test_free_plan_gets_403_plan_required(api, infra):
    from tests.accounts import register

    free = Client(api, await register(api))
    before = await event_count(infra)
    assert_error(
        await free.post("/api/v1/sites", {"url": "https://example.com/", "name": "x"}),
        403,
        "plan_required",
    )
    assert_error(await free.get("/api/v1/sites"), 403, "plan_required")
    assert_error(await free.get("/api/v1/sites/site_x"), 403, "plan_required")
    assert await event_count(infra) == before


async def test_sites_require_credentials(api):
    async with api.http.get("/api/v1/sites") as r:
        assert r.status == 401
        assert (await r.json())["error"]["code"] == "authentication_required"


# -- the landing-page check -------------------------------------------------------------


def landing(site, host: str = "shop.example.com", path: str = "/") -> str:
    return f"https://{host}:{site.tls_port}{path}"


async def test_landing_page_that_answers_2xx_is_accepted(verifying_api, infra, landing_site):
    client = await account(verifying_api, infra, "pro")
    landing_site.page("/", "<html><title>Shop</title><body>Welcome</body></html>")
    site = await client.add_site(landing(landing_site))
    assert site["url"] == landing(landing_site)
    assert landing_site.hits["/"] == 1  # fetched once, through the app's fetcher
    assert any("BacklynkBot" in ua for ua in landing_site.user_agents)


async def test_landing_page_after_five_redirects_is_accepted(verifying_api, infra, landing_site):
    client = await account(verifying_api, infra, "pro")
    for n in range(5):
        landing_site.redirect(f"/r{n}", landing(landing_site, path=f"/r{n + 1}"))
    landing_site.page("/r5", "<p>here</p>")
    await client.add_site(landing(landing_site, path="/r0"))


@pytest.mark.parametrize(
    ("setup", "path", "host", "reason"),
    [
        (lambda s: s.page("/gone", "missing", status=404), "/gone", "shop.example.com", "404"),
        (lambda s: s.page("/err", "oops", status=500), "/err", "shop.example.com", "500"),
        (
            lambda s: s.page("/meta", '<meta name="robots" content="noindex">'),
            "/meta",
            "shop.example.com",
            "noindex",
        ),
        (
            lambda s: s.page("/hdr", "<p>x</p>", headers=[("X-Robots-Tag", "noindex")]),
            "/hdr",
            "shop.example.com",
            "noindex",
        ),
        (lambda s: None, "/", "nowhere.example.com", "dns_error"),
        (lambda s: None, "/", "intranet.example.com", "blocked_address"),
    ],
)
async def test_unusable_landing_pages_are_invalid_site_url(
    verifying_api, infra, landing_site, setup, path, host, reason
):
    client = await account(verifying_api, infra, "pro")
    setup(landing_site)
    before = await event_count(infra)
    a = await client.post("/api/v1/sites", {"url": landing(landing_site, host, path), "name": "x"})
    assert_error(a, 422, "invalid_site_url", "url")
    assert reason in a.body["error"]["details"]
    assert await event_count(infra) == before
    assert (await client.get("/api/v1/sites")).body["data"] == []


async def test_landing_page_with_too_many_redirects_is_refused(verifying_api, infra, landing_site):
    client = await account(verifying_api, infra, "pro")
    for n in range(6):
        landing_site.redirect(f"/r{n}", landing(landing_site, path=f"/r{n + 1}"))
    landing_site.page("/r6", "<p>too far</p>")
    a = await client.post("/api/v1/sites", {"url": landing(landing_site, path="/r0"), "name": "x"})
    assert_error(a, 422, "invalid_site_url", "url")
    assert landing_site.hits["/r6"] == 0


async def test_redirect_to_a_private_address_is_refused(verifying_api, infra, landing_site):
    client = await account(verifying_api, infra, "pro")
    landing_site.redirect("/", "https://intranet.example.com/admin")
    a = await client.post("/api/v1/sites", {"url": landing(landing_site), "name": "x"})
    assert_error(a, 422, "invalid_site_url", "url")
    assert "blocked_address" in a.body["error"]["details"]


async def test_verification_off_skips_only_the_fetch(pro: Client, landing_site):
    """BACKLYNK_VERIFY_SITES=0: nothing is fetched, the URL rules still hold."""
    site = await pro.add_site(landing(landing_site, path="/missing"))
    assert site["status"] == "active"
    assert landing_site.hits == {}
    assert_error(
        await pro.post("/api/v1/sites", {"url": "http://example.com/", "name": "x"}),
        422,
        "invalid_site_url",
        "url",
    )


async def test_a_duplicate_is_refused_before_fetching(verifying_api, infra, landing_site):
    client = await account(verifying_api, infra, "pro")
    landing_site.page("/", "<p>ok</p>")
    await client.add_site(landing(landing_site))
    a = await client.post("/api/v1/sites", {"url": landing(landing_site), "name": "x"})
    assert_error(a, 409, "site_exists", "url")
    assert landing_site.hits["/"] == 1
