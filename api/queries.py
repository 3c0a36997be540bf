"""Query parameters: each list declares what it reads as one msgspec struct, and
`query_of` decodes a request's query string into it — the one way every route reads its
query, and (through `parameters`) what the OpenAPI document says of it.

The query string arrives cleaned by `api.middleware.Edge`: an empty parameter is
absent, and NUL is refused. A repeated parameter counts with its last value. A value the
struct does not allow is 422 `validation_failed` naming the parameter.

Field types say everything a value may be: `int` with `Meta(ge, le)` (ASCII digits only:
`str.isdigit` also accepts "²" and "١٢"), `str` (with `max_length`), a `Literal` of
strings, or a `datetime` with `Meta(tz=True)` (RFC 3339 with `Z` or an offset; a naive
time says no instant); `| None` marks a parameter that may be absent. A field renamed
(`msgspec.field(name="from")`) is read by that name.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import msgspec
from starlette.requests import Request

from adapters.directories import SORTS
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest, Seq, decode_cursor, list_tag
from domain.backlink import STATUSES
from domain.job import JOB_STATUSES
from domain.link_types import LINK_TYPES

Q = TypeVar("Q", bound=msgspec.Struct)

Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str, msgspec.Meta(description="next_cursor of the previous page")]
Rating = Annotated[int, msgspec.Meta(ge=0, le=100)]
SiteId = Annotated[str, msgspec.Meta(description="A site of the account (404 otherwise)")]
Instant = Annotated[
    datetime,
    msgspec.Meta(tz=True, description="RFC 3339, with its offset; years 1-9999 in UTC"),
]


class Paged(msgspec.Struct, frozen=True, kw_only=True):
    """`?limit=1..200&cursor=…`: every list."""

    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


class SitesQuery(Paged, frozen=True, kw_only=True):
    status: Literal["active", "archived"] | None = None


class JobsQuery(Paged, frozen=True, kw_only=True):
    status: Literal[JOB_STATUSES] | None = None  # type: ignore[valid-type]
    site_id: SiteId | None = None


class BacklinksQuery(Paged, frozen=True, kw_only=True):
    site_id: SiteId | None = None
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    link_type: Literal[LINK_TYPES] | None = None  # type: ignore[valid-type]
    # read by `api.csv_export.wants_csv`, like `Accept: text/csv`; declared for the document
    format: (
        Annotated[
            str,
            msgspec.Meta(
                description="csv: as Accept: text/csv — every matching row, streamed "
                "(limit and cursor page the JSON list only)"
            ),
        ]
        | None
    ) = None


class DirectoriesQuery(Paged, frozen=True, kw_only=True):
    category: str | None = None
    min_dr: Rating | None = None
    max_dr: Rating | None = None
    q: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    sort: (
        Annotated[
            Literal[tuple(SORTS)],  # type: ignore[valid-type]
            msgspec.Meta(description="-dr: highest first; by id when absent"),
        ]
        | None
    ) = None


class AsOf(msgspec.Struct, frozen=True, kw_only=True):
    """`?as_of=`: one object as it stood at that instant, rebuilt from its events."""

    as_of: (
        Annotated[
            datetime,
            msgspec.Meta(
                tz=True,
                description="The object as it was at this instant, RFC 3339 with Z or an "
                "offset (+ sent as %2B, or bare): 404 before it existed; an instant to "
                "come answers it as it is now",
            ),
        ]
        | None
    ) = None


class AuditQuery(Paged, frozen=True, kw_only=True):
    type: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=2000,
                description="event types, comma-separated (Job.TaskSubmitted,Account.PlanChanged)",
            ),
        ]
        | None
    ) = None
    since: Instant | None = msgspec.field(default=None, name="from")
    until: Instant | None = msgspec.field(default=None, name="to")
    # read by `api.csv_export.wants_csv`, like `Accept: text/csv`; declared for the document
    format: (
        Annotated[
            str,
            msgspec.Meta(
                description="csv: as Accept: text/csv — every matching entry, streamed "
                "(limit and cursor page the JSON list only)"
            ),
        ]
        | None
    ) = None


#: a calendar month (UTC), as the quota counts them
Month = Annotated[
    str,
    msgspec.Meta(
        max_length=7,
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="a calendar month (UTC) as YYYY-MM, e.g. 2026-11; 1970-01 or later",
    ),
]
#: `?format=csv`, read by `api.csv_export.wants_csv`; declared for the document
ReportFormat = Annotated[
    str, msgspec.Meta(description="csv: as Accept: text/csv — the whole report")
]


class UsageReportQuery(Paged, frozen=True, kw_only=True):
    since: Month | None = msgspec.field(default=None, name="from")
    until: Month | None = msgspec.field(default=None, name="to")
    group_by: (
        Annotated[
            Literal["month", "site"],
            msgspec.Meta(description="month: a row per month of the range; site: per site"),
        ]
        | None
    ) = None
    format: ReportFormat | None = None


class DirectoriesReportQuery(Paged, frozen=True, kw_only=True):
    site_id: SiteId | None = None
    format: ReportFormat | None = None


class BacklinksReportQuery(Paged, frozen=True, kw_only=True):
    site_id: SiteId | None = None
    interval: (
        Annotated[
            Literal["day", "week"],
            msgspec.Meta(description="day: UTC days; week: ISO weeks from Monday 00:00 UTC"),
        ]
        | None
    ) = None
    since: Instant | None = msgspec.field(default=None, name="from")
    until: Instant | None = msgspec.field(default=None, name="to")
    format: ReportFormat | None = None


class _Field(msgspec.Struct, frozen=True):
    """One parameter: its field's name, its name in the query string, its type without
    `None`, and what bounds that type."""

    name: str
    param: str
    type: Any
    base: Any  # int, str or a Literal
    meta: msgspec.Meta | None


@functools.cache
def _fields(shape: type[msgspec.Struct]) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(shape, include_extras=True)
    out = []
    for name, param in zip(shape.__struct_fields__, shape.__struct_encode_fields__, strict=True):
        hint = hints[name]
        if get_origin(hint) in (Union, types.UnionType):
            hint = next(a for a in get_args(hint) if a is not type(None))
        base, meta = hint, None
        if get_origin(hint) is Annotated:
            base, *extras = get_args(hint)
            meta = next((m for m in extras if isinstance(m, msgspec.Meta)), None)
        out.append(_Field(name, param, hint, base, meta))
    return tuple(out)


def ascii_int(raw: str, max_digits: int = 18) -> int | None:
    """`raw` as an integer if it is ASCII digits only and, leading zeros aside, at most
    `max_digits` long; else None. `str.isdigit` also takes "²" and "١٢", which `int`
    refuses or reads as a number, and `int` refuses a text of more than 4,300 digits:
    either raised, a 500, where a client's text was read with them alone."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    significant = raw.lstrip("0")
    if len(significant) > max_digits:
        return None
    return int(significant or "0")


def _refuse(name: str, text: str) -> ApiError:
    return ApiError(422, "validation_failed", text, field=name)


#: an offset's `+` sent unencoded arrives as a space (form encoding), as in "…:00 02:00"
_SPACED_OFFSET = re.compile(r" (?=\d\d:?\d\d$)")
#: digits past the microsecond: cut, not rounded (an instant rounded up could take in an
#: event recorded after it)
_PAST_MICROSECONDS = re.compile(r"(\.\d{6})\d+")


def _instant(field: _Field, raw: str) -> datetime:
    text = _PAST_MICROSECONDS.sub(r"\1", _SPACED_OFFSET.sub("+", raw))
    try:
        instant: datetime = msgspec.convert(text, field.type)
    except msgspec.ValidationError:
        raise _refuse(
            field.param,
            f"{field.param} is an RFC 3339 date-time with Z or an offset, "
            "e.g. 2026-11-27T14:30:00Z.",
        ) from None
    # 9999-12-31T23:00:00-02:00 is a valid RFC 3339 text but no UTC date-time (the year
    # 10000): the database, and any conversion to UTC, would fail on it
    try:
        instant.astimezone(UTC)
    except OverflowError:
        raise _refuse(
            field.param,
            f"{field.param} must lie between the years 1 and 9999 in UTC, its offset applied.",
        ) from None
    return instant


def _value(field: _Field, raw: str) -> Any:
    name, meta = field.param, field.meta
    if get_origin(field.base) is Literal:
        allowed = get_args(field.base)
        if raw not in allowed:
            raise _refuse(name, f"{name} is one of {', '.join(allowed)}.")
        return raw
    if field.base is int:
        low, high = (meta.ge, meta.le) if meta else (None, None)
        number = ascii_int(raw, len(str(high)))
        if number is None or not low <= number <= high:
            raise _refuse(name, f"{name} must be an integer from {low} to {high}.")
        return number
    if field.base is datetime:
        return _instant(field, raw)
    if meta is not None and meta.max_length is not None and len(raw) > meta.max_length:
        raise _refuse(name, f"{name} is at most {meta.max_length} characters.")
    if meta is not None and meta.pattern is not None and not re.fullmatch(meta.pattern, raw):
        raise _refuse(name, f"{name}: {meta.description or 'not in the expected form'}.")
    return raw


@functools.cache
def _defaults(shape: type[Q]) -> Q:
    return shape()


def query_of(request: Request, shape: type[Q]) -> Q:
    """The query of `request` as `shape`; 422 naming the first parameter refused."""
    if not request.scope.get("query_string") and shape.__struct_config__.frozen:
        return _defaults(shape)  # no parameter: every field its default (shared: frozen)
    params = request.query_params
    given = {f.name: _value(f, params[f.param]) for f in _fields(shape) if f.param in params}
    return shape(**given)


def page_of(query: Paged, key_type: Any = Seq, list_name: str | None = None) -> PageRequest:
    """The page a list query asks for; its cursor decodes to the list's sort key, and must
    come from the same list (named by the query's shape unless `list_name` says)."""
    tag = list_tag(list_name or type(query).__name__)
    after = decode_cursor(query.cursor, key_type, tag) if query.cursor else None
    return PageRequest(query.limit, after, tag)


def page_request(request: Request, key_type: Any = Seq) -> PageRequest:
    """`?limit&cursor` of a list that reads nothing else: the list is its path, ids and
    all (one job's events are not another's)."""
    path = request.url.path.rstrip("/")
    return page_of(query_of(request, Paged), key_type, list_name=path)


def parameters(shape: type[msgspec.Struct]) -> list[dict[str, Any]]:
    """The OpenAPI query parameters of `shape`, each typed as `query_of` reads it."""
    out = []
    # the list's own parameters first, then the paging ones every list shares
    for field in sorted(_fields(shape), key=lambda f: f.name in Paged.__struct_fields__):
        if get_origin(field.base) is Literal:  # the values in their declared order
            schema = {"type": "string", "enum": list(get_args(field.base))}
            if field.meta is not None and field.meta.description:
                schema["description"] = field.meta.description
        else:
            schema = msgspec.json.schema(field.type)
        out.append({"name": field.param, "in": "query", "schema": schema})
    return out
