"""The public pages over HTTP, without signing in: coverage, quality tiers and delivery
examples show aggregates and anonymised evidence — and no page, nor its JSON twin, holds
any directory's name or URL from the demo catalogue, or a customer's site."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import html as lxml_html

from api.public_pages import PAGES
from tests.public.conftest import (
    assert_nothing_identifying,
    catalogue_secrets,
    customer_secrets,
)
from tests.public.flows import choose, deliver

pytestmark = pytest.mark.usefixtures("demo_catalogue")

PUBLIC_PAGES = [href for _, href in PAGES]
PUBLIC_JSON = [
    "/api/v1/public/coverage",
    "/api/v1/public/quality-tiers",
    "/api/v1/public/delivery-examples",
]


async def fetch(api, path: str) -> tuple[int, str, Any]:
    async with api.http.get(path) as r:
        return r.status, await r.text(), r.headers


async def page(api, path: str) -> Any:
    status, text, headers = await fetch(api, path)
    assert status == 200, (path, text)
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    doc = lxml_html.fromstring(text)
    if path != "/tools/backlink-checker":
        # the same page for everyone, so a shared cache may keep it: nobody is signed in
        assert headers["Cache-Control"] == "public, max-age=60"
        assert doc.xpath("//form") == []
    return doc, text


async def delivered_everywhere(api, infra, agency) -> tuple[list[dict], dict[int, str]]:
    """Three sites, each submitted to all nine demo directories: 6 always refuses, 9 once;
    the rest are verified (3 is a nofollow directory). In DR 30-49 that makes 5
    directories and 15 outcomes, 11 of them live listings; every other tier has fewer than
    three directories."""
    sites, found = [], {}
    for n in range(3):
        site = await agency.add_site()
        sites.append(site)
        failed = (6, 9) if n == 0 else (6,)
        found |= await deliver(api, infra, agency, site, list(range(1, 10)), failed=failed)
    return sites, found


async def test_coverage_page_counts_by_tier_and_category_with_a_chart(api, demo_catalogue):
    doc, text = await page(api, "/coverage")
    assert doc.get_element_by_id("total").text_content() == "9"
    tiers = {
        card.get("data-tier"): card.find("b").text_content()
        for card in doc.xpath("//*[@id='tier-cards']/*[@data-tier]")
    }
    assert tiers == {"0-29": "2", "30-49": "5", "50-69": "1", "70+": "1"}
    rows = [
        [cell.text_content() for cell in row]
        for row in doc.xpath("//*[@id='coverage-table']/tbody/tr")
    ]
    assert rows[0] == ["general", "1", "1", "0", "0", "2"]  # 7 (DR 27), 6 (DR 30)
    assert [r[0] for r in rows] == ["general", "local", "marketing", "saas", "startups",
                                    "technology"]  # fmt: skip
    assert len(doc.xpath("//svg//rect[@class='bar']")) == 4 + 6  # tiers, categories
    async with api.http.get("/api/v1/public/coverage") as r:
        assert (await r.json())["total"] == 9
    assert_nothing_identifying(text, catalogue_secrets(demo_catalogue), "/coverage")


async def test_quality_tiers_show_figures_only_above_the_minimum_sample(
    api, infra, agency, demo_catalogue
):
    sites, found = await delivered_everywhere(api, infra, agency)
    async with api.http.get("/api/v1/public/quality-tiers") as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "public, max-age=60"
        body = await r.json()
    assert (body["min_directories"], body["min_outcomes"]) == (3, 10)
    tiers = {t["group"]: t for t in body["dr_tiers"]}
    assert list(tiers) == ["0-29", "30-49", "50-69", "70+"]
    mid = tiers["30-49"]
    assert mid["enough_data"] is True
    assert (mid["directories"], mid["outcomes"]) == (5, 15)
    assert mid["acceptance_rate"] == round(11 / 15, 4) and mid["dofollow_share"] == 1.0
    assert mid["median_hours_to_live"] >= 0
    for name in ("0-29", "50-69", "70+"):
        assert tiers[name]["enough_data"] is False
        assert tiers[name]["acceptance_rate"] is None and tiers[name]["outcomes"] is None
    assert tiers["0-29"]["directories"] == 2  # 3 and 7: one short of the minimum
    # no category holds three directories in the demo catalogue: none shows a figure
    assert {c["group"] for c in body["categories"]} == {
        "general", "local", "marketing", "saas", "startups", "technology"
    }  # fmt: skip
    assert not any(c["enough_data"] or c["acceptance_rate"] for c in body["categories"])

    doc, text = await page(api, "/quality-tiers")
    row = {
        r.get("data-group"): [c.text_content().strip() for c in r[1:]]
        for r in doc.xpath("//*[@id='tiers-table']/tbody/tr")
    }
    assert row["30-49"][0:3] == ["5", "15", "73%"] and row["30-49"][4] == "100%"
    assert row["0-29"] == row["50-69"] == row["70+"] == ["not enough data"]
    assert all(
        r[1].text_content() == "not enough data"
        for r in doc.xpath("//*[@id='categories-table']/tbody/tr")
    )
    assert len(doc.xpath("//svg//rect[@class='bar']")) == 1  # the one tier with figures
    secrets = catalogue_secrets(demo_catalogue) + customer_secrets(sites) + [*found.values()]
    assert_nothing_identifying(text, secrets, "/quality-tiers")


async def test_delivery_examples_page_shows_anonymised_evidence(api, infra, agency, demo_catalogue):
    site = await agency.add_site()
    other = await agency.add_site()
    found = await deliver(api, infra, agency, site, [3, 5])
    found |= await deliver(api, infra, agency, other, [2], anchor=f"Visit {other['domain']}")
    doc, _ = await page(api, "/delivery-examples")
    assert doc.get_element_by_id("no-examples") is not None

    chosen = [
        await choose(infra, found[3], "Live the same day"),
        await choose(infra, found[5]),
        await choose(infra, found[2]),
    ]
    doc, text = await page(api, "/delivery-examples")
    sections = doc.xpath("//section[contains(@class, 'example')]")
    assert [s.get("id") for s in sections] == chosen[::-1]  # the newest choice first

    def evidence(section) -> dict[str, str]:
        return {
            r[0].text_content(): r[1].text_content().strip()
            for r in section.xpath(".//table[@class='evidence']//tr")
        }

    nofollow = evidence(sections[2])
    assert sections[2].xpath(".//h2")[0].text_content() == "A DR 0-29 directory"
    assert sections[2].xpath(".//p")[0].text_content() == "Live the same day"
    assert nofollow | {"Checked at": "-"} == {
        "Listing page": "https://directory.example/listing",
        "HTTP status": "200",
        "Link found": "yes",
        "Link type": "nofollow",
        "Links to": "https://customer.example/",
        "Anchor text": "the site's name",
        "rel": "nofollow",
        "Indexable": "yes",
        "Checked at": "-",
    }
    assert nofollow["Checked at"].endswith("UTC")
    assert evidence(sections[0])["Anchor text"] == "the site's address"
    assert evidence(sections[1])["Link type"] == "dofollow"
    secrets = (
        catalogue_secrets(demo_catalogue) + customer_secrets([site, other]) + list(found.values())
    )
    assert_nothing_identifying(text, secrets, "/delivery-examples")


async def test_every_public_page_links_to_the_others_and_the_checker(api):
    for path in [*PUBLIC_PAGES]:
        doc, _ = await page(api, path)
        hrefs = {a.get("href") for a in doc.iter("a")}
        missing = set(PUBLIC_PAGES) - hrefs
        assert missing == set(), (path, missing)
        if path != "/tools/backlink-checker":
            current = doc.xpath("//nav//a[@aria-current='page']")
            assert [a.get("href") for a in current] == [path]


async def test_no_page_or_json_names_a_directory_or_a_customer(api, infra, agency, demo_catalogue):
    sites, found = await delivered_everywhere(api, infra, agency)
    for backlink_id in list(found.values())[:5]:
        await choose(infra, backlink_id)
    secrets = catalogue_secrets(demo_catalogue) + customer_secrets(sites) + list(found.values())
    for path in [*PUBLIC_PAGES[:3], *PUBLIC_JSON]:
        status, text, _ = await fetch(api, path)
        assert status == 200, path
        assert_nothing_identifying(text, secrets, path)


async def test_public_pages_take_no_credentials_and_refuse_other_methods(api):
    for path in PUBLIC_PAGES[:3]:
        async with api.http.post(path) as r:
            assert r.status == 405
        async with api.http.head(path) as r:
            assert r.status == 200
