"""The base of every Backlynk aggregate: eventsourcing's `Aggregate` whose events carry
their `cause` (`domain.cause.Cause`, or None when nothing said why).

Version 2 of every event class added `cause`; events stored before it (version 1, with
no `class_version` in their state) are upcast on load to `cause = None`, through
eventsourcing's class versioning (`class_version`, `upcast_v1_v2`). An event class
already at version 2 for another reason (`AuthSession.Started`) is version 3, its
`upcast_v2_v3` adding the cause the same way. The cause's later field `identified_by`
has a default and no version of its own: a cause stored without it reads it as None
(`domain.cause`)."""

from __future__ import annotations

from typing import Any

from eventsourcing import domain as es


def no_cause(state: dict[str, Any]) -> None:
    """The upcast that adds `cause` to an event stored before causes were recorded."""
    state["cause"] = None


class Aggregate(es.Aggregate):
    class Event(es.Aggregate.Event):
        class_version = 2
        #: set by the repository as the event is saved (not a dataclass field: the
        #: commands never pass it); None on events older than causes
        cause = None

        upcast_v1_v2 = staticmethod(no_cause)

    class Created(Event, es.Aggregate.Created):
        pass
