"""The backlink-check endpoints as a client sees them: validation, response shape, CSV,
rate limit, the authenticated variant and the web page's route."""

from __future__ import annotations

import csv
import io
import json
import uuid

import msgspec
import pytest

from adapters.fetcher import Fetcher
from adapters.infrastructure import Infrastructure
from adapters.settings import Settings
from tests.accounts import bearer, paid_account, register
from tests.checker.conftest import Checker
from tests.checker.sites import FixtureSite
from tests.conftest import LiveServer

LINK = '<html><body><a href="https://example.com/">Example</a></body></html>'

# The seed's "Public Backlink Check Response", with the `error` field API.md adds.
SEED_RESPONSE = """{
"domain": "example.com",
"checked": 1,
"summary": {
"alive": 1,
"dead": 0,
"withLink": 1,
"dofollow": 1,
"indexable": 1,
"redirected": 0
},
"results": [
{
"url": "https://directory.example/listing",
"finalUrl": "https://directory.example/listing",
"redirectChain": [],
"httpStatus": 200,
"domainFound": true,
"hasLink": true,
"linkType": "dofollow",
"targetUrl": "https://example.com/",
"anchorText": "Example",
"relAttributes": [],
"canonicalUrl": "https://directory.example/listing",
"robotsDirectives": [],
"indexable": true,
"error": null
}
]
}"""


async def test_the_seed_example_page_gives_the_seed_response_byte_for_byte(
    site: FixtureSite, app_server: LiveServer
) -> None:
    listing = site.url("/listing", host="directory.site.test", https=True)
    site.page(
        "/listing",
        f'<html><head><link rel="canonical" href="{listing}"></head>'
        '<body><a href="https://example.com/">Example</a></body></html>',
    )
    assert app_server.http
    async with app_server.http.post(
        "/api/v1/public/check-backlinks", json={"domain": "example.com", "urls": [listing]}
    ) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        raw = await response.read()
    expected = json.dumps(
        json.loads(SEED_RESPONSE.replace("https://directory.example/listing", listing)),
        separators=(",", ":"),
    ).encode()
    assert raw == expected


async def test_results_keep_input_order_and_duplicates_are_checked_once(
    site: FixtureSite, check: Checker
) -> None:
    a = site.page("/a", LINK)
    b = site.page("/b", "<p>no link</p>")
    status, body = await check.post({"domain": "example.com", "urls": [b, a, f" {b} ", a]})
    assert status == 200
    assert [r["url"] for r in body["results"]] == [b, a]
    assert body["checked"] == 2
    assert site.hits["/a"] == 1 and site.hits["/b"] == 1
    assert body["summary"] == {
        "alive": 2, "dead": 0, "withLink": 1, "dofollow": 1, "indexable": 2, "redirected": 0,
    }  # fmt: skip


async def test_25_urls_are_checked_concurrently(site: FixtureSite, check: Checker) -> None:
    urls = [site.page(f"/p{i}", LINK) for i in range(25)]
    status, body = await check.post({"domain": "example.com", "urls": urls})
    assert status == 200
    assert body["checked"] == 25 and body["summary"]["withLink"] == 25


async def test_26_urls_are_too_many_and_nothing_is_fetched(
    site: FixtureSite, check: Checker
) -> None:
    urls = [site.page(f"/p{i}", LINK) for i in range(26)]
    status, body = await check.post({"domain": "example.com", "urls": urls})
    assert status == 422
    assert body["error"]["code"] == "too_many_urls"
    assert body["error"]["field"] == "urls"
    assert body["error"]["details"]
    assert sum(site.hits.values()) == 0


async def test_invalid_url_names_its_index_and_nothing_is_fetched(
    site: FixtureSite, check: Checker
) -> None:
    good = site.page("/good", LINK)
    for bad in ["ftp://example.com/x", "/relative", "https://", "not a url", "http://x:99999/"]:
        status, body = await check.post({"domain": "example.com", "urls": [good] * 3 + [bad]})
        assert status == 422, bad
        assert body["message"] == "Validation failed"
        assert body["error"]["code"] == "invalid_url"
        assert body["error"]["field"] == "urls[3]"
        assert body["error"]["details"]
    assert site.hits["/good"] == 0


@pytest.mark.parametrize(
    "domain",
    ["localhost", "co.uk", "www.co.uk", "192.168.0.1", "exa mple.com", "", "-bad-.com", "com"],
)
async def test_invalid_domain(site: FixtureSite, check: Checker, domain: str) -> None:
    url = site.page("/x", LINK)
    status, body = await check.post({"domain": domain, "urls": [url]})
    assert status == 422
    assert (body["error"]["code"], body["error"]["field"]) == ("invalid_domain", "domain")
    assert body["error"]["details"]
    assert site.hits["/x"] == 0


async def test_no_urls_is_a_validation_failure(check: Checker) -> None:
    status, body = await check.post({"domain": "example.com", "urls": []})
    assert status == 422
    assert (body["error"]["code"], body["error"]["field"]) == ("validation_failed", "urls")


async def test_wrong_types_and_missing_fields_name_the_field(check: Checker) -> None:
    status, body = await check.post({"domain": "example.com", "urls": ["https://a.example", 3]})
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        422, "validation_failed", "urls[1]",
    )  # fmt: skip
    status, body = await check.post({"urls": ["https://a.example/"]})
    assert (status, body["error"]["field"]) == (422, "domain")


async def test_body_that_is_not_json(app_server: LiveServer) -> None:
    assert app_server.http
    async with app_server.http.post(
        "/api/v1/public/check-backlinks",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_json"


async def test_csv_output(site: FixtureSite, app_server: LiveServer) -> None:
    site.page("/end", '<a href="https://example.com/x" rel="nofollow ugc">Ex "1"</a>')
    start = site.redirect("/start", "/end", 301)
    failing = "http://private.test/"
    body = {"domain": "example.com", "urls": [start, failing]}
    assert app_server.http
    for kwargs in ({"headers": {"Accept": "text/csv"}}, {"params": {"format": "csv"}}):
        async with app_server.http.post(
            "/api/v1/public/check-backlinks", json=body, **kwargs
        ) as response:
            assert response.status == 200
            assert response.content_type == "text/csv"
            text = await response.text()
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == [
            "url", "finalUrl", "redirectChain", "httpStatus", "domainFound", "hasLink",
            "linkType", "targetUrl", "anchorText", "relAttributes", "canonicalUrl",
            "robotsDirectives", "indexable", "error",
        ]  # fmt: skip
        assert rows[1] == [
            start, site.url("/end"), f"301 {start}", "200", "true", "true", "ugc",
            "https://example.com/x", 'Ex "1"', "nofollow ugc", "", "", "true", "",
        ]  # fmt: skip
        assert rows[2] == [
            failing, failing, "", "", "false", "false", "", "", "", "", "", "", "false",
            "blocked_address",
        ]  # fmt: skip
        assert len(rows) == 3


async def test_redirect_chain_in_csv_joins_hops(site: FixtureSite, app_server: LiveServer) -> None:
    site.page("/c", LINK)
    b = site.redirect("/b", "/c", 302)
    a = site.redirect("/a", "/b", 301)
    assert app_server.http
    async with app_server.http.post(
        "/api/v1/public/check-backlinks?format=csv", json={"domain": "example.com", "urls": [a]}
    ) as response:
        rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[1][2] == f"301 {a} | 302 {b}"


async def test_public_checks_are_rate_limited_per_client_ip(
    site: FixtureSite,
    settings: Settings,
    infra: Infrastructure,
    fetcher: Fetcher,
) -> None:
    from api.app import create_app

    limited = msgspec.structs.replace(settings, public_check_rate=3)
    infra.fetcher = fetcher
    url = site.page("/rl", LINK)
    body = {"domain": "example.com", "urls": [url]}
    async with LiveServer(create_app(limited, infra=infra, in_process_projector=False)) as live:
        assert live.http
        for _ in range(3):
            async with live.http.post("/api/v1/public/check-backlinks", json=body) as r:
                assert r.status == 200
        async with live.http.post("/api/v1/public/check-backlinks", json=body) as r:
            assert r.status == 429
            retry_after = r.headers["Retry-After"]
            error = (await r.json())["error"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    assert error["code"] == "rate_limited" and error["details"]
    assert site.hits["/rl"] == 3  # the refused request fetched nothing


async def test_trailing_slash_is_accepted(site: FixtureSite, check: Checker) -> None:
    url = site.page("/ts", LINK)
    assert check.live.http
    async with check.live.http.post(
        "/api/v1/public/check-backlinks/", json={"domain": "example.com", "urls": [url]}
    ) as r:
        assert r.status == 200


async def test_get_is_method_not_allowed(app_server: LiveServer) -> None:
    assert app_server.http
    async with app_server.http.get("/api/v1/public/check-backlinks") as r:
        assert r.status == 405
        assert (await r.json())["error"]["code"] == "method_not_allowed"


async def test_the_web_tool_page_is_served(app_server: LiveServer) -> None:
    assert app_server.http
    async with app_server.http.get("/tools/backlink-checker") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        page = await r.text()
    # no inline code: the script and style are same-origin files
    assert '<script src="/tools/backlink-checker.js" defer></script>' in page
    assert "<script>" not in page and "<style>" not in page and " style=" not in page
    async with app_server.http.get("/tools/backlink-checker.js") as r:
        assert r.status == 200
        assert r.content_type == "text/javascript"
        assert "/api/v1/public/check-backlinks" in await r.text()
    async with app_server.http.get("/tools/backlink-checker.css") as r:
        assert (r.status, r.content_type) == (200, "text/css")


async def test_the_account_endpoint_requires_a_paid_plan_and_fetches_nothing_otherwise(
    site: FixtureSite, app_server: LiveServer, infra: Infrastructure
) -> None:
    url = site.page("/acct", LINK)
    body = {"domain": "example.com", "urls": [url]}
    assert app_server.http
    async with app_server.http.post("/api/v1/directories/check-backlinks", json=body) as r:
        assert r.status == 401
        assert (await r.json())["error"]["code"] == "authentication_required"
    free = await register(app_server)
    async with app_server.http.post(
        "/api/v1/directories/check-backlinks", json=body, headers=bearer(free)
    ) as r:
        assert r.status == 403
        assert (await r.json())["error"]["code"] == "plan_required"
    assert site.hits["/acct"] == 0
    paid = await paid_account(app_server, infra, "pro")
    async with app_server.http.post(
        "/api/v1/directories/check-backlinks", json=body, headers=bearer(paid)
    ) as r:
        assert r.status == 200
        report = await r.json()
    assert report["results"][0]["hasLink"] is True and site.hits["/acct"] == 1


async def test_an_idempotency_key_replays_the_first_answer_without_fetching_again(
    site: FixtureSite, check: Checker
) -> None:
    url = site.page("/idem", LINK)
    body = {"domain": "example.com", "urls": [url]}
    headers = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = await check.post(body, headers=headers)
    second = await check.post(body, headers=headers)
    assert first == second and first[0] == 200
    assert site.hits["/idem"] == 1
    status, error = await check.post({**body, "domain": "example.org"}, headers=headers)
    assert (status, error["error"]["code"]) == (409, "idempotency_key_reused")
