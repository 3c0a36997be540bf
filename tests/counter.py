"""A small aggregate used to test the event store, repository and projector in
isolation from the business aggregates."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, event


class Tag(msgspec.Struct, frozen=True):
    label: str
    at: datetime


class Counter(Aggregate):
    name: str
    owner: UUID
    value: int
    tags: list[Tag]

    @event("Created")
    def __init__(self, name: str, owner: UUID) -> None:
        self.name = name
        self.owner = owner
        self.value = 0
        self.tags = []

    @event("Incremented")
    def increment(self, by: int, when: datetime) -> None:
        self.value += by

    @event("Tagged")
    def tag(self, tag: Tag) -> None:
        self.tags = [*self.tags, tag]
