"""msgspec-based serialisation of domain events for eventsourcing.

`MsgspecTranscoder` turns an event's state dict into JSON bytes and back. JSON decoded
without a type yields strings for datetimes and UUIDs, so `TypedMapper` decodes each
event's state against its class's annotations (and a snapshot's state against its
aggregate's annotations): `timestamp`, ids and nested values come back as their real
types, in our code and in eventsourcing's own `Application` alike (it picks the mapper up
through the `MAPPER_TOPIC` setting).
"""

from __future__ import annotations

import functools
import typing
from datetime import datetime
from typing import Any

import msgspec
from eventsourcing.domain import BaseAggregate, CanSnapshotAggregate
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

from domain.cause import Cause

_encoder = msgspec.json.Encoder(decimal_format="string", uuid_format="hex")
_decoder = msgspec.json.Decoder()


class MsgspecTranscoder(Transcoder):
    """JSON via msgspec: UUIDs as hex, datetimes as RFC 3339, Structs as objects."""

    def encode(self, obj: Any) -> bytes:
        return _encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        return _decoder.decode(data)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The annotated type of every field of `cls` (event class or aggregate class).
    Names whose annotation cannot be resolved are left undecoded (typed `Any`)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = __import__(klass.__module__, fromlist=["_"]) if klass.__module__ else None
        namespace = dict(vars(module)) if module else {}
        namespace.update(vars(klass))
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if isinstance(annotation, str):
                try:
                    annotation = eval(annotation, namespace)
                except Exception:
                    annotation = Any
            if typing.get_origin(annotation) is typing.ClassVar or annotation is typing.ClassVar:
                continue
            hints[name] = annotation
    if issubclass(cls, BaseAggregate):
        # set in BaseAggregate.__init__ without a class-level annotation
        hints.setdefault("_created_on", datetime)
        hints.setdefault("_modified_on", datetime)
    return hints


def convert_state(state: dict[str, Any], cls: type) -> dict[str, Any]:
    types = field_types(cls)
    for name, value in state.items():
        hint = types.get(name, Any)
        if hint is Any or not isinstance(value, (str, dict, list)):
            continue  # already its own type (ids set by the Mapper, numbers, booleans)
        state[name] = msgspec.convert(value, hint, strict=False)
    return state


class TypedMapper(Mapper):
    """A Mapper whose decoded event state has its declared types, not JSON's."""

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        state = vars(event)
        cls = type(event)
        convert_state(state, cls)
        if isinstance(state.get("cause"), dict):  # not a field: set as the event is saved
            state["cause"] = msgspec.convert(state["cause"], Cause, strict=False)
        if isinstance(event, CanSnapshotAggregate):
            aggregate_cls = resolve_topic(state["topic"])
            convert_state(state["state"], aggregate_cls)
        return event
