"""CSV responses: `Accept: text/csv` or `?format=csv` (API.md), one way for every list.

One cell rule for every export (and the web checker page's download, which mirrors it in
JavaScript byte for byte): booleans `true`/`false`, null empty, lists joined by a space,
datetimes as in JSON, and a cell that a spreadsheet would run as a formula — one that
begins with `=`, `+`, `-`, `@`, tab or carriage return — gets a leading `'` (OWASP's
CSV-injection rule): anchor texts and URLs come from pages strangers write.

An export holds every row that matches the filters, streamed: the rows arrive from an
async iterator (a list endpoint reads its query in keyset chunks), so no export holds a
whole table in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.pagination import MAX_LIMIT

CSV_TYPE = "text/csv"
MEDIA_TYPE = f"{CSV_TYPE}; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Row = Sequence[str]
T = TypeVar("T")

#: rows per query of an export
EXPORT_CHUNK = MAX_LIMIT


def cell(value: object) -> str:
    """API.md's CSV cells: booleans `true`/`false`, null empty, lists joined by a space,
    datetimes as in JSON (RFC 3339, `Z`); formula-looking text behind a `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = " ".join(map(str, value))
    elif isinstance(value, datetime):
        text = msgspec.json.encode(value).decode().strip('"')
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def wants_csv(request: Request) -> bool:
    # looked at only when there is something to find (every list asks, on every
    # request): parsing an empty query string and splitting an `Accept` that names no
    # CSV cost a JSON answer ~4 µs
    if (
        request.scope.get("query_string")
        and request.query_params.get("format", "").lower() == "csv"
    ):
        return True
    accept = request.headers.get("accept", "")
    if "csv" not in accept.lower():
        return False
    return any(part.split(";", 1)[0].strip().lower() == CSV_TYPE for part in accept.split(","))


def _writer(out: io.StringIO) -> Any:
    return csv.writer(out, lineterminator="\r\n")  # RFC 4180


def _headers(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def csv_response(header: Row, rows: Iterable[Row], *, filename: str) -> Response:
    """A small CSV document built whole (a check's ≤ 25 results: its answer may be
    stored for an Idempotency-Key, which needs the body)."""
    out = io.StringIO()
    writer = _writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(out.getvalue(), media_type=MEDIA_TYPE, headers=_headers(filename))


async def _lines(header: Row, rows: AsyncIterable[Row], flush_every: int) -> AsyncIterator[str]:
    out = io.StringIO()
    writer = _writer(out)
    writer.writerow(header)
    pending = 0
    async for row in rows:
        writer.writerow(row)
        pending += 1
        if pending >= flush_every:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            pending = 0
    yield out.getvalue()


def csv_stream(
    header: Row, rows: AsyncIterable[Row], *, filename: str, flush_every: int = 200
) -> StreamingResponse:
    """A list export of any length, streamed in pieces of `flush_every` rows as `rows`
    yields them."""
    return StreamingResponse(
        _lines(header, rows, flush_every), media_type=MEDIA_TYPE, headers=_headers(filename)
    )


async def every_row(
    read: Callable[[int, Any], Awaitable[Sequence[T]]],
    cursor_of: Callable[[T], Any],
    to_csv: Callable[[T], Row],
) -> AsyncIterator[Row]:
    """Every row of a keyset-paged query as CSV rows: `read(limit, cursor)` returns the
    rows past `cursor` (None first), `cursor_of` the cursor a row leaves. Read in chunks
    so a connection is held for one chunk's query only, never while a slow client reads
    the download."""
    cursor = None
    while True:
        chunk = await read(EXPORT_CHUNK, cursor)
        for row in chunk:
            yield to_csv(row)
        if len(chunk) < EXPORT_CHUNK:
            return
        cursor = cursor_of(chunk[-1])
