"""Public ids (`domain.ids`) as requests carry them, in the path or in a body field: decoded
to their UUID, or the resource's 404 — a malformed id (or one of another type) gets the same
answer as an unknown one."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from starlette.requests import Request

from domain import ids
from domain.errors import NotFound


def path_id(request: Request, prefix: str, param: str, not_found: Callable[[], NotFound]) -> UUID:
    """The UUID of the path parameter `param`, an id of type `prefix`, or `not_found()`."""
    value = ids.decode(prefix, request.path_params[param])
    if value is None:
        raise not_found()
    return value


def field_id(text: str, prefix: str, field: str, not_found: Callable[[], NotFound]) -> UUID:
    """The UUID of the body field `field`'s id `text`, or `not_found()`'s 404 on that field."""
    value = ids.decode(prefix, text)
    if value is None:
        raise NotFound(not_found().details, field=field)
    return value
