"""A job that runs to its end against the sandbox directories, watched through
`GET /jobs/{id}/stream` by a real HTTP client: every change reaches the stream, in
order, each once, and the finished job ends it."""

from __future__ import annotations

from domain.services.delivery import deliver, run_job
from tests.flows.support import delivery, new_job
from tests.sse import EventStream


async def test_the_stream_follows_a_job_from_queued_to_completed(
    api, infra, isolated_settings, agency, sandbox
):
    job, job_id, _ = await new_job(agency, [1, 3])
    d = delivery(infra, isolated_settings)
    headers = {**agency.headers, "Accept": "text/event-stream"}
    async with api.http.get(f"/api/v1/jobs/{job['id']}/stream", headers=headers) as r:
        assert r.status == 200 and r.content_type == "text/event-stream"
        stream = EventStream(r)
        seen = await stream.until(lambda m: m.data["status"] == "queued")

        assert await run_job(d, job_id) == [(1, 0), (3, 0)]
        seen += await stream.until(lambda m: m.data["status"] == "running")

        assert await deliver(d, job_id, 1) == "Submitted"
        seen += await stream.until(lambda m: m.data["progress"]["submitted"] == 1)

        assert await deliver(d, job_id, 3) == "Submitted"
        seen += await stream.until(lambda m: m.event == "finished")
        assert await stream.next() is None

    # each event is a change, sent once, in the order the changes were made
    ids = [m.id for m in seen]
    assert ids == sorted(set(ids))
    assert all(m.event == "job" for m in seen[:-1])
    last = seen[-1].data
    assert last["status"] == "completed" and last["progress"]["percent"] == 100
    assert [t["status"] for t in last["tasks"]] == ["submitted", "submitted"]
    assert last == (await agency.get(f"/api/v1/jobs/{job['id']}")).body
    assert api.app.state.job_feed.open == 0
