"""`/api/v1/jobs` through the HTTP API: create (with and without directory_ids, skipping
directories already submitted), the job's shape, list, read, cancel, the audit events,
Idempotency-Key, and every refusal with its envelope and no change behind it.

The catalogue fixture: directories 1-6, DR 21-24 for 1-4, 5 paused, 6 at DR 80 (above
the pro cap of 50). Jobs stay `queued`: no worker runs here."""

from __future__ import annotations

import asyncio

import pytest

from tests.accounts import register
from tests.core.client import Client, account, assert_error, event_count

pytestmark = pytest.mark.usefixtures("catalogue")

JOB_KEYS = {
    "id",
    "site_id",
    "status",
    "progress",
    "tasks",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
}
TASK_KEYS = {
    "directory_id",
    "directory_name",
    "status",
    "attempts",
    "listing_url",
    "backlink_id",
    "error",
    "updated_at",
}


def statuses(job) -> dict[int, str]:
    return {t["directory_id"]: t["status"] for t in job["tasks"]}


async def test_create_job_with_directory_ids_has_the_contract_shape(pro: Client):
    site = await pro.add_site()
    a = await pro.create_job(site["id"], [2, 1])
    assert a.status == 202, a.body
    job = a.body
    assert set(job) == JOB_KEYS
    assert job["id"].startswith("job_") and job["site_id"] == site["id"]
    assert job["status"] == "queued"
    assert job["started_at"] is None and job["finished_at"] is None
    assert job["created_at"].endswith("Z")
    assert job["progress"] == {
        "total": 2,
        "pending": 2,
        "submitting": 0,
        "submitted": 0,
        "verified": 0,
        "failed": 0,
        "skipped": 0,
        "canceled": 0,
        "percent": 0,
    }
    assert [t["directory_id"] for t in job["tasks"]] == [2, 1]  # as asked
    for t in job["tasks"]:
        assert set(t) == TASK_KEYS
        assert t["status"] == "pending" and t["attempts"] == 0 and t["error"] is None
        assert t["listing_url"] is None and t["backlink_id"] is None
    assert job["tasks"][0]["directory_name"] == "Dir 2"
    # read-your-writes, and the reservation shows in users/me
    assert (await pro.get(f"/api/v1/jobs/{job['id']}")).body == job
    usage = await pro.usage()
    assert (usage["reserved"], usage["used"], usage["remaining"]) == (2, 0, 148)


async def test_create_job_without_directory_ids_takes_every_active_directory_in_the_plan(
    pro: Client, agency: Client
):
    job = await pro.job((await pro.add_site())["id"])
    assert sorted(statuses(job)) == [1, 2, 3, 4]  # 5 paused, 6 above the pro cap
    job = await agency.job((await agency.add_site())["id"])
    assert sorted(statuses(job)) == [1, 2, 3, 4, 6]


async def test_directories_already_submitted_are_skipped_and_cost_nothing(pro: Client, infra):
    site = await pro.add_site()
    await pro.job(site["id"], [1, 2])
    second = await pro.job(site["id"], [1, 2, 3])
    assert statuses(second) == {1: "skipped", 2: "skipped", 3: "pending"}
    skipped = [t for t in second["tasks"] if t["status"] == "skipped"]
    for t in skipped:
        assert t["error"]["code"] == "already_submitted" and t["error"]["details"]
    assert second["progress"]["skipped"] == 2 and second["progress"]["pending"] == 1
    assert second["progress"]["percent"] == 67
    assert (await pro.usage())["reserved"] == 3
    # without directory_ids only the rest is taken, with no skipped tasks
    rest = await pro.job(site["id"])
    assert statuses(rest) == {4: "pending"}
    # and once every directory is taken, nothing is eligible
    before = await event_count(infra)
    assert_error(await pro.create_job(site["id"]), 422, "no_eligible_directories")
    assert_error(
        await pro.create_job(site["id"], [1, 4]),
        422,
        "no_eligible_directories",
        "directory_ids",
    )
    assert await event_count(infra) == before
    assert (await pro.usage())["reserved"] == 4


async def test_duplicate_ids_in_one_request_count_once(pro: Client):
    job = await pro.job((await pro.add_site())["id"], [3, 3, 1, 3])
    assert [t["directory_id"] for t in job["tasks"]] == [3, 1]
    assert (await pro.usage())["reserved"] == 2


async def test_refused_job_requests_say_why_and_change_nothing(pro: Client, agency: Client, infra):
    site = await pro.add_site()
    other_site = await agency.add_site()
    archived = await pro.add_site()
    await pro.delete(f"/api/v1/sites/{archived['id']}")

    def ids(value):
        return {"site_id": site["id"], "directory_ids": value}

    cases = [
        (ids([99]), 422, "unknown_directory", "directory_ids[0]"),
        (ids([1, 5]), 422, "unknown_directory", "directory_ids[1]"),
        (ids([6]), 403, "directory_not_in_plan", "directory_ids[0]"),
        (ids([]), 422, "validation_failed", "directory_ids"),
        (ids([1] * 1000), 422, "validation_failed", "directory_ids"),
        (ids(["1"]), 422, "validation_failed", "directory_ids[0]"),
        (ids([1.5]), 422, "validation_failed", "directory_ids[0]"),
        (ids([0]), 422, "validation_failed", "directory_ids[0]"),
        (ids([-3]), 422, "validation_failed", "directory_ids[0]"),
        (ids([True]), 422, "validation_failed", "directory_ids[0]"),
        (ids("1,2"), 422, "validation_failed", "directory_ids"),
        (ids([2**40]), 422, "validation_failed", "directory_ids[0]"),
        ({"directory_ids": [1]}, 422, "validation_failed", "site_id"),
        ({"site_id": 7}, 422, "validation_failed", "site_id"),
        ({"site_id": "site_doesnotexist"}, 404, "not_found", "site_id"),
        ({"site_id": "job_" + site["id"][5:]}, 404, "not_found", "site_id"),
        ({"site_id": other_site["id"]}, 404, "not_found", "site_id"),
        ({"site_id": archived["id"]}, 422, "validation_failed", "site_id"),
    ]  # fmt: skip
    before = await event_count(infra)
    for body, status, code, field in cases:
        assert_error(await pro.post("/api/v1/jobs", body), status, code, field)
    assert await event_count(infra) == before
    assert (await pro.get("/api/v1/jobs")).body["data"] == []
    assert (await pro.usage())["reserved"] == 0


async def test_a_paused_directory_is_not_silently_skipped(agency: Client):
    a = await agency.create_job((await agency.add_site())["id"], [5])
    assert_error(a, 422, "unknown_directory", "directory_ids[0]")
    assert "paused" in a.body["error"]["details"]


async def test_quota_exceeded_says_how_many_remain_and_when_the_period_resets(
    api, infra, pro: Client
):
    from tests.core.test_quota_api import use_up_quota

    site = await pro.add_site()
    await use_up_quota(infra, pro, leave=1)
    before = await event_count(infra)
    a = await pro.create_job(site["id"], [1, 2])
    assert_error(a, 422, "quota_exceeded")
    details = a.body["error"]["details"]
    resets = (await pro.usage())["period_end"]  # the API's month, not the test's clock
    assert "1 of 150 remain" in details
    assert resets in details
    assert await event_count(infra) == before
    # the one unit left is still usable
    await pro.job(site["id"], [1])
    assert (await pro.usage())["remaining"] == 0


async def test_cancel_cancels_pending_tasks_and_releases_their_quota(pro: Client, infra):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2, 3])
    assert (await pro.usage())["reserved"] == 3
    a = await pro.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert a.status == 202, a.body
    assert a.body["status"] == "canceled"
    assert set(statuses(a.body).values()) == {"canceled"}
    assert a.body["progress"]["canceled"] == 3 and a.body["progress"]["percent"] == 100
    assert a.body["finished_at"] is not None
    assert (await pro.get(f"/api/v1/jobs/{job['id']}")).body == a.body
    usage = await pro.usage()
    assert (usage["reserved"], usage["used"], usage["remaining"]) == (0, 0, 150)
    # a finished job cannot be canceled again, and that changes nothing
    before = await event_count(infra)
    assert_error(await pro.post(f"/api/v1/jobs/{job['id']}/cancel"), 409, "job_not_cancelable")
    assert await event_count(infra) == before
    # the canceled directories can be asked for again
    again = await pro.job(site["id"], [1, 2])
    assert set(statuses(again).values()) == {"pending"}


async def test_job_list_newest_first_with_filters_and_cursor(pro: Client):
    a, b = await pro.add_site(), await pro.add_site()
    j1 = await pro.job(a["id"], [1])
    j2 = await pro.job(b["id"], [1])
    j3 = await pro.job(a["id"], [2])
    await pro.post(f"/api/v1/jobs/{j1['id']}/cancel")
    everything = await pro.get("/api/v1/jobs")
    assert [j["id"] for j in everything.body["data"]] == [j3["id"], j2["id"], j1["id"]]
    assert everything.body["data"][0] == j3  # list items are full jobs
    assert everything.body["pagination"] == {"limit": 50, "has_more": False, "next_cursor": None}
    by_site = await pro.get("/api/v1/jobs", site_id=a["id"])
    assert [j["id"] for j in by_site.body["data"]] == [j3["id"], j1["id"]]
    queued = await pro.get("/api/v1/jobs", status="queued")
    assert [j["id"] for j in queued.body["data"]] == [j3["id"], j2["id"]]
    canceled = await pro.get("/api/v1/jobs", status="canceled", site_id=a["id"])
    assert [j["id"] for j in canceled.body["data"]] == [j1["id"]]
    assert (await pro.get("/api/v1/jobs", status="completed")).body["data"] == []
    # one at a time
    seen, cursor = [], None
    while True:
        page = await pro.get("/api/v1/jobs", limit=1, **({"cursor": cursor} if cursor else {}))
        assert page.status == 200 and len(page.body["data"]) == 1
        seen.append(page.body["data"][0]["id"])
        cursor = page.body["pagination"]["next_cursor"]
        if not page.body["pagination"]["has_more"]:
            assert cursor is None
            break
    assert seen == [j3["id"], j2["id"], j1["id"]]


async def test_job_list_parameters_are_validated(pro: Client):
    for params, field in [
        ({"status": "done"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "InN0cmluZyI"}, "cursor"),
    ]:
        assert_error(await pro.get("/api/v1/jobs", **params), 422, "validation_failed", field)
    for bad in ("site_nope", "job_x"):
        assert_error(await pro.get("/api/v1/jobs", site_id=bad), 404, "not_found", "site_id")
    assert (await pro.get("/api/v1/jobs", site_id="")).status == 200  # empty means absent


async def test_unknown_job_ids_are_404(pro: Client):
    for job_id in ("job_nope", "site_0", "42"):
        assert_error(await pro.get(f"/api/v1/jobs/{job_id}"), 404, "not_found")
        assert_error(await pro.post(f"/api/v1/jobs/{job_id}/cancel"), 404, "not_found")
        assert_error(await pro.get(f"/api/v1/jobs/{job_id}/events"), 404, "not_found")


async def test_job_events_are_the_audit_history_in_version_order(pro: Client):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2])
    await pro.post(f"/api/v1/jobs/{job['id']}/cancel")
    a = await pro.get(f"/api/v1/jobs/{job['id']}/events")
    assert a.status == 200, a.body
    events = a.body["data"]
    assert [e["type"] for e in events] == ["Job.Created", "Job.Canceled"]
    assert [e["version"] for e in events] == [1, 2]
    for e in events:
        assert set(e) == {"version", "type", "at", "data", "cause"} and e["at"].endswith("Z")
        assert e["cause"]["kind"] == "request"
        assert e["cause"]["account_id"] == pro.tokens["user"]["id"]
        assert e["cause"]["credential"]["type"] == "session"
    created = events[0]["data"]
    assert created["site_id"] == site["id"]
    assert created["account_id"] == pro.tokens["user"]["id"]
    assert [t["directory_id"] for t in created["tasks"]] == [1, 2]
    assert events[1]["data"]["directory_ids"] == [1, 2]
    # paged one at a time, in the same order
    first = await pro.get(f"/api/v1/jobs/{job['id']}/events", limit=1)
    assert [e["version"] for e in first.body["data"]] == [1]
    assert first.body["pagination"]["has_more"] is True
    cursor = first.body["pagination"]["next_cursor"]
    second = await pro.get(f"/api/v1/jobs/{job['id']}/events", limit=1, cursor=cursor)
    assert [e["version"] for e in second.body["data"]] == [2]
    assert second.body["pagination"] == {"limit": 1, "has_more": False, "next_cursor": None}
    assert_error(
        await pro.get(f"/api/v1/jobs/{job['id']}/events", limit=0), 422, "validation_failed"
    )


async def test_idempotency_key_makes_a_retried_job_creation_a_replay(pro: Client, infra):
    site = await pro.add_site()
    body = {"site_id": site["id"], "directory_ids": [1, 2]}
    key = {"Idempotency-Key": "create-job-1"}
    first = await pro.post("/api/v1/jobs", body, headers=key)
    assert first.status == 202, first.body
    before = await event_count(infra)
    again = await pro.post("/api/v1/jobs/", body, headers=key)  # the same route
    assert again.status == 202 and again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await event_count(infra) == before
    assert (await pro.usage())["reserved"] == 2  # reserved once
    assert len((await pro.get("/api/v1/jobs")).body["data"]) == 1
    other = await pro.post("/api/v1/jobs", {**body, "directory_ids": [3]}, headers=key)
    assert_error(other, 409, "idempotency_key_reused")
    assert await event_count(infra) == before


async def test_concurrent_retries_with_one_key_create_one_job(pro: Client):
    site = await pro.add_site()
    body = {"site_id": site["id"], "directory_ids": [1]}
    answers = await asyncio.gather(
        *(pro.post("/api/v1/jobs", body, headers={"Idempotency-Key": "burst"}) for _ in range(5))
    )
    assert {a.status for a in answers} == {202}
    assert len({a.body["id"] for a in answers}) == 1
    assert (await pro.usage())["reserved"] == 1


async def test_idempotency_keys_belong_to_one_account(api, infra, pro: Client):
    other = await account(api, infra, "pro")
    mine = await pro.post(
        "/api/v1/jobs",
        {"site_id": (await pro.add_site())["id"], "directory_ids": [1]},
        headers={"Idempotency-Key": "shared"},
    )
    theirs = await other.post(
        "/api/v1/jobs",
        {"site_id": (await other.add_site())["id"], "directory_ids": [1]},
        headers={"Idempotency-Key": "shared"},
    )
    assert mine.status == theirs.status == 202
    assert mine.body["id"] != theirs.body["id"]


async def test_free_plan_gets_403_plan_required_on_jobs_and_directories(api, infra):
    free = Client(api, await register(api))
    before = await event_count(infra)
    for a in [
        await free.post("/api/v1/jobs", {"site_id": "site_x"}),
        await free.get("/api/v1/jobs"),
        await free.get("/api/v1/jobs/job_x"),
        await free.post("/api/v1/jobs/job_x/cancel"),
        await free.get("/api/v1/jobs/job_x/events"),
        await free.get("/api/v1/directories"),
    ]:
        assert_error(a, 403, "plan_required")
    assert await event_count(infra) == before


async def test_an_api_key_works_like_a_token(pro: Client):
    from tests.accounts import create_key

    key = await create_key(pro.server, pro.tokens)
    by_key = pro.with_headers({"x-api-key": key["key"]})
    site = await by_key.add_site()
    job = await by_key.job(site["id"], [1])
    assert (await pro.get(f"/api/v1/jobs/{job['id']}")).body["id"] == job["id"]
