"""Tenant isolation: every read and write endpoint answers 404 for another account's ids,
exactly as for an id that does not exist, and changes nothing."""

from __future__ import annotations

import pytest

from tests.core.client import Client, account, assert_error, event_count

pytestmark = pytest.mark.usefixtures("catalogue")


async def test_another_accounts_ids_are_404_everywhere(api, infra, pro: Client):
    owner = await account(api, infra, "agency")
    site = await owner.add_site("https://owner.example.com/")
    job = await owner.job(site["id"], [1, 2])
    mine = await pro.add_site("https://mine.example.com/")
    site_path, job_path = f"/api/v1/sites/{site['id']}", f"/api/v1/jobs/{job['id']}"

    before = await event_count(infra)
    refused = [
        await pro.get(site_path),
        await pro.patch(site_path, {"name": "Stolen"}),
        await pro.delete(site_path),
        await pro.get(job_path),
        await pro.post(f"{job_path}/cancel"),
        await pro.get(f"{job_path}/events"),
        await pro.get("/api/v1/jobs", site_id=site["id"]),
        await pro.create_job(site["id"], [1]),
        await pro.create_job(site["id"]),
        # with the Idempotency-Key wrapper in front too
        await pro.post("/api/v1/jobs", {"site_id": site["id"]}, headers={"Idempotency-Key": "k"}),
        await pro.post(f"{job_path}/cancel", headers={"Idempotency-Key": "k2"}),
    ]
    for answer in refused:
        assert_error(answer, 404, "not_found")
    assert await event_count(infra) == before

    # the owner sees everything unchanged, the other account sees none of it
    assert (await owner.get(site_path)).body == site
    assert (await owner.get(job_path)).body == job
    assert (await owner.usage())["reserved"] == 2
    assert [s["id"] for s in (await pro.get("/api/v1/sites")).body["data"]] == [mine["id"]]
    assert (await pro.get("/api/v1/jobs")).body["data"] == []
    assert (await pro.usage())["reserved"] == 0


async def test_a_foreign_id_answers_like_a_missing_one(api, infra, pro: Client):
    owner = await account(api, infra, "pro")
    site = await owner.add_site()
    job = await owner.job(site["id"], [1])
    missing_site = "site_" + "0" * 32
    missing_job = "job_" + "0" * 32
    site_path, job_path = f"/api/v1/sites/{site['id']}", f"/api/v1/jobs/{job['id']}"
    no_site_path, no_job_path = f"/api/v1/sites/{missing_site}", f"/api/v1/jobs/{missing_job}"
    before = await event_count(infra)
    pairs = [
        (await pro.get(site_path), await pro.get(no_site_path)),
        (await pro.patch(site_path, {"name": "x"}), await pro.patch(no_site_path, {"name": "x"})),
        (await pro.delete(site_path), await pro.delete(no_site_path)),
        (await pro.get(job_path), await pro.get(no_job_path)),
        (await pro.post(f"{job_path}/cancel"), await pro.post(f"{no_job_path}/cancel")),
        (await pro.get(f"{job_path}/events"), await pro.get(f"{no_job_path}/events")),
        (await pro.create_job(site["id"]), await pro.create_job(missing_site)),
        (
            await pro.get("/api/v1/jobs", site_id=site["id"]),
            await pro.get("/api/v1/jobs", site_id=missing_site),
        ),
    ]
    for foreign, missing in pairs:
        assert_error(foreign, 404, "not_found")
        assert (foreign.status, foreign.body) == (missing.status, missing.body)
        assert "0000" not in foreign.body["error"]["details"]  # no internal id leaks
    assert await event_count(infra) == before


async def test_an_api_key_is_scoped_to_its_account(api, infra, pro: Client):
    from tests.accounts import create_key

    owner = await account(api, infra, "pro")
    site = await owner.add_site()
    key = await create_key(api, pro.tokens)
    by_key = pro.with_headers({"x-api-key": key["key"]})
    assert_error(await by_key.get(f"/api/v1/sites/{site['id']}"), 404, "not_found")
    assert_error(await by_key.create_job(site["id"]), 404, "not_found", "site_id")
    # a token of one account and a key of another never combine
    mixed = owner.with_headers({**owner.headers, "x-api-key": key["key"]})
    assert_error(await mixed.get("/api/v1/sites"), 401, "invalid_token")
