"""The one pagination helper for every list endpoint (API.md, Conventions).

Keyset pagination, newest first: a route fetches `limit + 1` rows strictly after the
cursor's sort key and `paginate` trims the extra row into `has_more`. The cursor is the
sort key of the last row returned, beside a tag of the list that handed it out, JSON-encoded
then base64url — opaque to clients, and scoped by the route's own query (an account can
only page through its own rows). A cursor pages only the list it came from: another
list's (or another job's events') is refused, not read as a position it never was.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from api.errors import ApiError

R = TypeVar("R")
T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

#: cursor keys as the columns hold them: a cursor decoding to anything else (negative, or
#: beyond the column's range) was not handed out by us, and must not reach the database
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # bigint sequences and versions


class Pagination(msgspec.Struct):
    limit: int
    has_more: bool
    next_cursor: str | None


class Page(msgspec.Struct, Generic[T]):
    data: list[T]
    pagination: Pagination


class PageRequest(msgspec.Struct, frozen=True):
    limit: int
    #: the decoded cursor: sort key of the last row already seen, or None for page one
    after: Any = None
    #: the list this page belongs to (`list_tag`): the cursors it hands out carry it
    tag: str = ""

    @property
    def fetch(self) -> int:
        """Rows to ask the database for: one more than shown, to learn `has_more`."""
        return self.limit + 1


@functools.lru_cache(maxsize=1024)  # every list request asks (a path with ids is a name)
def list_tag(name: str) -> str:
    """A short tag naming one list (a route and its query shape, or a path with its ids),
    so that a cursor says which list it pages without showing how it is built."""
    return hashlib.blake2b(name.encode(), digest_size=6).hexdigest()


def encode_cursor(key: Any, tag: str = "") -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([tag, key])).decode().rstrip("=")


def decode_cursor(cursor: str, key_type: Any, tag: str = "") -> Any:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        given, key = msgspec.json.decode(raw, type=tuple[str, key_type])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ApiError(
            422, "validation_failed", "This cursor is not one we handed out.", field="cursor"
        ) from None
    if given != tag:
        raise ApiError(
            422,
            "validation_failed",
            "This cursor belongs to another list; page a list with the cursors it returns.",
            field="cursor",
        )
    return key


def paginate(
    rows: Sequence[R],
    page: PageRequest,
    *,
    key: Callable[[R], Any],
    render: Callable[[R], T],
) -> Page[T]:
    """`rows` as fetched (up to `page.fetch`, in order) -> the list envelope."""
    shown = list(rows[: page.limit])
    has_more = len(rows) > page.limit
    next_cursor = encode_cursor(key(shown[-1]), page.tag) if has_more and shown else None
    return Page([render(r) for r in shown], Pagination(page.limit, has_more, next_cursor))
