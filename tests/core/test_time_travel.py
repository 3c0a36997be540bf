"""`GET /api/v1/sites/{id}?as_of=` and `GET /api/v1/jobs/{id}?as_of=` through the HTTP API:
at the instant of every event of a site or a job, the answer is what `GET` answered right
after that change (the read model, filled by the projector); before creation, and for
another account, the 404 of an unknown id; a malformed instant is 422 on `as_of`; an
instant to come is the object as it is now.

Jobs move as the workers move them: through the services they call (start, submission
outcomes, verification); cancels go through the API."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain import ids
from domain.backlink import Evidence
from domain.errors import Conflict
from domain.services import delivery, verification
from domain.services.delivery import Failed, RetryLater, Submitted
from projections.runner import wait_for
from tests.accounts import paid_account
from tests.core.client import Client, account, assert_error

pytestmark = pytest.mark.usefixtures("catalogue")

ONE_MICROSECOND = timedelta(microseconds=1)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def settled(api, infra) -> None:
    """The workers' writes are in the read models (as they would be a moment later)."""
    latest = await infra.store.max_notification_id()
    assert await wait_for(infra.pool, api.app.state.projections, latest, timeout=60)


async def event_instants(infra, aggregate_id: UUID) -> list[datetime]:
    """The instant of each of the aggregate's events, in version order, from the store."""
    mapper = infra.repository.mapper
    return [mapper.to_domain_event(s).timestamp for s in await infra.store.read(aggregate_id)]


async def as_of(client: Client, path: str, moment: datetime | str) -> Any:
    text = moment if isinstance(moment, str) else rfc3339(moment)
    return await client.get(path, as_of=text)


async def shown_at(client: Client, path: str, moment: datetime | str) -> dict[str, Any]:
    a = await as_of(client, path, moment)
    assert a.status == 200, (moment, a.body)
    return a.body


def seen_by(moment: datetime, seen: list[tuple[datetime, dict[str, Any]]]) -> dict[str, Any]:
    """What GET answered after the last change made at or before `moment`."""
    return [answer for at, answer in seen if at <= moment][-1]


# -- sites ------------------------------------------------------------------------------


async def test_a_site_as_of_each_event_is_what_get_answered_after_it(api, infra, pro: Client):
    site = await pro.add_site(name="First", keywords=["a"])
    path = f"/api/v1/sites/{site['id']}"
    answers = [(await pro.get(path)).body]
    assert answers[0] == site
    assert (await pro.patch(path, {"name": "Second"})).status == 200
    answers.append((await pro.get(path)).body)
    # a job claims directories on the site: events of the site that no reader sees
    job = await pro.job(site["id"], [1, 2])
    job_id = ids.decode("job", job["id"])
    await delivery.begin_submission(infra.repository, job_id, 1)
    await delivery.record_outcome(infra.repository, job_id, 1, Failed("rejected", "No."))
    await settled(api, infra)
    assert (await pro.get(path)).body == answers[-1]
    patched = await pro.patch(path, {"description": "Now described", "keywords": ["b", "c"]})
    assert patched.status == 200
    answers.append((await pro.get(path)).body)
    assert (await pro.delete(path)).status == 200
    answers.append((await pro.get(path)).body)
    assert [a["status"] for a in answers] == ["active", "active", "active", "archived"]

    seen = [(instant(a["updated_at"]), a) for a in answers]
    events = await event_instants(infra, ids.decode("site", site["id"]))
    assert len(events) == 6  # registered, updated, claimed, unclaimed, updated, archived
    for moment in events:
        assert await shown_at(pro, path, moment) == seen_by(moment, seen), moment
    # between two changes: the earlier one's state
    for (at, answer), (later, _) in itertools.pairwise(seen):
        assert await shown_at(pro, path, at + (later - at) / 2) == answer
        assert await shown_at(pro, path, later - ONE_MICROSECOND) == answer
    # an instant to come: as it is now
    assert await shown_at(pro, path, datetime.now(UTC) + timedelta(days=365)) == answers[-1]


async def test_a_site_as_of_before_it_was_registered_is_the_unknown_id_404(pro: Client):
    site = await pro.add_site()
    path = f"/api/v1/sites/{site['id']}"
    before = instant(site["created_at"]) - ONE_MICROSECOND
    unknown = await pro.get("/api/v1/sites/site_" + "0" * 22)
    assert_error(unknown, 404, "not_found")
    earlier = await as_of(pro, path, before)
    assert_error(earlier, 404, "not_found")
    assert earlier.body == unknown.body
    assert (await shown_at(pro, path, site["created_at"])) == site


async def test_another_accounts_site_is_404_at_any_instant(api, infra, pro: Client):
    site = await pro.add_site()
    other = await account(api, infra, "pro")
    path = f"/api/v1/sites/{site['id']}"
    for moment in (site["created_at"], datetime.now(UTC) + timedelta(days=1)):
        a = await as_of(other, path, moment)
        assert_error(a, 404, "not_found")
        assert a.body == (await other.get(path)).body


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2026-11-27",  # a date is no instant
        "2026-11-27T14:30:00",  # naive: no offset, no Z
        "2026-11-27T14:30Z",  # seconds are required
        "2026-02-30T00:00:00Z",
        "2026-11-27T25:00:00Z",
        "1700000000",
        "2026-11-27T14:30:00+2",
    ],
)
async def test_a_malformed_as_of_is_422_naming_it(pro: Client, text: str):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1])
    for path in (f"/api/v1/sites/{site['id']}", f"/api/v1/jobs/{job['id']}"):
        assert_error(await as_of(pro, path, text), 422, "validation_failed", field="as_of")


async def test_as_of_takes_an_offset_encoded_or_bare_and_ignores_an_empty_value(pro: Client):
    site = await pro.add_site()
    path = f"/api/v1/sites/{site['id']}"
    created = instant(site["created_at"])
    in_paris = created.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=2)
    local = in_paris.isoformat(timespec="microseconds")
    assert await shown_at(pro, path, f"{local}+02:00") == site  # sent as %2B
    async with pro.server.http.get(f"{path}?as_of={local}+02:00", headers=pro.headers) as r:
        assert (r.status, await r.json()) == (200, site)  # a bare +, read as a space
    lowercase = site["created_at"].replace("T", "t").replace("Z", "z")
    assert await shown_at(pro, path, lowercase) == site
    # nanoseconds are cut, not rounded up past the instant
    assert_error(
        await as_of(pro, path, rfc3339(created - ONE_MICROSECOND)[:-1] + "999Z"),
        404,
        "not_found",
    )
    async with pro.server.http.get(f"{path}?as_of=", headers=pro.headers) as r:
        assert (r.status, await r.json()) == (200, site)


# -- jobs -------------------------------------------------------------------------------


async def test_a_job_as_of_each_event_is_what_get_answered_after_it(api, infra, pro: Client):
    """Every kind of job event: created, started, a submission that lands, a retry, a
    failure, a cancel that waits for two attempts in flight (one canceled by its
    transient failure, the other landing and finishing the job), a verification."""
    site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2, 3, 4])
    path = f"/api/v1/jobs/{job['id']}"
    job_id = ids.decode("job", job["id"])
    repo = infra.repository
    answers = [(await pro.get(path)).body]
    assert answers[0] == job

    async def step(change) -> None:
        await change
        await settled(api, infra)
        answers.append((await pro.get(path)).body)

    listing = f"https://dir1.example/site/{site['domain']}"
    await step(delivery.start_job(repo, job_id))
    await step(delivery.begin_submission(repo, job_id, 1))
    await step(delivery.record_outcome(repo, job_id, 1, Submitted(listing)))
    await step(delivery.begin_submission(repo, job_id, 2))
    await step(delivery.record_outcome(repo, job_id, 2, RetryLater("timeout", "No answer.")))
    await step(delivery.begin_submission(repo, job_id, 3))
    await step(delivery.record_outcome(repo, job_id, 3, Failed("captcha_required", "A captcha.")))
    await step(delivery.begin_submission(repo, job_id, 2))
    await step(delivery.begin_submission(repo, job_id, 4))
    canceled = await pro.post(f"{path}/cancel")
    assert canceled.status == 202, canceled.body
    answers.append((await pro.get(path)).body)
    await step(delivery.record_outcome(repo, job_id, 4, RetryLater("timeout", "No answer.")))
    await step(delivery.record_outcome(repo, job_id, 2, Submitted(None)))  # and finished
    evidence = Evidence(listing, has_link=True, http_status=200, indexable=True)
    await step(verification.record_listing_found(repo, job_id, 1, evidence))
    final = answers[-1]
    assert final["status"] == "canceled" and final["finished_at"] is not None
    assert [t["status"] for t in final["tasks"]] == ["verified", "submitted", "failed", "canceled"]

    history = (await pro.get(f"{path}/events", limit=200)).body["data"]
    types = [e["type"].removeprefix("Job.") for e in history]
    assert types == [
        "Created",
        "Started",
        "TaskSubmitting",
        "TaskSubmitted",
        "TaskSubmitting",
        "TaskRetryScheduled",
        "TaskSubmitting",
        "TaskFailed",
        "TaskSubmitting",
        "TaskSubmitting",
        "CancelRequested",
        "TaskCanceled",
        "TaskSubmitted",
        "Finished",
        "TaskVerified",
    ]
    seen = [(instant(a["updated_at"]), a) for a in answers]
    for i, event in enumerate(history):
        shown = await shown_at(pro, path, event["at"])
        if i == 12:
            # submitted and finished in one save, so no GET ever showed the job between
            # the two: the tasks as after the save, the job still running
            after = seen_by(instant(history[13]["at"]), seen)
            unfinished = {"status": "running", "finished_at": None, "updated_at": event["at"]}
            assert shown == {**after, **unfinished}
        else:
            assert shown == seen_by(instant(event["at"]), seen), event
    instants = [instant(e["at"]) for e in history]
    for at, answer in seen[:-1]:  # up to the next change's first event: as after this one
        following = next(moment for moment in instants if moment > at)
        assert await shown_at(pro, path, following - ONE_MICROSECOND) == answer
    assert await shown_at(pro, path, datetime.now(UTC) + timedelta(days=1)) == final
    assert_error(
        await as_of(pro, path, instant(job["created_at"]) - ONE_MICROSECOND), 404, "not_found"
    )


async def test_a_job_canceled_at_once_as_of_each_event(api, infra, pro: Client):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1, 2])
    path = f"/api/v1/jobs/{job['id']}"
    await delivery.start_job(infra.repository, ids.decode("job", job["id"]))
    await settled(api, infra)
    started = (await pro.get(path)).body
    canceled = await pro.post(f"{path}/cancel")
    assert canceled.status == 202 and canceled.body["status"] == "canceled"
    final = (await pro.get(path)).body
    at = [e["at"] for e in (await pro.get(f"{path}/events")).body["data"]]
    assert len(at) == 3  # created, started, canceled
    assert [await shown_at(pro, path, moment) for moment in at] == [job, started, final]
    assert final["finished_at"] == final["updated_at"] == at[2]
    assert {t["updated_at"] for t in final["tasks"]} == {at[2]}


#: what may happen to a site and its job, in any order (a refused step changes nothing)
DIRECTORY = st.sampled_from([1, 2, 3])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("rename"), st.sampled_from(["A", "B"])),
        st.tuples(st.just("archive")),
        st.tuples(st.just("start")),
        st.tuples(st.just("cancel")),
        st.tuples(st.sampled_from(["begin", "submitted", "failed", "retry", "verify"]), DIRECTORY),
    ),
    min_size=1,
    max_size=14,
)


async def take(client: Client, infra, site: dict[str, Any], job: dict[str, Any], step) -> None:
    repo, job_id = infra.repository, ids.decode("job", job["id"])
    match step:
        case ("rename", name):
            await client.patch(f"/api/v1/sites/{site['id']}", {"name": name})  # 422 archived
        case ("archive",):
            await client.delete(f"/api/v1/sites/{site['id']}")
        case ("cancel",):
            await client.post(f"/api/v1/jobs/{job['id']}/cancel")  # 409 once finished
        case ("start",):
            await delivery.start_job(repo, job_id)
        case (worker_step, directory):
            listing = f"https://dir{directory}.example/site/{site['domain']}"
            found = Evidence(listing, has_link=True, http_status=200, indexable=True)
            change = {
                "begin": lambda: delivery.begin_submission(repo, job_id, directory),
                "submitted": lambda: delivery.record_outcome(
                    repo, job_id, directory, Submitted(listing)
                ),
                "failed": lambda: delivery.record_outcome(
                    repo, job_id, directory, Failed("rejected", "No.")
                ),
                "retry": lambda: delivery.record_outcome(
                    repo, job_id, directory, RetryLater("timeout", "No answer.")
                ),
                "verify": lambda: verification.record_listing_found(repo, job_id, directory, found),
            }[worker_step]
            try:
                await change()
            except Conflict:  # not a step the task's state allows: nothing recorded
                pass


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
# a task settled after a cancel, on a job no worker had started (found by hypothesis)
@example(steps=[("begin", 1), ("cancel",), ("retry", 1)])
async def test_any_history_as_of_each_event_is_what_get_answered_after_it(api, infra, steps):
    """Random steps on a site and its job; then, at the instant of every event of either,
    `as_of` answers what GET answered after the step that made it. An event that a save
    wrote before another (a task settling, then the job finishing) was never shown by a
    GET: there the job is the one after the save, unfinished, and updated at that event."""
    client = Client(api, await paid_account(api, infra))
    site = await client.add_site()
    job = await client.job(site["id"], [1, 2, 3])
    paths = {"site": f"/api/v1/sites/{site['id']}", "job": f"/api/v1/jobs/{job['id']}"}
    seen: dict[str, list[tuple[datetime, dict[str, Any]]]] = {"site": [], "job": []}

    async def look() -> None:
        await settled(api, infra)
        for name, path in paths.items():
            answer = (await client.get(path)).body
            seen[name].append((instant(answer["updated_at"]), answer))

    await look()
    for step in steps:
        await take(client, infra, site, job, step)
        await look()

    for moment in await event_instants(infra, ids.decode("site", site["id"])):
        assert await shown_at(client, paths["site"], moment) == seen_by(moment, seen["site"])
    shown_instants = {at for at, _ in seen["job"]}
    history = (await client.get(f"{paths['job']}/events", limit=200)).body["data"]
    for event, following in zip(history, [*history[1:], None], strict=True):
        moment = instant(event["at"])
        shown = await shown_at(client, paths["job"], moment)
        if moment in shown_instants:
            assert shown == seen_by(moment, seen["job"]), event
        else:  # written before the job's Finished, in the same save
            assert following is not None and following["type"] == "Job.Finished", event
            after = seen_by(instant(following["at"]), seen["job"])
            # unfinished as it was before the save: queued when no worker started it
            before = seen_by(moment, seen["job"])["status"]
            unfinished = {"status": before, "finished_at": None, "updated_at": event["at"]}
            assert shown == {**after, **unfinished}, event


async def test_another_accounts_job_is_404_at_any_instant(api, infra, pro: Client):
    site = await pro.add_site()
    job = await pro.job(site["id"], [1])
    other = await account(api, infra, "pro")
    path = f"/api/v1/jobs/{job['id']}"
    unknown = await other.get("/api/v1/jobs/job_" + "0" * 22)
    for moment in (job["created_at"], datetime.now(UTC) + timedelta(days=1)):
        a = await as_of(other, path, moment)
        assert_error(a, 404, "not_found")
        assert a.body == unknown.body


async def test_as_of_is_in_the_openapi_document_of_both_reads(pro: Client):
    doc = (await pro.get("/api/v1/openapi.json")).body
    for path in ("/api/v1/sites/{site_id}", "/api/v1/jobs/{job_id}"):
        query = [p for p in doc["paths"][path]["get"]["parameters"] if p["in"] == "query"]
        assert [(p["name"], p["schema"]["format"]) for p in query] == [("as_of", "date-time")]
