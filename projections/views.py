"""A read model's view: one msgspec struct whose field names are its table's columns.

The SELECT list, the INSERT of a new row and the conversion of a fetched record all come
from the struct's fields by name, so a column is written once beside its DDL type and once
in its view. List and dict fields are jsonb columns: read as JSON text and decoded, written
as JSON text cast to jsonb (no codec on the pools: every other reader sees plain text)."""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

V = TypeVar("V", bound=msgspec.Struct)


@functools.cache
def json_fields(view: type[msgspec.Struct]) -> frozenset[str]:
    """The fields of `view` that are jsonb columns (lists and dicts of plain values)."""
    out = set()
    for field in msgspec.structs.fields(view):
        origin = typing.get_origin(field.type) or field.type
        args = typing.get_args(field.type)
        nested = any(isinstance(a, type) and issubclass(a, msgspec.Struct) for a in args)
        if origin in (list, dict) and not nested:
            out.add(field.name)
    return frozenset(out)


@functools.cache  # built once per view: queries put it in their text on every call
def columns(view: type[msgspec.Struct], *, skip: tuple[str, ...] = ()) -> str:
    """The SELECT list of `view`: a column per field, jsonb ones as text (`skip` those
    that are not columns, such as rows joined from another table)."""
    json = json_fields(view)
    return ", ".join(
        f"{name}::text AS {name}" if name in json else name
        for name in view.__struct_fields__
        if name not in skip
    )


def convert(record: Any, view: type[V], **given: Any) -> V:
    """A fetched record as `view`, by column name (`given` adds values not read from it)."""
    values = {**dict(record), **given}
    for name in json_fields(view):
        if isinstance(values.get(name), str):
            values[name] = msgspec.json.decode(values[name])
    return msgspec.convert(values, view)


def by_name(target: type[V], source: Any, **given: Any) -> V:
    """`target` built by keyword: each field from `given` when there, else from the
    attribute of `source` that has its name (an aggregate, an event, another view)."""
    values = {
        name: given[name] if name in given else getattr(source, name)
        for name in target.__struct_fields__
    }
    return target(**values)


def placeholder(view: type[msgspec.Struct], name: str, number: int) -> str:
    """`$number`, cast to jsonb when `name` is a jsonb column of `view`."""
    return f"${number}::jsonb" if name in json_fields(view) else f"${number}"


def values(view: type[msgspec.Struct], source: Any, names: Iterable[str]) -> list[Any]:
    """The values `names` of `source` (its attributes, or its items when a mapping), as
    the columns of `view` take them (jsonb ones as JSON text)."""
    json = json_fields(view)
    get = source.get if isinstance(source, Mapping) else functools.partial(getattr, source)
    return [msgspec.json.encode(get(n)).decode() if n in json else get(n) for n in names]


async def insert(
    conn: Any,
    table: str,
    rows: Sequence[msgspec.Struct],
    *,
    skip: Iterable[str] = (),
    suffix: str = "",
    **same: Any,
) -> None:
    """INSERT `rows` (of one view) into `table`, a column per field (`skip` those that are
    not columns) plus `same`'s columns, one value for every row. `suffix` ends the
    statement (`ON CONFLICT ...`)."""
    if not rows:
        return
    view = type(rows[0])
    names = [n for n in view.__struct_fields__ if n not in set(skip)]
    placeholders = [placeholder(view, n, i) for i, n in enumerate([*names, *same], start=1)]
    sql = (
        f"INSERT INTO {table} ({', '.join([*names, *same])}) "
        f"VALUES ({', '.join(placeholders)}) {suffix}"
    ).rstrip()
    args = [[*values(view, row, names), *same.values()] for row in rows]
    if len(args) == 1:
        await conn.execute(sql, *args[0])
    else:
        await conn.executemany(sql, args)
