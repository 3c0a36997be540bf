"""The directory catalogue: `backlynk directories import` (upsert, validated whole, clear
errors), the demo catalogue, and `GET /api/v1/directories` within the plan's DR cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.client import Client, assert_error
from tests.test_cli_users import backlynk

DEMO_CATALOGUE = Path(__file__).parents[2] / "adapters" / "demo" / "directories.json"

DIRECTORY_KEYS = {
    "id",
    "name",
    "homepage_url",
    "domain_rating",
    "category",
    "link_type",
    "submission_method",
    "turnaround_days",
    "status",
}


def entry(i: int, **over) -> dict:
    return {
        "id": i,
        "name": f"Directory {i}",
        "homepage_url": f"https://dir{i}.example/",
        "category": "general",
        "domain_rating": 30,
        "link_type": "dofollow",
        "turnaround_days": 1,
        "status": "active",
        "method": "form",
        "submit_url": f"https://dir{i}.example/submit",
        "field_map": {"url": "website"},
        **over,
    }


@pytest.fixture
async def listed(infra, catalogue):
    """The catalogue fixture plus three directories with distinct categories and names."""
    from adapters.directories import upsert
    from domain.directory import parse_catalogue

    extra = [
        entry(10, name="Startup Stash", category="startups", domain_rating=45),
        entry(11, name="SaaS Corner", category="saas", domain_rating=50, link_type="nofollow"),
        entry(12, name="Big SaaS List", category="saas", domain_rating=70, method="json"),
    ]
    async with infra.pool.acquire() as conn:
        await upsert(conn, parse_catalogue(json.dumps(extra).encode()))


def ids_of(answer) -> list[int]:
    assert answer.status == 200, answer.body
    return [d["id"] for d in answer.body["data"]]


async def test_directories_within_the_plan_cap_without_how_to_submit(
    pro: Client, agency: Client, listed
):
    a = await pro.get("/api/v1/directories")
    assert ids_of(a) == [1, 2, 3, 4, 5, 10, 11]  # 6 (DR 80) and 12 (DR 70) above the cap
    first = a.body["data"][0]
    assert set(first) == DIRECTORY_KEYS
    assert first == {
        "id": 1,
        "name": "Dir 1",
        "homepage_url": "https://dir1.example/",
        "domain_rating": 21,
        "category": "general",
        "link_type": "dofollow",
        "submission_method": "json",
        "turnaround_days": 0,
        "status": "active",
    }
    assert next(d for d in a.body["data"] if d["id"] == 5)["status"] == "paused"
    text = json.dumps(a.body)
    assert "submit" not in text.replace("submission_method", "")
    assert "field_map" not in text and "website" not in text
    assert ids_of(await agency.get("/api/v1/directories")) == [1, 2, 3, 4, 5, 6, 10, 11, 12]


async def test_directory_filters(pro: Client, agency: Client, listed):
    assert ids_of(await pro.get("/api/v1/directories", category="saas")) == [11]
    assert ids_of(await agency.get("/api/v1/directories", category="SaaS")) == [11, 12]
    assert ids_of(await agency.get("/api/v1/directories", min_dr="45")) == [6, 10, 11, 12]
    assert ids_of(await agency.get("/api/v1/directories", max_dr="22")) == [1, 2]
    assert ids_of(await agency.get("/api/v1/directories", min_dr="45", max_dr="60")) == [10, 11]
    assert ids_of(await pro.get("/api/v1/directories", min_dr="60")) == []  # the cap still holds
    assert ids_of(await agency.get("/api/v1/directories", q="saas")) == [11, 12]
    assert ids_of(await agency.get("/api/v1/directories", q="stash")) == [10]
    assert ids_of(await agency.get("/api/v1/directories", q="%")) == []  # literal, not LIKE
    assert ids_of(await agency.get("/api/v1/directories", q="saas", max_dr="50")) == [11]


async def test_directory_list_pages_with_a_cursor(agency: Client, listed):
    seen, cursor = [], None
    while True:
        a = await agency.get(
            "/api/v1/directories", limit=4, **({"cursor": cursor} if cursor else {})
        )
        seen += ids_of(a)
        cursor = a.body["pagination"]["next_cursor"]
        if not a.body["pagination"]["has_more"]:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 10, 11, 12]


async def test_bad_directory_query_parameters_are_422(pro: Client, listed):
    for params, field in [
        ({"min_dr": "high"}, "min_dr"),
        ({"min_dr": "-1"}, "min_dr"),
        ({"max_dr": "101"}, "max_dr"),
        ({"q": "x" * 101}, "q"),
        ({"limit": "500"}, "limit"),
        ({"cursor": "zz"}, "cursor"),
    ]:
        assert_error(
            await pro.get("/api/v1/directories", **params), 422, "validation_failed", field
        )


async def test_directories_require_credentials(api):
    async with api.http.get("/api/v1/directories") as r:
        assert r.status == 401


# -- `backlynk directories import` -----------------------------------------------------


async def test_import_upserts_by_id(settings, infra, pro: Client, tmp_path):
    path = tmp_path / "dirs.json"
    path.write_text(json.dumps([entry(1), entry(2)]))
    code, _, err = await backlynk(settings, "directories", "import", str(path))
    assert code == 0, err
    assert "imported 2" in err
    path.write_text(json.dumps([entry(2, name="Renamed", status="paused"), entry(3)]))
    code, _, err = await backlynk(settings, "directories", "import", str(path))
    assert code == 0, err
    listed = (await pro.get("/api/v1/directories")).body["data"]
    assert [(d["id"], d["name"], d["status"]) for d in listed] == [
        (1, "Directory 1", "active"),
        (2, "Renamed", "paused"),
        (3, "Directory 3", "active"),
    ]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json", "not valid JSON"),
        ('{"id": 1}', "Expected `array`"),
        (json.dumps([entry(1), entry(2, domain_rating=101)]), "$[1].domain_rating"),
        (json.dumps([entry(1), entry(1)]), "duplicate id"),
        (json.dumps([entry(1, link_type="sponsored")]), "link_type"),
        (json.dumps([entry(1, field_map={"colour": "c"})]), "colour"),
        (json.dumps([entry(1, success_pattern="(")]), "success_pattern"),
        (json.dumps([entry(1, listing_url_template="https://d/{nope}")]), "nope"),
        (json.dumps([{k: v for k, v in entry(1).items() if k != "name"}]), "name"),
        (json.dumps([entry(1, submit_url="javascript:alert(1)")]), "submit_url"),
    ],
)
async def test_import_refuses_a_bad_file_whole_with_a_clear_reason(
    settings, infra, tmp_path, content, says
):
    path = tmp_path / "dirs.json"
    path.write_text(content)
    code, _, err = await backlynk(settings, "directories", "import", str(path))
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], err
    assert await infra.pool.fetchval("SELECT count(*) FROM directories") == 0


async def test_import_of_a_missing_file_fails_clearly(settings, tmp_path):
    code, _, err = await backlynk(settings, "directories", "import", str(tmp_path / "none.json"))
    assert code != 0 and "cannot read" in err


async def test_the_demo_catalogue_imports_and_is_listed(settings, infra, agency: Client):
    code, _, err = await backlynk(settings, "directories", "import", str(DEMO_CATALOGUE))
    assert code == 0, err
    demo = json.loads(DEMO_CATALOGUE.read_text())
    listed = (await agency.get("/api/v1/directories")).body["data"]
    assert [d["id"] for d in listed] == sorted(d["id"] for d in demo)
    coverage = await agency.get("/api/v1/public/coverage")
    assert coverage.body["total"] == sum(d["status"] == "active" for d in demo)
