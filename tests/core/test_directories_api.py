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
    "created_at",
    "updated_at",
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
    assert first["created_at"].endswith("Z") and first["updated_at"] == first["created_at"]
    del first["created_at"], first["updated_at"]
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
        ({"sort": "rating"}, "sort"),
        ({"sort": "DR"}, "sort"),
    ]:
        assert_error(
            await pro.get("/api/v1/directories", **params), 422, "validation_failed", field
        )


async def pages(client: Client, **params) -> list[int]:
    """Every id of the list, walked page by page with the cursors it hands out."""
    seen, cursor = [], None
    while True:
        a = await client.get(
            "/api/v1/directories", **params, **({"cursor": cursor} if cursor else {})
        )
        seen += ids_of(a)
        cursor = a.body["pagination"]["next_cursor"]
        if not a.body["pagination"]["has_more"]:
            return seen


async def test_directories_sort_by_dr_either_way_or_by_name_ties_broken_by_id(
    agency: Client, pro: Client, infra, listed
):
    from adapters.directories import upsert
    from domain.directory import parse_catalogue

    # ties: 13 shares 10's DR (45) and, but for case, 12's name
    tie = [entry(13, name="big saas list", category="saas", domain_rating=45)]
    async with infra.pool.acquire() as conn:
        await upsert(conn, parse_catalogue(json.dumps(tie).encode()))
    by_dr = [1, 2, 3, 4, 5, 10, 13, 11, 12, 6]
    by_dr_desc = [6, 12, 11, 10, 13, 5, 4, 3, 2, 1]
    by_name = [
        12,
        13,
        1,
        2,
        3,
        4,
        5,
        6,
        11,
        10,
    ]  # "big saas list" ×2, "dir 1"…, "saas…", "startup…"
    for sort, expected in [("dr", by_dr), ("-dr", by_dr_desc), ("name", by_name)]:
        assert ids_of(await agency.get("/api/v1/directories", sort=sort)) == expected, sort
        for limit in (1, 2, 3):  # the cursor carries the sort key: no row twice, none lost
            assert await pages(agency, sort=sort, limit=limit) == expected, (sort, limit)
    assert await pages(agency, limit=3) == sorted(by_dr)  # no sort: by id
    # filters and the plan's cap hold under every order
    assert ids_of(await pro.get("/api/v1/directories", sort="-dr")) == [11, 10, 13, 5, 4, 3, 2, 1]
    assert ids_of(await agency.get("/api/v1/directories", sort="name", category="saas")) == [
        12,
        13,
        11,
    ]


async def test_a_cursor_of_one_order_is_refused_by_another(agency: Client, listed):
    cursors = {}
    for sort in (None, "dr", "-dr", "name"):
        a = await agency.get("/api/v1/directories", limit=2, **({"sort": sort} if sort else {}))
        cursors[sort] = a.body["pagination"]["next_cursor"]
    for made_for, cursor in cursors.items():
        for used_with in (None, "dr", "-dr", "name"):
            if used_with == made_for:
                continue
            params = {"cursor": cursor, **({"sort": used_with} if used_with else {})}
            a = await agency.get("/api/v1/directories", **params)
            assert_error(a, 422, "validation_failed", "cursor")


async def test_one_directory_by_id_as_the_list_shows_it(pro: Client, agency: Client, listed):
    listed_by_pro = {d["id"]: d for d in (await pro.get("/api/v1/directories")).body["data"]}
    for directory_id in (1, 5, 11):  # 5 is paused: shown alone as in the list
        a = await pro.get(f"/api/v1/directories/{directory_id}")
        assert a.status == 200, a.body
        assert a.body == listed_by_pro[directory_id]
    assert (await pro.get("/api/v1/directories/5")).body["status"] == "paused"
    assert (await agency.get("/api/v1/directories/12/")).body["domain_rating"] == 70


async def test_a_directory_above_the_plans_cap_is_404_like_an_unknown_id(
    pro: Client, agency: Client, listed
):
    above_cap = await pro.get("/api/v1/directories/12")  # DR 70 > Pro's 50
    assert_error(above_cap, 404, "not_found")
    for unknown in ("999", "2147483648", "99999999999999999999"):
        a = await pro.get(f"/api/v1/directories/{unknown}")
        assert_error(a, 404, "not_found")
        assert a.body == above_cap.body  # nothing tells the two apart
    assert_error(await pro.get("/api/v1/directories/abc"), 404, "not_found")
    assert (await agency.get("/api/v1/directories/12")).status == 200
    # the checker's POST route beside it keeps its own 405
    a = await pro.get("/api/v1/directories/check-backlinks")
    assert_error(a, 405, "method_not_allowed")
    assert a.headers["Allow"] == "POST"


async def test_one_directory_needs_a_paid_plan(api, infra, listed):
    from tests.accounts import register

    free = Client(api, await register(api))
    assert_error(await free.get("/api/v1/directories/1"), 403, "plan_required")


async def test_import_dates_a_directory_when_created_and_when_changed(
    settings, infra, agency: Client, tmp_path
):
    path = tmp_path / "dirs.json"

    async def dates() -> dict[int, tuple[str, str]]:
        data = (await agency.get("/api/v1/directories")).body["data"]
        return {d["id"]: (d["created_at"], d["updated_at"]) for d in data}

    async def load(*entries) -> None:
        path.write_text(json.dumps(list(entries)))
        code, _, err = await backlynk(settings, "directories", "import", str(path))
        assert code == 0, err

    await load(entry(1), entry(2))
    first = await dates()
    assert all(created == updated for created, updated in first.values())
    await load(entry(1), entry(2))  # the same file again: nothing changed, no date moves
    assert await dates() == first
    await load(entry(1), entry(2, turnaround_days=3), entry(3))
    after = await dates()
    assert after[1] == first[1]
    assert after[2][0] == first[2][0] and after[2][1] > first[2][1]  # updated, same creation
    assert after[3][0] == after[3][1] > first[2][1]  # new


async def test_migration_adds_the_creation_date_to_an_older_catalogue_table(settings, infra):
    """A catalogue table made before `created_at` existed gains it on `backlynk migrate`,
    its rows dated by their last import; migrating again changes nothing."""
    from adapters.directories import upsert
    from domain.directory import parse_catalogue

    async with infra.pool.acquire() as conn:
        await upsert(conn, parse_catalogue(json.dumps([entry(1), entry(2)]).encode()))
        await conn.execute("ALTER TABLE directories DROP COLUMN created_at")
    for _ in range(2):
        code, _, err = await backlynk(settings, "migrate")
        assert code == 0, err
        rows = await infra.pool.fetch("SELECT id, created_at, updated_at FROM directories")
        assert len(rows) == 2 and all(r["created_at"] == r["updated_at"] for r in rows)
    column = await infra.pool.fetchrow(
        "SELECT is_nullable, column_default FROM information_schema.columns "
        "WHERE table_name = 'directories' AND column_name = 'created_at'"
    )
    assert column["is_nullable"] == "NO" and "now()" in column["column_default"]


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
