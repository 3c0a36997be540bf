"""`domain.services.as_of.owned_as_of`, the one time-travel rule behind `job_as_of` and
`site_as_of`: the object as it stood at an instant; before it existed, or for another
account, the object's own not-found, word for word the unknown id's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory_repository import InMemoryRepository
from domain.errors import NotFound
from domain.job import Job, job_not_found
from domain.services import jobs, sites
from domain.services.as_of import owned_as_of
from domain.site import Site, site_not_found
from tests.support import listed_catalogue, new_job, new_site, site_ports


def _end() -> datetime:
    """An instant after every event of the test."""
    return datetime.now(UTC) + timedelta(days=1)


async def test_each_object_as_of_an_instant_and_the_unknown_id_answer_otherwise():
    repo = InMemoryRepository()
    account = uuid.uuid4()
    site = await new_site(repo, account)
    await sites.update_site(
        site_ports(repo), account_id=account, site_id=site.id, changes={"name": "Renamed"}
    )
    job, _ = await new_job(repo, listed_catalogue(), account, site.id, [1, 2])
    cases = [
        (Site, site.id, sites.site_as_of, site_not_found, lambda s: s.name),
        (Job, job.id, jobs.job_as_of, job_not_found, lambda j: [t.status for t in j.tasks]),
    ]
    for cls, aggregate_id, service, not_found, shown in cases:
        _, events = await repo.history(aggregate_id, cls, until=_end())
        for index, event in enumerate(events):
            at = event.timestamp
            got, history = await service(repo, account, aggregate_id, at)
            generic, same = await owned_as_of(repo, cls, aggregate_id, account, at, not_found)
            assert shown(got) == shown(generic) and history == same == events[: index + 1]
            assert got.version == index + 1
        unknown = str(not_found())
        for who, at in [
            (account, events[0].timestamp - timedelta(microseconds=1)),  # before it existed
            (uuid.uuid4(), events[-1].timestamp),  # another account's
        ]:
            with pytest.raises(NotFound) as refused:
                await service(repo, who, aggregate_id, at)
            assert str(refused.value) == unknown
    assert (await sites.site_as_of(repo, account, site.id, _end()))[0].name == "Renamed"
