"""Public ids: a type prefix and the aggregate's UUID as hex (`usr_9f…`, `key_…`).

One place converts between the strings clients see and the UUIDs aggregates use, so every
resource (sites, jobs, backlinks) spells its ids the same way. A malformed id, or one with
another resource's prefix, is simply an id that names nothing: `NotFound`, like an unknown
one, so a client cannot probe which prefixes exist.
"""

from __future__ import annotations

from uuid import UUID

from domain.errors import NotFound

USER = "usr"
API_KEY = "key"
SITE = "site"
JOB = "job"
BACKLINK = "bl"


def to_public(prefix: str, value: UUID) -> str:
    return f"{prefix}_{value.hex}"


def from_public(prefix: str, text: str) -> UUID:
    """The UUID inside `text`; `NotFound` unless it is `<prefix>_<32 hex digits>`."""
    head, sep, tail = text.partition("_")
    if head != prefix or not sep or len(tail) != 32:
        raise NotFound(f"No {prefix} object with id {text!r}.")
    try:
        return UUID(hex=tail)
    except ValueError:
        raise NotFound(f"No {prefix} object with id {text!r}.") from None
