"""The mapper's one-step decode (an event of its class's current version, straight into
its fields' types) gives exactly the event the general way gives (decode, upcast,
convert field by field), for every kind of event the service stores; and any state of
another shape goes the general way."""

from __future__ import annotations

import msgspec
from eventsourcing.persistence import StoredEvent

from adapters.memory_repository import InMemoryRepository
from adapters.transcoder import _fast_decoder
from tests.support import listed_catalogue
from tests.test_read_models import exercise_every_event


def same(a: object, b: object) -> bool:
    """Equal events, and every value of the same type (a str is no datetime)."""
    return (
        type(a) is type(b)
        and vars(a) == vars(b)
        and all(type(vars(a)[k]) is type(vars(b)[k]) for k in vars(a))
    )


async def test_the_one_step_decode_equals_the_general_way_for_every_stored_event():
    repo = InMemoryRepository()
    await exercise_every_event(repo, listed_catalogue())
    topics = set()
    for stored in repo.log:
        assert _fast_decoder(stored.topic) is not None, stored.topic
        assert _fast_decoder(stored.topic).decode(stored.state) is not None, stored.topic
        fast = repo.mapper.to_domain_event(stored)
        general = repo.mapper.general_domain_event(stored)
        assert same(fast, general), stored.topic
        topics.add(stored.topic)
    assert len(topics) >= 20  # sites, jobs and tasks, quotas, backlinks, registries


async def test_a_state_of_another_shape_goes_the_general_way():
    repo = InMemoryRepository()
    await exercise_every_event(repo, listed_catalogue())
    stored = next(s for s in repo.log if s.topic.endswith("Site.Registered"))
    state = msgspec.json.decode(stored.state)
    fast = _fast_decoder(stored.topic)

    def shaped(change) -> StoredEvent:
        changed = dict(state)
        change(changed)
        return StoredEvent(
            stored.originator_id,
            stored.originator_version,
            stored.topic,
            msgspec.json.encode(changed),
        )

    older = shaped(lambda s: (s.pop("class_version"), s.pop("cause")))  # version 1: upcast
    extra = shaped(lambda s: s.update(unknown="kept"))
    missing = shaped(lambda s: s.pop("keywords"))
    for other in (older, extra, missing):
        assert fast.decode(other.state) is None
    assert repo.mapper.to_domain_event(older).cause is None  # upcast from version 1
    assert repo.mapper.to_domain_event(extra).unknown == "kept"
    assert not hasattr(repo.mapper.to_domain_event(missing), "keywords")
