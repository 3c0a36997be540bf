"""On-disk compatibility with eventsourcing's own PostgresApplicationRecorder: it reads
what we wrote, an eventsourcing Application configured with our transcoder and mapper
reconstructs the same aggregate, and we read what it wrote."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
from eventsourcing.application import Application

from tests.counter import Counter, Tag


class Backlynk(Application):
    """eventsourcing names the tables after the application: backlynk_events."""


@pytest.fixture
def es_app(settings):
    url = urlparse(settings.database_url)
    app = Backlynk(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/"),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "TRANSCODER_TOPIC": "adapters.transcoder:MsgspecTranscoder",
            "MAPPER_TOPIC": "adapters.transcoder:TypedMapper",
            "IS_SNAPSHOTTING_ENABLED": "y",
        }
    )
    yield app
    app.close()


async def test_eventsourcing_reads_what_we_wrote(infra, es_app):
    when = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
    ours = Counter("ours", uuid.uuid4())
    ours.increment(by=3, when=when)
    ours.tag(Tag("proof", when))
    last = await infra.repository.save(ours)

    recorder = es_app.recorder
    assert type(recorder).__name__ == "PostgresApplicationRecorder"
    notes = recorder.select_notifications(start=1, limit=10)
    assert [n.id for n in notes][-1] == last
    assert recorder.max_notification_id() == last

    theirs = es_app.repository.get(ours.id)
    assert isinstance(theirs, Counter)
    assert vars(theirs) == vars(ours)
    assert isinstance(theirs.owner, uuid.UUID) and theirs.tags == [Tag("proof", when)]


async def test_we_read_what_eventsourcing_wrote(infra, es_app):
    c = Counter("theirs", uuid.uuid4())
    c.increment(by=7, when=datetime.now(UTC))
    es_app.save(c)
    es_app.take_snapshot(c.id)

    loaded = await infra.repository.get(c.id, Counter)
    assert vars(loaded) == vars(c) | {"_pending_events": []}
    assert loaded.value == 7 and loaded.version == 2
    snap = await infra.store.latest_snapshot(c.id)
    assert snap is not None and snap.originator_version == 2
    notes = await infra.store.notifications(0, 10)
    assert [(n.originator_id, n.originator_version) for n in notes] == [(c.id, 1), (c.id, 2)]


async def test_both_writers_interleave_in_one_gap_free_log(infra, es_app):
    ours = Counter("a", uuid.uuid4())
    await infra.repository.save(ours)
    theirs = Counter("b", uuid.uuid4())
    es_app.save(theirs)
    again = await infra.repository.get(ours.id, Counter)
    again.increment(by=1, when=datetime.now(UTC))
    await infra.repository.save(again)
    ids = [n.id for n in await infra.store.notifications(0, 10)]
    assert ids == sorted(ids) and len(ids) == 3
    assert [n.originator_id for n in es_app.recorder.select_notifications(1, 10)] == [
        ours.id,
        theirs.id,
        ours.id,
    ]
