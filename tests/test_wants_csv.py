"""`api.csv_export.wants_csv`: `?format=csv` or `Accept: text/csv`, whatever the case,
with parameters, among other types; nothing else."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from api.csv_export import wants_csv


def _request(accept: str | None, query: bytes = b"") -> Request:
    headers = [(b"host", b"t")] + ([] if accept is None else [(b"accept", accept.encode())])
    return Request({"type": "http", "query_string": query, "headers": headers})


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        (None, b"", False),
        ("*/*", b"", False),
        ("application/json", b"limit=2", False),
        ("text/csv", b"", True),
        ("TEXT/CSV; q=0.9", b"", True),
        ("application/json, text/csv;q=0.5", b"", True),
        ("text/csvx", b"", False),
        ("application/csv", b"", False),
        (None, b"format=csv", True),
        (None, b"format=CSV&limit=2", True),
        ("application/json", b"limit=2&format=csv", True),
        (None, b"format=json", False),
        (None, b"formats=csv", False),
    ],
)
def test_wants_csv(accept: str | None, query: bytes, expected: bool) -> None:
    assert wants_csv(_request(accept, query)) is expected
