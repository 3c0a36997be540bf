"""`GET /api/v1/backlinks` through the HTTP API: filters, refusals, newest-first cursor
pagination, CSV, tenant isolation and the plan gate.

Backlinks come from the real flows: jobs are created over HTTP, then the services the
workers call record the submission, the listing found (a backlink discovered) and a
re-check that lost the link."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from domain import ids
from domain.backlink import Evidence
from domain.services import delivery, monitoring, verification
from domain.services.delivery import Submitted
from projections.runner import wait_for
from tests.accounts import paid_account, register
from tests.core.client import Client, assert_error

pytestmark = pytest.mark.usefixtures("catalogue")

CSV_HEADER = [
    "id",
    "site_id",
    "directory_id",
    "job_id",
    "source_url",
    "target_url",
    "anchor_text",
    "link_type",
    "rel_attributes",
    "http_status",
    "indexable",
    "status",
    "first_seen_at",
    "last_checked_at",
    "lost_at",
]


async def discover(
    api, infra, client: Client, site: dict[str, Any], directory_id: int, **evidence: Any
) -> str:
    """A job for one directory, submitted and verified: the backlink's public id."""
    job = await client.job(site["id"], [directory_id])
    job_id = ids.decode("job", job["id"])
    repo = infra.repository
    listing = f"https://dir{directory_id}.example/site/{site['domain']}"
    await delivery.begin_submission(repo, job_id, directory_id)
    await delivery.record_outcome(repo, job_id, directory_id, Submitted(listing))
    found = Evidence(
        **{
            "source_url": listing,
            "has_link": True,
            "target_url": site["url"],
            "anchor_text": site["name"],
            "link_type": "dofollow",
            "http_status": 200,
            "indexable": True,
            **evidence,
        }
    )
    backlink = await verification.record_listing_found(repo, job_id, directory_id, found)
    await settled(api, infra)
    return ids.encode("bl", backlink.id)


async def lose(api, infra, backlink_id: str, source_url: str) -> None:
    gone = Evidence(source_url, has_link=False, http_status=200, indexable=True)
    for _ in range(2):  # lost after two misses in a row
        await monitoring.record_recheck(infra.repository, ids.decode("bl", backlink_id), gone)
    await settled(api, infra)


async def settled(api, infra) -> None:
    """The workers' writes are in the read models (as a worker's would be, a moment later)."""
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, api.app.state.projections, latest, timeout=60)


@pytest.fixture
async def links(api, infra, agency: Client) -> dict[str, Any]:
    """An agency account with three backlinks, oldest first: on site A a dofollow one
    (directory 1) and a nofollow one without anchor text (2); on site B one that was lost
    (3)."""
    a = await agency.add_site()
    b = await agency.add_site()
    first = await discover(api, infra, agency, a, 1)
    second = await discover(
        api,
        infra,
        agency,
        a,
        2,
        anchor_text=None,
        link_type="nofollow",
        rel_attributes=["nofollow", "ugc"],
        indexable=False,
    )
    third = await discover(api, infra, agency, b, 3)
    await lose(api, infra, third, f"https://dir3.example/site/{b['domain']}")
    return {"site_a": a, "site_b": b, "ids": [third, second, first]}


def listed(answer) -> list[str]:
    assert answer.status == 200, answer.body
    return [b["id"] for b in answer.body["data"]]


async def test_backlinks_list_newest_first_with_their_evidence(agency: Client, links):
    a = await agency.get("/api/v1/backlinks")
    assert listed(a) == links["ids"]
    assert a.body["pagination"] == {"limit": 50, "has_more": False, "next_cursor": None}
    lost, nofollow, dofollow = a.body["data"]
    site_a = links["site_a"]
    assert dofollow == dofollow | {
        "site_id": site_a["id"],
        "directory_id": 1,
        "source_url": f"https://dir1.example/site/{site_a['domain']}",
        "target_url": site_a["url"],
        "anchor_text": site_a["name"],
        "link_type": "dofollow",
        "rel_attributes": [],
        "http_status": 200,
        "indexable": True,
        "status": "live",
        "lost_at": None,
    }
    assert dofollow["job_id"].startswith("job_") and dofollow["first_seen_at"].endswith("Z")
    assert set(CSV_HEADER) <= set(dofollow)
    assert nofollow["rel_attributes"] == ["nofollow", "ugc"] and nofollow["anchor_text"] is None
    assert nofollow["indexable"] is False
    assert lost["status"] == "lost" and lost["lost_at"] == lost["last_checked_at"]
    # a lost backlink keeps what the link was: the evidence of what went missing
    assert (lost["link_type"], lost["target_url"]) == ("dofollow", links["site_b"]["url"])
    assert lost["site_id"] == links["site_b"]["id"]


async def test_backlinks_filter_by_site_status_and_link_type(agency: Client, links):
    lost, nofollow, dofollow = links["ids"]
    site_a, site_b = links["site_a"]["id"], links["site_b"]["id"]
    cases = [
        ({"site_id": site_a}, [nofollow, dofollow]),
        ({"site_id": site_b}, [lost]),
        ({"status": "live"}, [nofollow, dofollow]),
        ({"status": "lost"}, [lost]),
        ({"link_type": "nofollow"}, [nofollow]),
        # a lost link keeps the type it had
        ({"link_type": "dofollow"}, [lost, dofollow]),
        ({"link_type": "sponsored"}, []),
        ({"site_id": site_a, "status": "lost"}, []),
        ({"site_id": site_a, "link_type": "dofollow", "status": "live"}, [dofollow]),
    ]
    for params, expected in cases:
        assert listed(await agency.get("/api/v1/backlinks", **params)) == expected, params


async def test_bad_backlink_filters_are_422_naming_the_parameter(agency: Client, links):
    for params, field in [
        ({"status": "dead"}, "status"),
        ({"status": "LIVE"}, "status"),
        ({"link_type": "follow"}, "link_type"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ]:
        a = await agency.get("/api/v1/backlinks", **params)
        assert_error(a, 422, "validation_failed", field)


async def test_a_site_id_of_another_account_is_404(api, infra, agency: Client, links):
    other = Client(api, await paid_account(api, infra, "pro"))
    theirs = await other.add_site()
    for site_id in (theirs["id"], "site_" + "0" * 32, "nonsense", links["ids"][0]):
        a = await agency.get("/api/v1/backlinks", site_id=site_id)
        assert_error(a, 404, "not_found", "site_id")
    # and the other account sees none of the agency's backlinks, by any filter
    assert listed(await other.get("/api/v1/backlinks")) == []
    assert listed(await other.get("/api/v1/backlinks", status="lost")) == []
    a = await other.get("/api/v1/backlinks", site_id=links["site_a"]["id"])
    assert_error(a, 404, "not_found", "site_id")


async def test_backlinks_page_newest_first_with_a_cursor(agency: Client, links):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        a = await agency.get("/api/v1/backlinks", **params)
        seen += listed(a)
        pages += 1
        pagination = a.body["pagination"]
        assert pagination["limit"] == 2
        assert pagination["has_more"] == (pagination["next_cursor"] is not None)
        cursor = pagination["next_cursor"]
        if not cursor:
            break
    assert (seen, pages) == (links["ids"], 2)
    # the cursor keeps to the filter it was made with
    a = await agency.get("/api/v1/backlinks", limit="1", status="live")
    assert listed(a) == links["ids"][1:2] and a.body["pagination"]["has_more"]
    b = await agency.get(
        "/api/v1/backlinks", limit="1", status="live", cursor=a.body["pagination"]["next_cursor"]
    )
    assert listed(b) == links["ids"][2:]
    assert b.body["pagination"] == {"limit": 1, "has_more": False, "next_cursor": None}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_backlinks_as_csv_by_accept_header_or_format(agency: Client, links):
    json_rows = (await agency.get("/api/v1/backlinks")).body["data"]
    for a in (
        await agency.call("GET", "/api/v1/backlinks", headers={"Accept": "text/csv"}),
        await agency.get("/api/v1/backlinks", format="csv"),
    ):
        assert a.status == 200
        assert a.headers["Content-Type"].startswith("text/csv")
        assert "X-Next-Cursor" not in a.headers
        assert a.body.splitlines()[0] == ",".join(CSV_HEADER)
        got = rows(a.body)
        assert [r["id"] for r in got] == links["ids"]
        lost, nofollow, dofollow = got
        assert (dofollow["indexable"], nofollow["indexable"]) == ("true", "false")
        assert nofollow["rel_attributes"] == "nofollow ugc" and dofollow["rel_attributes"] == ""
        assert nofollow["anchor_text"] == "" and dofollow["lost_at"] == ""
        assert lost["status"] == "lost" and lost["lost_at"] == json_rows[0]["lost_at"]
        assert dofollow["first_seen_at"] == json_rows[2]["first_seen_at"]
        assert dofollow["directory_id"] == "1" and dofollow["http_status"] == "200"


async def test_a_csv_export_is_whole_whatever_limit_and_cursor_say(agency: Client, links):
    first_page = await agency.get("/api/v1/backlinks", limit="2")
    cursor = first_page.body["pagination"]["next_cursor"]
    for params in ({"limit": "2"}, {"limit": "1", "cursor": cursor}):
        a = await agency.get("/api/v1/backlinks", format="csv", **params)
        assert [r["id"] for r in rows(a.body)] == links["ids"]
        assert "X-Next-Cursor" not in a.headers


async def test_backlinks_need_a_paid_plan(api):
    free = Client(api, await register(api))
    assert_error(await free.get("/api/v1/backlinks"), 403, "plan_required")
    assert_error(await free.get("/api/v1/backlinks", format="csv"), 403, "plan_required")
