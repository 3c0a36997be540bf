"""Read model changes told to the web processes (`adapters.read_model_feed`), against a
real Postgres: positions in commit order that never go back, the accounts a projector's
batch wrote, and each process's feed tagging answers per (model, account)."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import asyncpg
import pytest

from adapters.read_model_feed import (
    CHANNEL,
    MAX_ACCOUNTS,
    POSITION_SQL,
    POSITION_TABLE,
    ReadModelFeed,
    told_sql,
)
from projections.runner import StalePosition, _advance, catch_up, position, reset
from projections.sites import SitesProjection
from tests.support import new_site

TELL = "SELECT public.backlynk_read_models_changed($1, $2::uuid[], $3::uuid[])"


class Heard:
    """The notifications of the channel, on a connection of their own."""

    def __init__(self) -> None:
        self.payloads: list[str] = []
        self._more = asyncio.Event()

    def __call__(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self.payloads.append(payload)
        self._more.set()

    async def next(self) -> tuple[int, str, str, str]:
        """(position, model, accounts, aggregates) of the next notification."""
        async with asyncio.timeout(10):
            while not self.payloads:
                self._more.clear()
                await self._more.wait()
        position, model, accounts, aggregates = self.payloads.pop(0).split(" ")
        return int(position), model, accounts, aggregates


def ids(text: str) -> set[str]:
    return set(text.split(","))


@pytest.fixture
async def heard(settings):
    conn = await asyncpg.connect(settings.database_url)
    heard = Heard()
    await conn.add_listener(CHANNEL, heard)
    try:
        yield heard
    finally:
        await conn.close()


async def test_positions_follow_commit_order_and_name_the_accounts(infra, heard) -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    async with infra.pool.acquire() as first, infra.pool.acquire() as second:
        tx1 = first.transaction()
        await tx1.start()
        await first.execute(TELL, "sites", [one], [two])
        tx2 = second.transaction()
        await tx2.start()
        waiting = asyncio.create_task(second.execute(TELL, "jobs", [two, one], None))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # the counter's row is held to the first's commit
        await tx1.commit()
        await waiting
        await tx2.commit()
    p1, *first_told = await heard.next()
    p2, model2, accounts2, aggregates2 = await heard.next()
    assert first_told == ["sites", str(one), str(two)]
    assert (model2, ids(accounts2), aggregates2) == ("jobs", {str(one), str(two)}, "*")
    assert p2 == p1 + 1
    assert await infra.pool.fetchval(POSITION_SQL) == p2


async def test_every_account_when_none_are_named_or_too_many(infra, heard) -> None:
    many = [uuid.uuid4() for _ in range(MAX_ACCOUNTS + 1)]
    one = [uuid.uuid4()]
    await infra.pool.execute(TELL, "sites", many, one)
    await infra.pool.execute(TELL, "sites", None, one)
    await infra.pool.execute(told_sql("usage"))
    await infra.pool.execute(TELL, "jobs", one, many)  # too many aggregates: all the account's
    assert [(await heard.next())[1:] for _ in range(4)] == [
        ("sites", "*", "*"),
        ("sites", "*", "*"),
        ("usage", "*", "*"),
        ("jobs", str(one[0]), "*"),
    ]


async def test_positions_never_go_back_even_when_the_row_goes(infra, heard) -> None:
    await infra.pool.execute(told_sql("sites"))
    before = (await heard.next())[0]
    await infra.pool.execute(f"DELETE FROM {POSITION_TABLE}")
    await infra.pool.execute(told_sql("sites"))
    assert (await heard.next())[0] > before


async def test_a_batch_tells_the_accounts_owning_its_aggregates(infra, heard) -> None:
    """Batched (a catch-up from 0) or one event at a time (a live runner's single new
    event), the notification names the accounts whose rows the events wrote."""
    one, two = uuid.uuid4(), uuid.uuid4()
    first = await new_site(infra.repository, one, "https://one.example.com")
    second = await new_site(infra.repository, two, "https://two.example.com")
    projection = SitesProjection()
    async with infra.pool.acquire() as conn:
        await reset(conn, projection)
        assert (await heard.next())[1:] == ("sites", "*", "*")
        await catch_up(conn, infra.store, projection)
        _, model, accounts, aggregates = await heard.next()
        assert (model, ids(accounts)) == ("sites", {str(one), str(two)})
        assert ids(aggregates) == {str(first.id), str(second.id)}
        third = await new_site(infra.repository, two, "https://three.example.com")
        await catch_up(conn, infra.store, projection)
        assert (await heard.next())[1:] == ("sites", str(two), str(third.id))


async def test_a_catch_up_of_many_aggregates_tells_every_account(infra, heard, monkeypatch) -> None:
    """Past `TELL_EVERY_ACCOUNT_ABOVE` aggregates a batch does not look its owners up."""
    from projections import runner

    monkeypatch.setattr(runner, "TELL_EVERY_ACCOUNT_ABOVE", 1)
    for n in range(2):
        await new_site(infra.repository, uuid.uuid4(), f"https://many{n}.example.com")
    projection = SitesProjection()
    async with infra.pool.acquire() as conn:
        await reset(conn, projection)
        assert (await heard.next())[1:] == ("sites", "*", "*")
        await catch_up(conn, infra.store, projection)
        assert (await heard.next())[1:] == ("sites", "*", "*")


async def test_an_aggregate_without_a_row_tells_every_account(infra, heard) -> None:
    """The owners are looked up in the rows the batch wrote; an event that wrote none (or
    whose row is gone) cannot be placed, so every account's reads are told."""
    site = await new_site(infra.repository, uuid.uuid4())
    projection = SitesProjection()
    notes = [SimpleNamespace(originator_id=site.id), SimpleNamespace(originator_id=uuid.uuid4())]
    async with infra.pool.acquire() as conn:
        await catch_up(conn, infra.store, projection)
        await heard.next()
        at = await position(conn, projection)
        async with conn.transaction():
            await _advance(conn, projection, at, at, notes)
    assert (await heard.next())[1:] == ("sites", "*", "*")


async def test_a_moved_position_takes_the_telling_back(infra, heard) -> None:
    """Moving the position and telling are one statement: when the compare-and-set finds
    the position moved (another runner, a reset), the rollback takes the telling back."""
    site = await new_site(infra.repository, uuid.uuid4())
    projection = SitesProjection()
    async with infra.pool.acquire() as conn:
        await catch_up(conn, infra.store, projection)
        await heard.next()
        at = await position(conn, projection)
        with pytest.raises(StalePosition):
            async with conn.transaction():
                notes = [SimpleNamespace(originator_id=site.id)]
                await _advance(conn, projection, at + 1, at + 2, notes)
        assert await position(conn, projection) == at
        await infra.pool.execute(told_sql("usage"))
    assert (await heard.next())[1] == "usage"  # the next one told; nothing of sites before


async def _told(feed: ReadModelFeed, infra, *args) -> None:
    await infra.pool.execute(TELL, *args)
    assert await feed.reached(await infra.pool.fetchval(POSITION_SQL), timeout=10)


async def test_the_feed_tags_answers_per_account_and_model(settings, infra) -> None:
    feed = ReadModelFeed(settings.database_url)
    await feed.start()
    try:
        one, two = uuid.uuid4(), uuid.uuid4()
        models = ("sites", "jobs")

        def tags():
            return feed.tag(models, one), feed.tag(models, two)

        mine, theirs = tags()
        await _told(feed, infra, "sites", [one], [uuid.uuid4()])
        assert tags()[1] == theirs and tags()[0][1] == mine[1] and tags()[0][0] > mine[0]
        mine, theirs = tags()
        await _told(feed, infra, "jobs", None, None)  # every account's jobs
        assert [t[0] for t in tags()] == [mine[0], theirs[0]]
        assert tags()[0][1] > mine[1] and tags()[1][1] > theirs[1]
        mine, theirs = tags()
        await _told(feed, infra, "*", None, None)  # every model
        assert all(a > b for a, b in zip(tags()[0] + tags()[1], mine + theirs, strict=True))
        assert feed.tag(("usage",), one) == (feed.floor,)
    finally:
        await feed.stop()


async def test_one_resources_tag_moves_with_its_own_rows_only(settings, infra) -> None:
    """An answer about one aggregate (`GET /jobs/{id}`) is tagged by that aggregate: the
    account's other jobs changing leave it standing; its own, or the account's changes
    whose aggregates were not named, or every account's, move it."""
    feed = ReadModelFeed(settings.database_url)
    await feed.start()
    try:
        account, job, other_job = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

        def tag():
            return feed.tag(("jobs",), account, job)

        before = tag()
        await _told(feed, infra, "jobs", [account], [other_job])
        assert tag() == before
        assert feed.tag(("jobs",), account) > before  # the account's list did change
        await _told(feed, infra, "jobs", [account], [job])
        assert tag() > before
        for unplaced in (([account], None), (None, None)):
            before = tag()
            await _told(feed, infra, "jobs", *unplaced)
            assert tag() > before
    finally:
        await feed.stop()


async def test_a_feed_that_lost_its_connection_is_not_trusted_and_forgets(settings, infra) -> None:
    """While it is not listening, a change may go unheard: no position is reached; once
    it listens again, every tag is at least where it started again."""
    feed = ReadModelFeed(settings.database_url)
    await feed.start()
    try:
        one = uuid.uuid4()
        await _told(feed, infra, "sites", [one], None)
        before = feed.tag(("sites",), one)
        listening = feed._conn
        feed.suspect()
        assert feed.position is None
        assert not await feed.reached(0, timeout=0.05)
        await infra.pool.execute(TELL, "sites", [one], None)  # unheard
        async with asyncio.timeout(10):
            while feed.position is None or feed._conn is listening:
                await asyncio.sleep(0.05)
        assert feed.tag(("sites",), one) > before
        assert feed.floor == await infra.pool.fetchval(POSITION_SQL)
    finally:
        await feed.stop()
