"""The monitoring endpoints through the HTTP API: `POST /api/v1/backlinks` (add a link to
monitoring: validation, the SSRF guard, duplicates, the plan's limit, even under
concurrent adds), `GET /api/v1/backlinks/{id}` (the backlink and its checks, newest
first, capped) and `POST /api/v1/backlinks/{id}/recheck` (queued once per window,
rate-limited per account). No worker runs here: checks are recorded as a worker records
them (tests/test_monitoring.py runs them over real pages)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import msgspec
import pytest

from domain import ids
from domain.backlink import Backlink, Evidence
from domain.plans import PLANS
from projections.backlink_checks import HISTORY_LIMIT
from tests.accounts import register
from tests.core.client import Client, account, assert_error, event_count
from tests.core.test_backlinks_api import discover, settled

BACKLINKS = "/api/v1/backlinks"
PAGE = "http://127.0.0.1:9/partners"  # loopback is reachable in tests; nothing is fetched


def body(site: dict[str, Any], url: str = PAGE) -> dict[str, Any]:
    return {"site_id": site["id"], "source_url": url}


@pytest.fixture
def tiny_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pro monitors 2 links and re-checks 3 times an hour (the table is domain/plans.py's)."""
    small = msgspec.structs.replace(PLANS["pro"], monitored_links=2, rechecks_per_hour=3)
    monkeypatch.setitem(PLANS, "pro", small)


async def test_a_link_added_to_monitoring_is_pending_without_job_or_directory(api, pro: Client):
    site = await pro.add_site()
    added = await pro.post(BACKLINKS, body(site, "HTTP://127.0.0.1:9/partners#top"))
    assert added.status == 201, added.body
    shown = added.body
    assert shown == shown | {
        "site_id": site["id"],
        "job_id": None,
        "directory_id": None,
        "source_url": PAGE,  # normalised: scheme and host lower-case, no fragment
        "status": "pending",
        "lost_at": None,
        "consecutive_failures": 0,
        "checks": [],
        "checks_total": 0,
    }
    assert shown["id"].startswith("bl_")
    assert (await pro.get(f"{BACKLINKS}/{shown['id']}")).body == shown
    # every list, filter and the CSV take it
    assert [b["id"] for b in (await pro.get(BACKLINKS)).body["data"]] == [shown["id"]]
    pending = await pro.get(BACKLINKS, status="pending", site_id=site["id"])
    assert [b["id"] for b in pending.body["data"]] == [shown["id"]]
    assert (await pro.get(BACKLINKS, status="live")).body["data"] == []
    text = (await pro.get(BACKLINKS, format="csv")).body
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["id"], row["job_id"], row["directory_id"], row["status"]) == (
        shown["id"],
        "",
        "",
        "pending",
    )


async def test_the_same_page_twice_is_a_conflict(api, infra, pro: Client):
    site = await pro.add_site()
    assert (await pro.post(BACKLINKS, body(site))).status == 201
    before = await event_count(infra)
    for url in (PAGE, f"{PAGE}#again", PAGE.upper().replace("/PARTNERS", "/partners")):
        assert_error(await pro.post(BACKLINKS, body(site, url)), 409, "backlink_exists")
    assert await event_count(infra) == before
    # another site of the account may monitor the same page
    other = await pro.add_site()
    assert (await pro.post(BACKLINKS, body(other))).status == 201


async def test_a_page_a_job_found_already_is_a_conflict(api, infra, catalogue, pro: Client):
    site = await pro.add_site()
    await discover(api, infra, pro, site, 1)
    listing = f"https://dir1.example/site/{site['domain']}"
    assert_error(await pro.post(BACKLINKS, body(site, listing)), 409, "backlink_exists")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("", "invalid_url"),
        ("ftp://example.com/file", "invalid_url"),
        ("/relative/page", "invalid_url"),
        ("https://exa mple.com/", "invalid_url"),
        ("https://" + "a" * 2100 + ".com/", "invalid_url"),
        ("http://10.1.2.3/links", "blocked_address"),
        ("http://169.254.169.254/latest/meta-data", "blocked_address"),
        ("http://0x7f000001/links", "blocked_address"),
    ],
)
async def test_a_bad_or_unsafe_source_url_is_refused(api, infra, pro: Client, url, code):
    site = await pro.add_site()
    before = await event_count(infra)
    assert_error(await pro.post(BACKLINKS, body(site, url)), 422, code, "source_url")
    assert await event_count(infra) == before


async def test_bad_bodies_and_sites_are_refused(api, infra, pro: Client, agency: Client):
    site = await pro.add_site()
    before = await event_count(infra)
    assert_error(await pro.post(BACKLINKS, {"site_id": site["id"]}), 422, "validation_failed")
    assert_error(await pro.post(BACKLINKS, {**body(site), "site_id": 7}), 422, "validation_failed")
    assert_error(await pro.post(BACKLINKS, body({"id": "site_nope"})), 404, "not_found", "site_id")
    foreign = await agency.add_site()
    assert_error(await pro.post(BACKLINKS, body(foreign)), 404, "not_found", "site_id")
    assert (await pro.delete(f"/api/v1/sites/{site['id']}")).status == 200
    after_archive = await event_count(infra)
    assert_error(await pro.post(BACKLINKS, body(site)), 422, "validation_failed", "site_id")
    assert await event_count(infra) == after_archive > before


async def test_the_free_plan_cannot_monitor(api):
    free = Client(api, await register(api))
    assert_error(
        await free.post(BACKLINKS, {"site_id": "site_x", "source_url": PAGE}), 403, "plan_required"
    )


async def test_the_plans_limit_holds_under_concurrent_adds(api, infra, tiny_plans, pro: Client):
    site = await pro.add_site()
    answers = await asyncio.gather(
        *(pro.post(BACKLINKS, body(site, f"{PAGE}/{n}")) for n in range(6))
    )
    assert sorted(a.status for a in answers) == [201, 201, 422, 422, 422, 422]
    for refused in (a for a in answers if a.status == 422):
        assert_error(refused, 422, "monitor_limit_reached", "source_url")
    assert len((await pro.get(BACKLINKS)).body["data"]) == 2
    assert_error(await pro.post(BACKLINKS, body(site, f"{PAGE}/7")), 422, "monitor_limit_reached")


async def test_a_backlink_found_by_a_job_counts_toward_the_limit(
    api, infra, catalogue, tiny_plans, pro: Client
):
    site = await pro.add_site()
    await discover(api, infra, pro, site, 1)
    assert (await pro.post(BACKLINKS, body(site, f"{PAGE}/1"))).status == 201
    refused = await pro.post(BACKLINKS, body(site, f"{PAGE}/2"))
    assert_error(refused, 422, "monitor_limit_reached")
    assert "2 backlinks" in refused.body["error"]["details"]


async def test_a_found_backlink_shows_its_discovery_and_checks_newest_first(
    api, infra, catalogue, pro: Client
):
    site = await pro.add_site()
    found = await discover(api, infra, pro, site, 1)
    backlink_id = ids.decode("bl", found)
    listing = f"https://dir1.example/site/{site['domain']}"
    backlink = await infra.repository.get(backlink_id, Backlink)
    backlink.record_check(Evidence(listing, False, http_status=503))
    backlink.record_check(Evidence(listing, False, http_status=404))
    await infra.repository.save(backlink)
    await settled(api, infra)
    shown = (await pro.get(f"{BACKLINKS}/{found}")).body
    assert (shown["status"], shown["directory_id"], shown["consecutive_failures"]) == (
        "lost",
        1,
        2,
    )
    assert [(c["event"], c["status"], c["outcome"], c["http_status"]) for c in shown["checks"]] == [
        ("Lost", "lost", "missing", 404),
        ("BecameUnreachable", "unreachable", "unreachable", 503),
        ("Discovered", "live", "found", 200),
    ]
    # the unreachable check read nothing of the link: the miss is when it went
    assert shown["checks"][0]["changes"] == [
        {"field": "has_link", "before": True, "after": False},
        {"field": "http_status", "before": 503, "after": 404},
    ]


async def test_the_history_is_capped_at_the_newest_checks(api, infra, pro: Client):
    site = await pro.add_site()
    added = (await pro.post(BACKLINKS, body(site))).body
    backlink = await infra.repository.get(ids.decode("bl", added["id"]), Backlink)
    for n in range(HISTORY_LIMIT + 5):
        backlink.record_check(Evidence(PAGE, True, http_status=200 + n % 2, indexable=True))
    await infra.repository.save(backlink)
    await settled(api, infra)
    shown = (await pro.get(f"{BACKLINKS}/{added['id']}")).body
    assert shown["checks_total"] == HISTORY_LIMIT + 5
    assert len(shown["checks"]) == HISTORY_LIMIT
    times = [c["checked_at"] for c in shown["checks"]]
    assert times == sorted(times, reverse=True)


async def test_an_answer_never_shows_a_check_its_status_does_not_reflect(api, infra, pro: Client):
    """Checks are recorded one at a time (each its own event, applied by the running
    projector as it comes) while the backlink is read again and again: every answer is
    one state of it. A check shown is reflected by the status (and the last check time,
    and the failures in a row); a backlink that shows no check is still pending."""
    site = await pro.add_site()
    added = (await pro.post(BACKLINKS, body(site))).body
    backlink_id = ids.decode("bl", added["id"])
    seen = [
        Evidence(PAGE, True, http_status=200, indexable=True),
        Evidence(PAGE, False, http_status=503),
        Evidence(PAGE, False, http_status=404),
    ]
    rounds = 30
    recorded = asyncio.Event()

    async def record() -> None:
        for n in range(rounds):
            backlink = await infra.repository.get(backlink_id, Backlink)
            backlink.record_check(seen[n % len(seen)])
            await infra.repository.save(backlink)
            await asyncio.sleep(0)
        recorded.set()

    answers: list[dict[str, Any]] = []

    async def read() -> None:
        while not recorded.is_set():
            answers.append((await pro.get(f"{BACKLINKS}/{added['id']}")).body)

    await asyncio.gather(record(), read())
    await settled(api, infra)
    answers.append((await pro.get(f"{BACKLINKS}/{added['id']}")).body)
    for shown in answers:
        checks = shown["checks"]
        assert shown["checks_total"] == len(checks), shown
        if not checks:
            assert (shown["status"], shown["consecutive_failures"]) == ("pending", 0), shown
            continue
        newest = checks[0]
        assert (shown["status"], shown["last_checked_at"], shown["consecutive_failures"]) == (
            newest["status"],
            newest["checked_at"],
            newest["failures"],
        ), shown
    assert answers[-1]["checks_total"] == rounds
    assert len(answers) > 1


async def test_another_accounts_backlink_is_not_found(api, pro: Client, agency: Client):
    site = await agency.add_site()
    theirs = (await agency.post(BACKLINKS, body(site))).body["id"]
    for path in (f"{BACKLINKS}/{theirs}", f"{BACKLINKS}/bl_nope", f"{BACKLINKS}/site_x"):
        assert_error(await pro.get(path), 404, "not_found")
    assert_error(await pro.post(f"{BACKLINKS}/{theirs}/recheck"), 404, "not_found")
    assert_error(await pro.post(f"{BACKLINKS}/bl_nope/recheck"), 404, "not_found")


async def test_a_recheck_is_queued_once_per_window(api, infra, pro: Client):
    site = await pro.add_site()
    added = (await pro.post(BACKLINKS, body(site))).body
    first = await pro.post(f"{BACKLINKS}/{added['id']}/recheck")
    assert first.status == 202, first.body
    assert first.body["backlink_id"] == added["id"] and first.body["queued"] is True
    assert first.body["details"]
    before = await event_count(infra)
    again = await pro.post(f"{BACKLINKS}/{added['id']}/recheck")
    assert again.status == 202, again.body
    same_window = again.body["next_recheck_at"] == first.body["next_recheck_at"]
    assert again.body["queued"] is not same_window
    # a request in the same window records nothing
    assert (await event_count(infra) == before) is same_window
    # the request is in the backlink's history of events (audit), not among its checks
    assert (await pro.get(f"{BACKLINKS}/{added['id']}")).body["checks_total"] == 0


async def test_rechecks_are_rate_limited_per_account(api, infra, tiny_plans, pro: Client):
    site = await pro.add_site()
    added = (await pro.post(BACKLINKS, body(site))).body
    path = f"{BACKLINKS}/{added['id']}/recheck"
    for _ in range(3):
        assert (await pro.post(path)).status == 202
    refused = await pro.post(path)
    assert_error(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"].isdigit()
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # another account has its own allowance
    other = await account(api, infra, "pro")
    other_site = await other.add_site()
    theirs = (await other.post(BACKLINKS, body(other_site))).body
    assert (await other.post(f"{BACKLINKS}/{theirs['id']}/recheck")).status == 202
