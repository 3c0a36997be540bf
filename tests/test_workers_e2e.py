"""Jobs really run: real arq workers submit to the sandbox directories over HTTP, verify
the listings and keep watching the backlinks; quota follows every outcome."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
from arq import create_pool
from arq.connections import RedisSettings

from api.app import create_app
from projections.runner import wait_for
from tests.accounts import bearer, paid_account
from tests.conftest import LiveServer
from tests.workers_support import Sandbox, Workers, eventually

SETTLED = {"verified", "failed", "skipped", "canceled"}

# starts processes, Chromium or floods the CPU: the "heavy" tests share one xdist worker
# (`--dist loadgroup`), so no two of them pile onto the same core
pytestmark = [pytest.mark.xdist_group("heavy"), pytest.mark.timeout(300)]


@pytest.fixture
async def sandbox(infra):
    box = await Sandbox().start(infra.pool)
    yield box
    await box.close()


@pytest.fixture
async def api(settings, infra):
    app = create_app(
        msgspec.structs.replace(settings, verify_sites=False),
        infra=infra,
        in_process_projector=True,
    )
    async with LiveServer(app) as live:
        yield live


@pytest.fixture
def workers(settings):
    # short leases so a killed worker's job comes back quickly (timeout + 10 s)
    pool = Workers(settings, BACKLYNK_JOB_TIMEOUT="9")
    yield pool
    pool.stop()


async def start_job(
    api, infra, directory_ids, description="A site about examples, long enough for every directory."
) -> tuple[dict, dict, str]:
    tokens = await paid_account(api, infra, "agency")
    domain = f"shop-{uuid.uuid4().hex[:8]}.example.com"
    async with api.http.post(
        "/api/v1/sites",
        headers=bearer(tokens),
        json={"url": f"https://{domain}/", "name": "Example Shop", "description": description},
    ) as r:
        site = await r.json()
        assert r.status == 201, site
    async with api.http.post(
        "/api/v1/jobs",
        headers=bearer(tokens),
        json={"site_id": site["id"], "directory_ids": directory_ids},
    ) as r:
        job = await r.json()
        assert r.status == 202, job
    return tokens, job, domain


async def get(api, tokens, path) -> Any:
    async with api.http.get(path, headers=bearer(tokens)) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def caught_up(api, infra) -> None:
    """Every read model shows every event stored so far. The job answer says the tasks
    have settled; the usage and backlinks read models may not have applied them yet."""
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, api.app.state.projections, latest, timeout=60)


def by_directory(job: dict) -> dict[int, tuple[str, str | None]]:
    return {
        t["directory_id"]: (t["status"], t["error"]["code"] if t["error"] else None)
        for t in job["tasks"]
    }


async def test_a_job_over_six_directories_completes_with_the_expected_outcomes(
    api, infra, sandbox, workers
):
    workers.start()
    tokens, job, domain = await start_job(api, infra, [1, 2, 3, 6, 7, 8], description="Too short.")

    async def settled():
        current = await get(api, tokens, f"/api/v1/jobs/{job['id']}")
        done = all(t["status"] in SETTLED for t in current["tasks"])
        return current if done else None

    final = await settled_job(settled)
    assert final["status"] == "completed" and final["finished_at"]
    assert by_directory(final) == {
        1: ("verified", None),  # CSRF form, field map, success pattern
        2: ("verified", None),  # JSON API
        3: ("verified", None),  # labels and placeholders only; its link is nofollow
        6: ("failed", "captcha_required"),
        7: ("verified", None),  # 503 first, then accepted on the retry
        8: ("failed", "rejected"),  # the directory's own validation message
    }
    tasks = {t["directory_id"]: t for t in final["tasks"]}
    assert tasks[7]["attempts"] == 2 and tasks[8]["error"]["details"].startswith("Description")
    assert final["progress"]["verified"] == 4 and final["progress"]["percent"] == 100
    # exactly one submission reached each directory that accepted one
    assert dict(sandbox.state.submissions) == {
        "startup-index": 1,
        "saas-hub": 1,
        "local-listings": 1,
        "flaky-directory": 1,
    }
    await caught_up(api, infra)
    me = await get(api, tokens, "/api/v1/users/me")
    assert (me["usage"]["used"], me["usage"]["reserved"]) == (4, 0)

    listed = await get(api, tokens, "/api/v1/backlinks")
    links = {b["directory_id"]: b for b in listed["data"]}
    assert set(links) == {1, 2, 3, 7}
    assert links[3]["link_type"] == "nofollow" and links[1]["link_type"] == "dofollow"
    assert links[1]["target_url"] == f"https://{domain}/" and links[1]["status"] == "live"
    assert tasks[1]["backlink_id"] == links[1]["id"]


async def settled_job(probe):
    return await eventually(probe, timeout=90)


async def test_kill_9_mid_submission_then_restart_submits_nothing_twice(
    api, infra, sandbox, workers, settings
):
    sandbox.state.delay = 2.0  # every directory holds the request for 2 s
    first = workers.start()
    tokens, job, _ = await start_job(api, infra, [1, 2, 3])

    async def submitting():
        current = await get(api, tokens, f"/api/v1/jobs/{job['id']}")
        return any(t["status"] == "submitting" for t in current["tasks"])

    await eventually(submitting, timeout=30, every=0.05)
    workers.kill(first)  # mid-request: the directories still record what they received
    sandbox.state.delay = 0.0
    workers.start()

    async def settled():
        current = await get(api, tokens, f"/api/v1/jobs/{job['id']}")
        return current if all(t["status"] in SETTLED for t in current["tasks"]) else None

    async def describe():
        return (await get(api, tokens, f"/api/v1/jobs/{job['id']}"))["tasks"]

    final = await eventually(settled, timeout=90, describe=describe)
    assert {t["status"] for t in final["tasks"]} == {"verified"}, final["tasks"]
    assert dict(sandbox.state.submissions) == {
        "startup-index": 1,
        "saas-hub": 1,
        "local-listings": 1,
    }
    await caught_up(api, infra)
    me = await get(api, tokens, "/api/v1/users/me")
    assert (me["usage"]["used"], me["usage"]["reserved"]) == (3, 0)


async def test_cancel_mid_job_releases_what_was_not_submitted(api, infra, sandbox, workers):
    sandbox.state.delay = 1.0
    workers.start()
    tokens, job, _ = await start_job(api, infra, [1, 2, 3, 4, 5, 7])

    async def one_submitting():
        current = await get(api, tokens, f"/api/v1/jobs/{job['id']}")
        return any(t["status"] != "pending" for t in current["tasks"])

    await eventually(one_submitting, timeout=30, every=0.05)
    async with api.http.post(f"/api/v1/jobs/{job['id']}/cancel", headers=bearer(tokens)) as r:
        assert r.status == 202
        canceled = await r.json()
    # canceled at once, unless an attempt is in flight: then when it ends
    in_flight = any(t["status"] == "submitting" for t in canceled["tasks"])
    assert canceled["status"] == ("running" if in_flight else "canceled")
    assert "pending" not in {t["status"] for t in canceled["tasks"]}
    sandbox.state.delay = 0.0

    async def quiet():
        current = await get(api, tokens, f"/api/v1/jobs/{job['id']}")
        busy = any(t["status"] in ("pending", "submitting") for t in current["tasks"])
        return None if busy else current

    final = await eventually(quiet, timeout=60)
    statuses = [t["status"] for t in final["tasks"]]
    assert final["status"] == "canceled" and "canceled" in statuses
    assert final["progress"]["percent"] == 100 and final["finished_at"]
    submitted = sum(s in ("submitted", "verified") for s in statuses)
    assert submitted == sum(sandbox.state.submissions.values())
    await caught_up(api, infra)
    me = await get(api, tokens, "/api/v1/users/me")
    assert me["usage"]["used"] == submitted and me["usage"]["reserved"] == 0


async def test_cancel_while_a_submission_is_in_flight_lets_it_finish_then_cancels(
    api, infra, sandbox, settings
):
    """The directory holds the request: the pending tasks are canceled at once (their
    units released), the one in flight finishes its attempt and is recorded, and only
    then is the job canceled, at 100 %."""
    # a lease longer than the hold, so the held request is not given up on
    pool = Workers(settings, BACKLYNK_JOB_TIMEOUT="120")
    sandbox.state.hold()
    try:
        pool.start()
        tokens, job, _ = await start_job(api, infra, [1, 2, 3])
        path = f"/api/v1/jobs/{job['id']}"

        async def one_submitting():
            current = await get(api, tokens, path)
            held = [t for t in current["tasks"] if t["status"] == "submitting"]
            return held[0]["directory_id"] if held else None

        # one request at a time per directory server: the others wait, pending
        held = await eventually(one_submitting, timeout=60, every=0.05)
        async with api.http.post(f"{path}/cancel", headers=bearer(tokens)) as r:
            assert r.status == 202
            waiting = await r.json()
        assert waiting["status"] == "running" and waiting["finished_at"] is None
        assert {t["directory_id"]: t["status"] for t in waiting["tasks"]} == {
            d: "submitting" if d == held else "canceled" for d in (1, 2, 3)
        }
        assert waiting["progress"]["canceled"] == 2 and waiting["progress"]["percent"] == 67
        me = await get(api, tokens, "/api/v1/users/me")
        assert (me["usage"]["used"], me["usage"]["reserved"]) == (0, 1)  # two released
        async with api.http.post(f"{path}/cancel", headers=bearer(tokens)) as r:
            assert r.status == 202  # asked again while waiting: the same answer
            again = await r.json()
        assert again["status"] == "running" and again["tasks"] == waiting["tasks"]

        sandbox.state.release()

        async def finished():
            current = await get(api, tokens, path)
            return current if current["status"] != "running" else None

        final = await eventually(finished, timeout=60)
        assert final["status"] == "canceled" and final["finished_at"]
        assert final["progress"]["percent"] == 100 and final["progress"]["canceled"] == 2
        task = next(t for t in final["tasks"] if t["directory_id"] == held)
        assert task["status"] in ("submitted", "verified") and task["attempts"] == 1
        assert sum(sandbox.state.submissions.values()) == 1
        await caught_up(api, infra)
        me = await get(api, tokens, "/api/v1/users/me")
        assert (me["usage"]["used"], me["usage"]["reserved"]) == (1, 0)
        async with api.http.post(f"{path}/cancel", headers=bearer(tokens)) as r:
            assert r.status == 409 and (await r.json())["error"]["code"] == "job_not_cancelable"

        async def verified():  # verification goes on after the cancel
            current = await get(api, tokens, path)
            t = next(t for t in current["tasks"] if t["directory_id"] == held)
            return current if t["status"] == "verified" else None

        assert (await eventually(verified, timeout=60))["status"] == "canceled"
    finally:
        sandbox.state.release()
        pool.stop()


async def test_a_form_directory_redirecting_to_a_thank_you_page_is_verified_at_its_listing(
    api, infra, sandbox, workers
):
    """Post/redirect/get: the thank-you page is not the listing; the catalogue's template
    is, so the backlink is found there and the task is verified."""
    workers.start()
    tokens, job, domain = await start_job(api, infra, [9])
    listing = f"{sandbox.base}/launch-board/site/{domain}"

    async def settled():
        current = await get(api, tokens, f"/api/v1/jobs/{job['id']}")
        return current if current["tasks"][0]["status"] in SETTLED else None

    final = await settled_job(settled)
    task = final["tasks"][0]
    assert (task["status"], task["listing_url"]) == ("verified", listing), task
    assert final["status"] == "completed"
    await caught_up(api, infra)
    backlinks = (await get(api, tokens, "/api/v1/backlinks"))["data"]
    assert [(b["directory_id"], b["source_url"]) for b in backlinks] == [(9, listing)]
    assert backlinks[0]["id"] == task["backlink_id"] and backlinks[0]["status"] == "live"


async def test_a_backlink_turns_lost_when_the_link_goes_and_live_when_it_returns(
    api, infra, sandbox, workers, settings
):
    workers.start()
    tokens, _job, domain = await start_job(api, infra, [2])

    async def backlink():
        listed = await get(api, tokens, "/api/v1/backlinks")
        return listed["data"][0] if listed["data"] else None

    found = await eventually(backlink, timeout=60)
    queue = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=settings.queue_name
    )
    try:
        # lost only after two misses in a row; one good check makes it live again
        for action, expected, checks in (("drop", "lost", 2), ("restore", "live", 1)):
            async with api.http.post(f"{sandbox.base}/_control/saas-hub/{action}/{domain}"):
                pass
            for _ in range(checks):
                before = (await get(api, tokens, f"/api/v1/backlinks/{found['id']}"))[
                    "checks_total"
                ]
                await queue.enqueue_job(
                    "recheck_backlink",
                    found["id"].removeprefix("bl_"),
                    _job_id=f"test-recheck:{action}:{uuid.uuid4().hex}",
                )

                async def checked(before=before):
                    shown = await get(api, tokens, f"/api/v1/backlinks/{found['id']}")
                    return shown if shown["checks_total"] > before else None

                await eventually(checked, timeout=30)

            async def status_is(expected=expected):
                row = await backlink()
                return row if row["status"] == expected else None

            row = await eventually(status_is, timeout=30)
            assert (row["lost_at"] is not None) == (expected == "lost")
    finally:
        await queue.aclose()
    async with api.http.get("/api/v1/backlinks?format=csv", headers=bearer(tokens)) as r:
        text = await r.text()
    assert r.headers["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0].startswith("id,site_id,directory_id,job_id,source_url")
    assert ",live," in text.splitlines()[1]
