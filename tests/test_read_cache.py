"""Repeated reads answered from the web process's memory (`api.read_cache`): given again
only while the read models they show are unchanged, only to the account and plan they
were made for, and never before the caller is authenticated. The app runs under uvicorn
with its projector in-process; the process's `backlynk_read_cache` counter says whether a
read was answered from memory (hit), read and kept (miss) or not kept (bypass)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from starlette.responses import Response, StreamingResponse

from adapters import metrics
from adapters.infrastructure import open_infrastructure
from adapters.read_model_feed import ReadModelFeed
from adapters.read_versions import ReadVersions
from adapters.wiring import auth_ports
from api.app import read_cache
from api.read_cache import ReadCache
from domain.services.accounts import set_plan
from projections.runner import reset
from projections.sites import SitesProjection
from tests.accounts import bearer, create_key, paid_account
from tests.core.client import Client

OUTCOMES = ("hit", "miss", "bypass")


def counted() -> dict[str, float]:
    return {o: metrics.READ_CACHE.labels(o)._value.get() for o in OUTCOMES}


class Outcomes:
    """What the reads since the last `since()` did."""

    def __init__(self) -> None:
        self.before = counted()

    def since(self) -> dict[str, int]:
        now = counted()
        out = {o: int(now[o] - self.before[o]) for o in OUTCOMES}
        self.before = now
        return out


async def get(api, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    """(status, JSON body or text) of a GET with exactly these credentials."""
    answer = await Client(api, {}, headers).call("GET", path)
    return answer.status, answer.body


async def new_site(api, tokens, url: str = "https://cached.example.com", name: str = "One"):
    return await Client(api, tokens).add_site(url, name=name)


async def test_a_repeated_read_is_answered_from_memory_until_its_model_changes(api, infra) -> None:
    tokens = await paid_account(api, infra)
    site = await new_site(api, tokens)
    seen = Outcomes()
    first = await get(api, "/api/v1/sites", bearer(tokens))
    again = await get(api, "/api/v1/sites", bearer(tokens))
    assert first == again and first[0] == 200
    assert seen.since() == {"hit": 1, "miss": 1, "bypass": 0}

    # a write: the next read shows it (the command answered once the model showed it)
    async with api.http.patch(
        f"/api/v1/sites/{site['id']}", json={"name": "Renamed"}, headers=bearer(tokens)
    ) as r:
        assert r.status == 200
    status, listed = await get(api, "/api/v1/sites", bearer(tokens))
    assert status == 200 and [s["name"] for s in listed["data"]] == ["Renamed"]
    assert seen.since() == {"hit": 0, "miss": 1, "bypass": 0}
    status, one = await get(api, f"/api/v1/sites/{site['id']}", bearer(tokens))
    assert status == 200 and one["name"] == "Renamed"


async def test_events_a_model_does_not_apply_leave_its_answers_standing(api, infra) -> None:
    """The projector moves every projection's position past other topics' events, but
    only applying events moves a model's version: signing in again, or another model's
    change, does not cost `/sites` its kept answer."""
    tokens = await paid_account(api, infra)
    await new_site(api, tokens)
    seen = Outcomes()
    await get(api, "/api/v1/sites", bearer(tokens))
    await create_key(api, tokens)  # ApiKey.Created: the api_keys model, not sites
    async with api.http.post(
        "/api/v1/auth/login",
        json={"email": tokens["user"]["email"], "password": "correct horse battery staple"},
    ) as r:
        assert r.status == 200
    status, _ = await get(api, "/api/v1/sites", bearer(tokens))
    assert status == 200
    assert seen.since() == {"hit": 1, "miss": 1, "bypass": 0}


async def test_an_answer_is_given_only_to_the_account_it_was_made_for(api, infra) -> None:
    one, two = await paid_account(api, infra), await paid_account(api, infra)
    await new_site(api, one, "https://one.example.com", "Mine")
    seen = Outcomes()
    assert (await get(api, "/api/v1/sites", bearer(one)))[1]["data"][0]["name"] == "Mine"
    status, theirs = await get(api, "/api/v1/sites", bearer(two))
    assert status == 200 and theirs["data"] == []
    assert seen.since() == {"hit": 0, "miss": 2, "bypass": 0}


async def test_the_caller_is_checked_before_anything_kept_is_given(api, infra) -> None:
    tokens = await paid_account(api, infra)
    key = await create_key(api, tokens)
    by_key = {"X-Api-Key": key["key"]}
    for _ in range(2):
        assert (await get(api, "/api/v1/sites", by_key))[0] == 200
    async with api.http.delete(f"/api/v1/api-keys/{key['id']}", headers=bearer(tokens)) as r:
        assert r.status == 204
    status, body = await get(api, "/api/v1/sites", by_key)
    assert status == 401 and body["error"]["code"] == "invalid_api_key", body

    # a plan without API access is refused, though its answer was kept a moment ago
    assert (await get(api, "/api/v1/sites", bearer(tokens)))[0] == 200
    await set_plan(auth_ports(infra), tokens["user"]["email"], "free")
    status, body = await get(api, "/api/v1/sites", bearer(tokens))
    assert status == 403 and body["error"]["code"] == "plan_required", body


async def test_users_me_shows_a_plan_change_at_once(api, infra) -> None:
    tokens = await paid_account(api, infra)
    for _ in range(2):
        status, me = await get(api, "/api/v1/users/me", bearer(tokens))
        assert status == 200 and me["plan"]["code"] == "pro"
    await set_plan(auth_ports(infra), tokens["user"]["email"], "agency")
    status, me = await get(api, "/api/v1/users/me", bearer(tokens))
    assert status == 200 and me["plan"]["code"] == "agency", me


async def test_any_write_to_the_catalogue_moves_its_version(api, infra, catalogue) -> None:
    """The catalogue is written by `directories import`, or by an operator's SQL: a
    statement trigger versions it, whoever writes."""
    tokens = await paid_account(api, infra)
    seen = Outcomes()
    for _ in range(2):
        status, page = await get(api, "/api/v1/directories", bearer(tokens))
        assert status == 200 and page["data"][0]["name"] != "Renamed by hand"
    assert seen.since() == {"hit": 1, "miss": 1, "bypass": 0}
    await infra.pool.execute(
        "UPDATE directories SET spec = jsonb_set(spec, '{name}', '\"Renamed by hand\"') "
        "WHERE id = 1"
    )
    status, page = await get(api, "/api/v1/directories", bearer(tokens))
    assert page["data"][0]["name"] == "Renamed by hand"
    status, one = await get(api, "/api/v1/directories/1", bearer(tokens))
    assert status == 200 and one["name"] == "Renamed by hand"
    await infra.pool.execute("DELETE FROM directories WHERE id = 1")
    status, _ = await get(api, "/api/v1/directories/1", bearer(tokens))
    assert status == 404
    status, page = await get(api, "/api/v1/directories", bearer(tokens))
    assert page["data"][0]["id"] == 2


async def test_a_reset_forgets_every_answer_kept_of_its_model(api, infra) -> None:
    """A reset (a rebuild alike) empties the model for every account at once: it tells
    every account's reads, and nothing kept before it is given after it."""
    tokens = await paid_account(api, infra)
    await new_site(api, tokens)
    seen = Outcomes()
    for _ in range(2):
        assert (await get(api, "/api/v1/sites", bearer(tokens)))[0] == 200
    assert seen.since() == {"hit": 1, "miss": 1, "bypass": 0}
    async with infra.pool.acquire() as conn:
        await reset(conn, SitesProjection())
    assert (await get(api, "/api/v1/sites", bearer(tokens)))[0] == 200
    assert seen.since()["hit"] == 0


async def test_one_accounts_changes_leave_the_answers_kept_for_others(
    api, infra, catalogue
) -> None:
    """Changes are told with the accounts whose rows they wrote: another account's new
    sites, jobs and usage cost this one's kept answers nothing."""
    mine, theirs = await paid_account(api, infra), await paid_account(api, infra)
    await new_site(api, mine)
    paths = ["/api/v1/sites", "/api/v1/jobs", "/api/v1/users/me", "/api/v1/backlinks"]
    seen = Outcomes()
    answers = [await get(api, path, bearer(mine)) for path in paths]
    assert seen.since() == {"hit": 0, "miss": 4, "bypass": 0}
    client = Client(api, theirs)
    site = await client.add_site()
    await client.job(site["id"], [1, 2])  # a job, its usage reserved
    seen.since()
    assert [await get(api, path, bearer(mine)) for path in paths] == answers
    assert seen.since() == {"hit": 4, "miss": 0, "bypass": 0}


async def test_as_of_csv_and_errors_are_never_kept(api, infra) -> None:
    tokens = await paid_account(api, infra)
    site = await new_site(api, tokens)
    seen = Outcomes()
    as_of = "2999-01-01T00:00:00Z"
    for _ in range(2):
        status, _ = await get(api, f"/api/v1/sites/{site['id']}?as_of={as_of}", bearer(tokens))
        assert status == 200
    assert seen.since() == {"hit": 0, "miss": 0, "bypass": 2}
    csv = {**bearer(tokens), "Accept": "text/csv"}
    for _ in range(2):
        status, text = await get(api, "/api/v1/backlinks", csv)
        assert status == 200 and isinstance(text, str) and text.startswith("id,")
    assert seen.since() == {"hit": 0, "miss": 0, "bypass": 2}
    # the JSON answer kept for the same path is not what a CSV request gets, nor the reverse
    status, page = await get(api, "/api/v1/backlinks", bearer(tokens))
    assert status == 200 and page["data"] == []
    status, text = await get(api, "/api/v1/backlinks?format=csv", bearer(tokens))
    assert status == 200 and isinstance(text, str) and text.startswith("id,")
    assert seen.since() == {"hit": 0, "miss": 1, "bypass": 1}
    missing = "/api/v1/jobs/job_00000000000000000000000000"
    for _ in range(2):
        status, _ = await get(api, missing, bearer(tokens))
        assert status in (404, 422)
    assert seen.since() == {"hit": 0, "miss": 0, "bypass": 2}


async def test_no_cache_without_a_budget_or_with_a_replica(isolated_settings) -> None:
    off = msgspec.structs.replace(isolated_settings, read_cache_mb=0)
    replica_url = isolated_settings.database_url + "?application_name=replica"
    replica = msgspec.structs.replace(isolated_settings, read_database_url=replica_url)
    for settings, expected in ((isolated_settings, True), (off, False), (replica, False)):
        infra = await open_infrastructure(settings, pool_size=2)
        try:
            assert (read_cache(infra, settings) is not None) is expected
        finally:
            await infra.close()


def response(size: int, status: int = 200) -> Response:
    return Response(b"x" * size, status_code=status, media_type="application/json")


def test_the_budget_keeps_the_newest_answers() -> None:
    cache = ReadCache(ReadVersions(None), ReadModelFeed("postgresql://unused"), 8 * 1024)
    tag = (1,)
    assert not cache.keep("too big", tag, response(1024))  # over an eighth of the budget
    assert not cache.keep("error", tag, response(10, 404))
    streamed = StreamingResponse(iter([b"a"]), media_type="text/csv")
    assert not cache.keep("streamed", tag, streamed)
    for n in range(20):
        assert cache.keep(n, tag, response(300))
    kept = [n for n in range(20) if cache.get(n, tag) is not None]
    assert kept == list(range(20 - len(kept), 20)) and 0 < len(kept) < 20
    assert cache.get(19, (2,)) is None  # another version: not given


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/backlinks"])
async def test_lists_filtered_by_site_follow_the_sites_model(api, infra, path) -> None:
    """`?site_id=` reads the sites model as well as the list's own: another account's
    site is refused on that field, whatever was kept for the site's owner."""
    tokens = await paid_account(api, infra)
    site = await new_site(api, tokens)
    for _ in range(2):
        status, page = await get(api, f"{path}?site_id={site['id']}", bearer(tokens))
        assert status == 200 and page["data"] == []
    other = await paid_account(api, infra)
    status, body = await get(api, f"{path}?site_id={site['id']}", bearer(other))
    assert status == 404 and body["error"]["field"] == "site_id", body


async def test_a_serving_app_freezes_what_its_start_up_made(isolated_settings, infra) -> None:
    """`backlynk serve` asks for it (`freeze_start_up`): a full collection no longer walks
    the start-up heap, which held every request of the process for ~50 ms at a time."""
    import gc

    from api.app import create_app
    from tests.conftest import LiveServer

    assert gc.get_freeze_count() == 0
    app = create_app(
        isolated_settings, infra=infra, in_process_projector=True, freeze_start_up=True
    )
    try:
        async with LiveServer(app) as live:
            assert gc.get_freeze_count() > 10_000
            async with live.http.get("/healthz") as r:
                assert r.status == 200
    finally:
        gc.unfreeze()  # this test process starts hundreds of apps


def test_only_models_whose_changes_are_told_may_be_kept() -> None:
    """A kept answer is given again until its models' changes are told for its account:
    an operation naming a model that tells nothing (or a misspelt one) would keep its
    answers for ever, so the app refuses to start with it."""
    from dataclasses import replace

    from api.app import check_cached_models
    from api.operations import OPERATIONS
    from api.read_cache import Cached

    check_cached_models(OPERATIONS)  # the real table passes
    [op] = [o for o in OPERATIONS if o.path == "/api/v1/sites" and o.method == "GET"]
    for untold in ("audit", "site"):
        wrong = replace(op, cached=Cached(("sites", untold)))
        with pytest.raises(RuntimeError, match=untold):
            check_cached_models([wrong])


async def test_a_polled_job_stays_kept_while_the_accounts_other_jobs_change(
    api, infra, catalogue
) -> None:
    """`GET /jobs/{id}` is kept per job: another job of the same account moving leaves it
    standing (the account's list does not), its own change does not."""
    tokens = await paid_account(api, infra)
    client = Client(api, tokens)
    site = await client.add_site()
    polled, other = await client.job(site["id"], [1]), await client.job(site["id"], [2])
    path = f"/api/v1/jobs/{polled['id']}"
    seen = Outcomes()
    for _ in range(2):
        first = await get(api, path, bearer(tokens))
        assert first[0] == 200
    await get(api, "/api/v1/jobs", bearer(tokens))
    assert seen.since() == {"hit": 1, "miss": 2, "bypass": 0}
    assert (await client.post(f"/api/v1/jobs/{other['id']}/cancel", {})).status == 202
    assert await get(api, path, bearer(tokens)) == first
    status, listed = await get(api, "/api/v1/jobs", bearer(tokens))
    assert status == 200 and {j["status"] for j in listed["data"]} >= {"canceled"}
    assert seen.since() == {"hit": 1, "miss": 1, "bypass": 0}
    assert (await client.post(f"{path}/cancel", {})).status == 202
    status, job = await get(api, path, bearer(tokens))
    assert status == 200 and job["status"] == "canceled"
    assert seen.since() == {"hit": 0, "miss": 1, "bypass": 0}


async def test_the_catalogue_is_kept_once_per_plan(api, infra, catalogue) -> None:
    """The catalogue's answers are the same for every account on a plan (its DR cap is
    the plan's): one account's read is another's hit, never another plan's."""
    one, two = await paid_account(api, infra), await paid_account(api, infra)
    agency = await paid_account(api, infra, "agency")
    seen = Outcomes()
    pro_page = await get(api, "/api/v1/directories", bearer(one))
    assert pro_page == await get(api, "/api/v1/directories", bearer(two))
    assert seen.since() == {"hit": 1, "miss": 1, "bypass": 0}
    status, page = await get(api, "/api/v1/directories", bearer(agency))
    assert status == 200 and page != pro_page[1]  # DR 80 is above Pro's cap, not Agency's
    assert seen.since() == {"hit": 0, "miss": 1, "bypass": 0}
    await infra.pool.execute("UPDATE directories SET name = 'Renamed' WHERE id = 1")
    await get(api, "/api/v1/directories", bearer(two))
    assert seen.since() == {"hit": 0, "miss": 1, "bypass": 0}


def test_only_the_catalogue_may_be_shared_between_accounts() -> None:
    from dataclasses import replace

    from api.app import check_cached_models
    from api.operations import OPERATIONS
    from api.read_cache import Cached

    [op] = [o for o in OPERATIONS if o.path == "/api/v1/sites" and o.method == "GET"]
    with pytest.raises(RuntimeError, match="shares answers of per-account"):
        check_cached_models([replace(op, cached=Cached(("sites",), shared=True))])
