"""CSV responses: `Accept: text/csv` or `?format=csv` (API.md), one way for every list."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

CSV_TYPE = "text/csv"


def cell(value: object) -> str:
    """API.md's CSV cells: booleans `true`/`false`, null empty, lists joined by a space,
    datetimes as in JSON (RFC 3339, `Z`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, datetime):
        return msgspec.json.encode(value).decode().strip('"')
    return str(value)


def wants_csv(request: Request) -> bool:
    if request.query_params.get("format", "").lower() == "csv":
        return True
    accept = request.headers.get("accept", "")
    return any(part.split(";", 1)[0].strip().lower() == CSV_TYPE for part in accept.split(","))


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, filename: str
) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type=f"{CSV_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
