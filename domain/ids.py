"""Public ids: a type prefix and the aggregate's UUID in hex (`site_3f2a…`), so an id says
what it names and maps back to its aggregate without a lookup."""

from __future__ import annotations

import uuid
from uuid import UUID

# namespace for deterministic ids of index aggregates (uniqueness guards, quota periods)
NAMESPACE = uuid.UUID("6f1d3d5e-2a4b-4c55-9a43-7b1e0c2d9f10")


def encode(prefix: str, value: UUID) -> str:
    return f"{prefix}_{value.hex}"


def decode(prefix: str, text: str) -> UUID | None:
    """The UUID inside `text`, or None when it is not a well-formed id of this type."""
    head, sep, tail = text.partition("_")
    if head != prefix or not sep or len(tail) != 32:
        return None
    try:
        return UUID(hex=tail)
    except ValueError:
        return None


def derived(*parts: object) -> UUID:
    """A stable UUID for a natural key, e.g. derived("quota", account_id, "2026-11")."""
    return uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts))
