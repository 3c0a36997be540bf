"""msgspec-based serialisation of domain events for eventsourcing.

`MsgspecTranscoder` turns an event's state dict into JSON bytes and back. JSON decoded
without a type yields strings for datetimes and UUIDs, so `TypedMapper` decodes each
event's state against its class's annotations (and a snapshot's state against its
aggregate's annotations): `timestamp`, ids and nested values come back as their real
types, in our code and in eventsourcing's own `Application` alike (it picks the mapper up
through the `MAPPER_TOPIC` setting).

An event of its class's current version is decoded in one step, straight from JSON into
its fields' types (`_FastDecoder`, a msgspec Struct per event class); anything else — an
older version (to be upcast), a field more or less, a snapshot — goes the general way
(decode, upcast, convert field by field). Both give the same event.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import BaseAggregate, CanSnapshotAggregate
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic
from msgspec import UNSET, UnsetType

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


#: stored state fields that are no dataclass field of the event
_NOT_STORED = ("originator_id", "originator_version")


class _FastDecoder:
    """Decodes the stored state of one event class at its current version, in one msgspec
    call, into a dict of typed values: exactly what the general way makes of it (every
    field of the class, each decoded against its annotation, and the cause when stored),
    or None when the state is of another shape (another version, a field more or less)."""

    def __init__(self, cls: type):
        self.cls = cls
        types = field_types(cls)
        names = [f.name for f in dataclasses.fields(cls) if f.name not in _NOT_STORED]
        self.version = getattr(cls, "class_version", 1)
        fields: list[Any] = [(name, types.get(name, Any)) for name in names]
        fields += [
            ("class_version", int, 1),
            ("cause", Cause | None | UnsetType, UNSET),
        ]
        struct = msgspec.defstruct(
            f"Stored{cls.__name__}", fields, forbid_unknown_fields=True, kw_only=True
        )
        self.decoder = msgspec.json.Decoder(struct, strict=False)

    def decode(self, data: bytes) -> dict[str, Any] | None:
        try:
            state = msgspec.structs.asdict(self.decoder.decode(data))
        except msgspec.ValidationError:
            return None
        if state.pop("class_version") != self.version:
            return None
        if state["cause"] is UNSET:
            del state["cause"]
        return state


@functools.cache
def _fast_decoder(topic: str) -> _FastDecoder | None:
    cls = resolve_topic(topic)
    if not dataclasses.is_dataclass(cls) or issubclass(cls, CanSnapshotAggregate):
        return None
    try:
        return _FastDecoder(cls)
    except (TypeError, ValueError):  # a field type msgspec cannot decode: the general way
        return None


class TypedMapper(Mapper):
    """A Mapper whose decoded event state has its declared types, not JSON's."""

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        if (
            self.cipher is None
            and self.compressor is None
            and isinstance(stored_event.originator_id, UUID)  # else: converted the general way
        ):
            fast = _fast_decoder(stored_event.topic)
            state = fast.decode(stored_event.state) if fast is not None else None
            if fast is not None and state is not None:
                state["originator_id"] = stored_event.originator_id
                state["originator_version"] = stored_event.originator_version
                event = object.__new__(fast.cls)
                object.__setattr__(event, "__dict__", state)
                return event
        return self.general_domain_event(stored_event)

    def general_domain_event(self, stored_event: StoredEvent) -> Any:
        """Decode, upcast, then convert each field to its declared type."""
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
