"""`GET /api/v1/reports/usage`, `/reports/directories` and `/reports/backlinks` through the
real HTTP API: figures after jobs driven through the application services, paging, CSV
(whole, formula cells escaped), paid plans only, errors in the envelope, another
account's site 404 — and every report read from the read pool (`READ_DATABASE_URL`)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from adapters.infrastructure import open_infrastructure
from api.app import create_app
from domain import ids
from domain.quota import period_of
from projections.registry import read_models
from projections.runner import wait_for
from tests.accounts import register
from tests.conftest import LiveServer
from tests.core.client import Client, account, assert_error, event_count
from tests.flows.support import add_directories, json_directory
from tests.report_flows import add_by_hand, check, fail, lose, not_found, submit, verify

pytestmark = pytest.mark.usefixtures("catalogue")

USAGE, DIRECTORIES, BACKLINKS = (
    "/api/v1/reports/usage",
    "/api/v1/reports/directories",
    "/api/v1/reports/backlinks",
)
FORMULA_NAME = '=HYPERLINK("https://evil.example")'


async def settled(infra: Any) -> None:
    last = await infra.store.max_notification_id()
    assert await wait_for(infra.read_pool, read_models(), last, timeout=30)


async def scenario(client: Client, infra: Any) -> dict[str, Any]:
    """Site A: a job on 1, 2, 3, 7 — 1 verified (dofollow) then lost, 2 rejected,
    3 submitted then never listed, 7 verified (nofollow). Site B: a job on 1, pending."""
    repo = infra.repository
    await add_directories(
        infra, json_directory(7, "https://seven.example/submit", name=FORMULA_NAME)
    )
    a, b = await client.add_site(), await client.add_site()
    job = await client.job(a["id"], [1, 2, 3, 7])
    job_id = ids.decode("job", job["id"])
    await submit(repo, job_id, 1)
    await lose(repo, await verify(repo, job_id, 1, "dofollow"))
    await fail(repo, job_id, 2, "rejected")
    await submit(repo, job_id, 3)
    await not_found(repo, job_id, 3)
    await submit(repo, job_id, 7)
    await verify(repo, job_id, 7, "nofollow")
    await client.job(b["id"], [1])
    await settled(infra)
    return {"a": a, "b": b, "job": job}


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_usage_per_month_and_per_site(pro: Client, infra):
    s = await scenario(pro, infra)
    month = period_of(datetime.now(UTC))
    a = await pro.get(USAGE)  # the twelve months up to this one
    assert a.status == 200, a.body
    assert len(a.body["data"]) == 12 and a.body["data"][-1]["period"] == month
    assert all(r["site_id"] is None for r in a.body["data"])
    # 5 units reserved, 3 used by submissions, 1 released by the refusal
    assert a.body["data"][-1] == {
        "period": month,
        "site_id": None,
        "reserved": 5,
        "used": 3,
        "released": 1,
    }
    assert all(r["reserved"] == 0 for r in a.body["data"][:-1])
    by_site = await pro.get(USAGE, group_by="site", **{"from": month, "to": month})
    assert by_site.status == 200, by_site.body
    assert {
        r["site_id"]: (r["reserved"], r["used"], r["released"]) for r in by_site.body["data"]
    } == {
        s["a"]["id"]: (4, 3, 1),
        s["b"]["id"]: (1, 0, 0),
    }
    assert all(r["period"] is None for r in by_site.body["data"])


async def test_usage_pages_with_a_cursor(pro: Client, infra):
    await scenario(pro, infra)
    seen, cursor = [], None
    while True:
        params = {"from": "2026-01", "to": "2026-05", "limit": "2"}
        a = await pro.get(USAGE, **params, **({"cursor": cursor} if cursor else {}))
        assert a.status == 200, a.body
        seen += [r["period"] for r in a.body["data"]]
        cursor = a.body["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert seen == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]


async def test_usage_up_to_the_last_four_digit_month_is_twelve_months(pro: Client, infra):
    # months were counted by comparing strings, and "10000-01" sorts before "9999-12":
    # a report to 9999-12 built over a million rows (the CSV sent them all)
    a = await pro.get(USAGE, to="9999-12")
    assert a.status == 200, a.body
    assert [r["period"] for r in a.body["data"]] == [f"9999-{m:02d}" for m in range(1, 13)]
    whole = await pro.get(USAGE, to="9999-12", format="csv")
    assert whole.status == 200
    assert [r[0] for r in csv_rows(whole.body)[1:]] == [f"9999-{m:02d}" for m in range(1, 13)]


async def test_directories_report_for_the_account_and_one_site(pro: Client, infra):
    s = await scenario(pro, infra)
    a = await pro.get(DIRECTORIES)
    assert a.status == 200, a.body
    rows = {r["directory_id"]: r for r in a.body["data"]}
    assert sorted(rows) == [1, 2, 3, 7]
    assert rows[1]["submitted"] == 1 and rows[1]["verified"] == 1
    assert rows[1]["lost_rate"] == 1.0 and rows[1]["dofollow_share"] == 1.0
    assert rows[1]["median_seconds_to_verified"] >= 0
    assert rows[2]["failed_by_code"] == {"rejected": 1} and rows[2]["acceptance_rate"] == 0.0
    assert rows[3]["failed_by_code"] == {"listing_not_found": 1}
    assert rows[7]["directory_name"] == FORMULA_NAME and rows[7]["dofollow_share"] == 0.0
    assert rows[1]["directory_name"] == "Dir 1"  # as the catalogue names it

    only_b = await pro.get(DIRECTORIES, site_id=s["b"]["id"])
    assert only_b.status == 200, only_b.body
    assert [(r["directory_id"], r["submitted"]) for r in only_b.body["data"]] == [(1, 0)]


async def test_backlinks_report_per_day_and_week(pro: Client, infra):
    s = await scenario(pro, infra)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    a = await pro.get(BACKLINKS)
    assert a.status == 200, a.body
    days = a.body["data"]
    assert len(days) == 30
    assert days[-1]["start"] == today.strftime("%Y-%m-%dT%H:%M:%SZ")
    # two found today, one of them lost: one live at the day's end
    assert {k: days[-1][k] for k in ("live", "discovered", "lost", "recovered")} == {
        "live": 1,
        "discovered": 2,
        "lost": 1,
        "recovered": 0,
    }
    assert all(d["live"] == 0 and d["discovered"] == 0 for d in days[:-1])
    weeks = await pro.get(BACKLINKS, interval="week", site_id=s["b"]["id"])
    assert weeks.status == 200, weeks.body
    assert len(weeks.body["data"]) == 12
    assert all(w["live"] == 0 for w in weeks.body["data"])  # site B has no backlink
    monday = datetime.fromisoformat(weeks.body["data"][-1]["start"])
    assert monday.weekday() == 0 and monday <= today < monday + timedelta(weeks=1)
    later = await pro.get(
        BACKLINKS,
        **{
            "from": (today + timedelta(days=1)).isoformat(),
            "to": (today + timedelta(days=2)).isoformat(),
        },
    )
    assert [d["live"] for d in later.body["data"]] == [1, 1]  # still live after today


async def test_backlinks_report_counts_a_hand_added_link_from_its_first_finding(pro: Client, infra):
    """Pending and unreachable before it is ever found: not live; found: discovered; then
    unreachable: still live; then missing: lost. No directory's figures count it."""
    repo = infra.repository
    site = await pro.add_site()
    account_id = ids.decode("usr", pro.tokens["user"]["id"])
    link = await add_by_hand(repo, account_id, ids.decode("site", site["id"]), "https://p.example/")

    async def today() -> dict[str, int]:
        await settled(infra)
        answer = await pro.get(BACKLINKS, site_id=site["id"])
        assert answer.status == 200, answer.body
        last = answer.body["data"][-1]
        return {k: last[k] for k in ("live", "discovered", "lost", "recovered")}

    nothing = {"live": 0, "discovered": 0, "lost": 0, "recovered": 0}
    assert await today() == nothing  # pending
    assert await check(repo, link, "unreachable") == "unreachable"
    assert await today() == nothing  # never found yet
    assert await check(repo, link, "found") == "live"
    assert await today() == {**nothing, "live": 1, "discovered": 1}
    assert await check(repo, link, "unreachable") == "unreachable"
    assert await today() == {**nothing, "live": 1, "discovered": 1}  # unreachable is not lost
    assert await check(repo, link, "missing") == "lost"
    assert await today() == {**nothing, "discovered": 1, "lost": 1}
    directories = await pro.get(DIRECTORIES)
    assert directories.status == 200 and directories.body["data"] == [], directories.body


async def test_a_hand_added_link_lost_before_it_was_ever_found_counts_nowhere(pro: Client, infra):
    repo = infra.repository
    site = await pro.add_site()
    account_id = ids.decode("usr", pro.tokens["user"]["id"])
    link = await add_by_hand(repo, account_id, ids.decode("site", site["id"]), "https://q.example/")
    assert await check(repo, link, "missing") == "pending"
    assert await check(repo, link, "missing") == "lost"
    await settled(infra)
    lost = (await pro.get(BACKLINKS, site_id=site["id"])).body["data"][-1]
    assert (lost["live"], lost["discovered"], lost["lost"]) == (0, 0, 0)
    assert await check(repo, link, "found") == "live"  # Recovered: its first finding
    await settled(infra)
    found = (await pro.get(BACKLINKS, site_id=site["id"])).body["data"][-1]
    assert (found["live"], found["discovered"], found["lost"], found["recovered"]) == (1, 1, 0, 0)


async def test_reports_as_csv_are_whole_and_escape_formulas(pro: Client, infra):
    await scenario(pro, infra)
    a = await pro.call("GET", DIRECTORIES, headers={"Accept": "text/csv"}, params={"limit": 1})
    assert a.status == 200 and a.headers["content-type"].startswith("text/csv"), a.body
    header, *rows = csv_rows(a.body)
    assert header[:2] == ["directory_id", "submitted"] and header[-1] == "directory_name"
    assert len(rows) == 4  # the whole report, not one page
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert by_id["7"]["directory_name"] == "'" + FORMULA_NAME
    assert by_id["2"]["failed_by_code"] == "rejected:1"
    assert by_id["3"]["median_seconds_to_verified"] == ""
    usage = await pro.get(USAGE, format="csv", group_by="site")
    assert usage.status == 200, usage.body
    assert csv_rows(usage.body)[0] == ["period", "site_id", "reserved", "used", "released"]
    assert len(csv_rows(usage.body)) == 3
    links = await pro.get(BACKLINKS, format="csv")
    header, *days = csv_rows(links.body)
    assert header == ["start", "live", "discovered", "lost", "recovered"] and len(days) == 30


async def test_free_plan_is_refused_every_report(api, infra):
    free = Client(api, await register(api))
    for path in (USAGE, DIRECTORIES, BACKLINKS):
        assert_error(await free.get(path), 403, "plan_required")
        assert_error(await free.get(path, format="csv"), 403, "plan_required")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (USAGE, {"from": "2026-13"}, "from"),
        (USAGE, {"to": "26-01"}, "to"),
        (USAGE, {"from": "2026-01-01"}, "from"),
        (USAGE, {"from": "2026-05", "to": "2026-04"}, "from"),
        (USAGE, {"from": "2020-01", "to": "2026-01"}, "from"),
        # the twelve months before it are no months: used to be a 500
        (USAGE, {"to": "0000-01"}, "to"),
        (USAGE, {"from": "0000-01", "to": "0000-12"}, "from"),
        (USAGE, {"to": "1969-12", "format": "csv"}, "to"),
        (USAGE, {"group_by": "year"}, "group_by"),
        (USAGE, {"cursor": "not-ours"}, "cursor"),
        (USAGE, {"limit": "0"}, "limit"),
        (DIRECTORIES, {"cursor": "eyJhIjoxfQ"}, "cursor"),
        (DIRECTORIES, {"limit": "201"}, "limit"),
        (BACKLINKS, {"interval": "month"}, "interval"),
        (BACKLINKS, {"from": "yesterday"}, "from"),
        (BACKLINKS, {"from": "2026-01-01T00:00:00"}, "from"),  # no offset: no instant
        (BACKLINKS, {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "from"),
        (BACKLINKS, {"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        (BACKLINKS, {"cursor": "eyJhIjoxfQ"}, "cursor"),
        (BACKLINKS, {"to": "9999-12-31T23:59:59Z"}, "to"),
        (BACKLINKS, {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"}, "from"),
        (BACKLINKS, {"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, "from"),
    ],
)
async def test_bad_parameters_are_refused_in_the_envelope(pro: Client, infra, path, params, field):
    before = await event_count(infra)
    assert_error(await pro.get(path, **params), 422, "validation_failed", field)
    assert await event_count(infra) == before


async def test_another_accounts_site_is_not_found(pro: Client, agency: Client, infra):
    theirs = await agency.add_site()
    for path in (DIRECTORIES, BACKLINKS):
        assert_error(await pro.get(path, site_id=theirs["id"]), 404, "not_found", "site_id")
        assert_error(await pro.get(path, site_id="site_nonsense"), 404, "not_found", "site_id")
    assert (await agency.get(DIRECTORIES, site_id=theirs["id"])).status == 200


async def test_reports_show_only_the_callers_account(pro: Client, agency: Client, infra):
    await scenario(agency, infra)
    for path in (DIRECTORIES,):
        assert (await pro.get(path)).body["data"] == []
    assert all(r["reserved"] == 0 for r in (await pro.get(USAGE)).body["data"])
    assert all(d["discovered"] == 0 for d in (await pro.get(BACKLINKS)).body["data"])


READ_POOL_NAME = "backlynk-report-read-pool"


async def waiting_reader(infra: Any, client: Client, path: str, table: str) -> list[Any]:
    """The sessions whose report query on `table` waits for a lock this test holds while
    `client` asks for `path` (bounded wait: no timing is asserted)."""
    async with infra.pool.acquire() as conn:
        locked = conn.transaction()
        await locked.start()
        await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        request = asyncio.create_task(client.get(path))
        try:
            for _ in range(1200):
                waiting = await infra.pool.fetch(
                    """SELECT application_name, query FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock'
                         AND query LIKE $1""",
                    f"%FROM {table}%",
                )
                if waiting or request.done():
                    break
                await asyncio.sleep(0.05)
        finally:
            await locked.rollback()
        assert (await request).status == 200
    return list(waiting)


async def test_reports_are_read_from_the_read_pool(settings, infra):
    """The read pool's DSN carries its own application_name: while a report table is
    locked, the session waiting to read it for the report is one of the read pool's."""
    separator = "&" if "?" in settings.database_url else "?"
    read_url = f"{settings.database_url}{separator}application_name={READ_POOL_NAME}"
    split = msgspec.structs.replace(settings, read_database_url=read_url, verify_sites=False)
    own = await open_infrastructure(split, pool_size=4)
    try:
        assert own.read_pool is not own.pool
        app = create_app(split, infra=own, in_process_projector=True)
        async with LiveServer(app) as live:
            client = await account(live, own, "pro")
            await scenario(client, own)
            for path, table in (
                (USAGE, "report_usage"),
                (DIRECTORIES, "report_tasks"),
                (BACKLINKS, "report_link_changes"),
            ):
                waiting = await waiting_reader(infra, client, path, table)
                assert [r["application_name"] for r in waiting] == [READ_POOL_NAME], waiting
    finally:
        await own.close()
