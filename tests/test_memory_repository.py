"""The in-memory repository keeps the event-sourced repository's promises: each test runs
against both, so the domain-service tests that use it prove what they would on Postgres."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory_repository import InMemoryRepository
from domain.errors import ConcurrencyConflict, NotFound
from domain.site import Site
from tests.counter import Counter, Tag


@pytest.fixture(params=["memory", "postgres"])
def repo(request):
    if request.param == "memory":
        return InMemoryRepository()
    return request.getfixturevalue("infra").repository


async def test_a_save_returns_the_position_of_its_last_event(repo):
    a, b = Counter("a", uuid.uuid4()), Counter("b", uuid.uuid4())
    b.increment(by=2, when=datetime.now(UTC))
    first = await repo.save(a, b)
    b.increment(by=1, when=datetime.now(UTC))
    assert await repo.save(b) == first + 1  # one event: the next position
    assert await repo.save(a) == 0  # nothing pending: nothing written
    assert (await repo.get(b.id, Counter)).value == 3


async def test_events_round_trip_with_their_declared_types(repo):
    owner = uuid.uuid4()
    when = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    c = Counter("typed", owner)
    c.tag(Tag("x", when))
    await repo.save(c)
    loaded = await repo.get(c.id, Counter)
    assert loaded.owner == owner and isinstance(loaded.owner, uuid.UUID)
    assert loaded.tags == [Tag("x", when)] and loaded.version == 2


async def test_a_version_clash_writes_nothing_and_keeps_the_events_pending(repo):
    c = Counter("clash", uuid.uuid4())
    await repo.save(c)
    first, second = await repo.get(c.id, Counter), await repo.get(c.id, Counter)
    bystander = Counter("innocent bystander", uuid.uuid4())
    first.increment(by=1, when=datetime.now(UTC))
    await repo.save(first)
    second.increment(by=5, when=datetime.now(UTC))
    with pytest.raises(ConcurrencyConflict):
        await repo.save(second, bystander)  # atomic: the bystander is not written either
    with pytest.raises(NotFound):
        await repo.get(bystander.id, Counter)
    assert (await repo.get(c.id, Counter)).value == 1
    assert len(second.collect_events()) == 1  # still pending, as before the save


async def test_concurrent_saves_of_one_aggregate_let_exactly_one_win(repo):
    c = Counter("race", uuid.uuid4())
    await repo.save(c)
    copies = [await repo.get(c.id, Counter) for _ in range(10)]
    for copy in copies:
        copy.increment(by=1, when=datetime.now(UTC))
    results = await asyncio.gather(*(repo.save(x) for x in copies), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, ConcurrencyConflict) for r in results if isinstance(r, Exception))
    assert (await repo.get(c.id, Counter)).value == 1


async def test_an_unknown_id_or_another_class_is_not_found(repo):
    c = Counter("mine", uuid.uuid4())
    await repo.save(c)
    with pytest.raises(NotFound):
        await repo.get(uuid.uuid4(), Counter)
    with pytest.raises(NotFound):
        await repo.get(c.id, Site)


async def test_history_is_the_aggregate_as_it_stood_at_an_instant(repo):
    c = Counter("history", uuid.uuid4())
    for by in (1, 10, 100):
        c.increment(by=by, when=datetime.now(UTC))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # the third change was recorded by a writer whose clock lagged behind the second's
    at = [start + timedelta(minutes=m) for m in (0, 1, 3, 2)]
    for event, moment in zip(c._pending_events, at, strict=True):
        object.__setattr__(event, "timestamp", moment)
    await repo.save(c)
    with pytest.raises(NotFound):
        await repo.history(c.id, Counter, until=at[0] - timedelta(microseconds=1))
    for until, value, count in [
        (at[0], 0, 1),
        (at[1], 1, 2),
        (at[3], 1, 2),  # the history ends at the first later event: no gap in it
        (at[2], 111, 4),
        (start + timedelta(days=365), 111, 4),
    ]:
        counter, events = await repo.history(c.id, Counter, until=until)
        assert (counter.value, [e.timestamp for e in events]) == (value, at[:count])
    with pytest.raises(NotFound):
        await repo.history(c.id, Site, until=at[2])
