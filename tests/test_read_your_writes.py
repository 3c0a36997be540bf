"""When the projector lags past the bounded wait, a command still answers with what it
saved (from the aggregate), never a 404 for the thing it just made."""

from __future__ import annotations

import msgspec

from api.app import create_app
from tests.accounts import bearer, paid_account
from tests.conftest import LiveServer


async def test_commands_answer_from_the_aggregate_when_read_models_lag(settings, infra, catalogue):
    app = create_app(
        # a short bound: the read models never catch up here (the suite's own is generous)
        msgspec.structs.replace(settings, verify_sites=False, read_your_writes_wait=0.5),
        infra=infra,
        in_process_projector=False,
    )  # no projector: the read models stand still
    async with LiveServer(app) as live:
        tokens = await paid_account(live, infra, "pro")
        async with live.http.post(
            "/api/v1/sites",
            headers=bearer(tokens),
            json={"url": "https://lag.example.com", "name": "Lagging"},
        ) as r:
            site = await r.json()
            assert r.status == 201, site
        assert site["id"].startswith("site_") and site["status"] == "active"
        assert site["url"] == "https://lag.example.com/"
        async with live.http.post(
            "/api/v1/jobs",
            headers=bearer(tokens),
            json={"site_id": site["id"], "directory_ids": [1, 2]},
        ) as r:
            job = await r.json()
            assert r.status == 202, job
        assert job["status"] == "queued" and job["progress"]["pending"] == 2
        async with live.http.post(f"/api/v1/jobs/{job['id']}/cancel", headers=bearer(tokens)) as r:
            canceled = await r.json()
            assert r.status == 202, canceled
        assert canceled["status"] == "canceled" and canceled["progress"]["canceled"] == 2
