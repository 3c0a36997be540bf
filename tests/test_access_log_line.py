"""The access log's shortcut past `logging` (`adapters.log_format.line_writer`) writes
exactly what `logging` would, and only when `logging` would do nothing else; `Edge`
records the requests answered in one turn of the event loop together at the next
(`api.request_log`): their lines in one write, in the order they were answered."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from adapters.log_format import PLAIN, LineHandler, line_writer
from api import request_log
from api.middleware import Edge


def _tree(handler: logging.Handler | None = None) -> tuple[logging.Logger, logging.Logger]:
    """A root and a child of it, apart from the process's own loggers."""
    root = logging.Logger("root", logging.INFO)
    child = logging.Logger("root.child")
    child.parent = root
    if handler is not None:
        root.addHandler(handler)
    return root, child


def _line_handler(fmt: str = PLAIN) -> tuple[LineHandler, io.StringIO]:
    stream = io.StringIO()
    handler = LineHandler(stream)
    handler.setFormatter(logging.Formatter(fmt))
    return handler, stream


def test_the_shortcut_writes_what_logging_writes() -> None:
    handler, stream = _line_handler()
    _, child = _tree(handler)
    child.info('{"a": "%s 100%"}')  # the message as is: no arguments to format with
    write = line_writer(child, logging.INFO)
    assert write is not None
    write(['{"a": "%s 100%"}', '{"a": "%s 100%"}'])
    first, second, third = stream.getvalue().splitlines(keepends=True)
    assert first == second == third == '{"a": "%s 100%"}\n'


def test_anything_else_configured_goes_through_logging() -> None:
    handler, _ = _line_handler()
    root, child = _tree(handler)
    assert line_writer(child, logging.INFO) is not None
    assert line_writer(child, logging.DEBUG) is None  # below the level
    child.disabled = True
    assert line_writer(child, logging.INFO) is None
    child.disabled = False
    child.addFilter(lambda record: True)
    assert line_writer(child, logging.INFO) is None
    child.filters.clear()
    child.addHandler(logging.NullHandler())  # a second handler (pytest's caplog is one)
    assert line_writer(child, logging.INFO) is None
    child.handlers.clear()
    child.propagate = False  # no handler at all: logging's last resort
    assert line_writer(child, logging.INFO) is None
    child.propagate = True
    handler.addFilter(lambda record: True)
    assert line_writer(child, logging.INFO) is None
    handler.filters.clear()
    handler.setLevel(logging.WARNING)
    assert line_writer(child, logging.INFO) is None
    handler.setLevel(logging.NOTSET)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    assert line_writer(child, logging.INFO) is None
    plain_stream = logging.StreamHandler(io.StringIO())  # not the handler we install
    plain_stream.setFormatter(logging.Formatter(PLAIN))
    root.handlers = [plain_stream]
    assert line_writer(child, logging.INFO) is None


async def test_edge_writes_one_json_line_per_request_with_its_fields(monkeypatch) -> None:
    """The line `Edge` writes through the shortcut: every field, in order."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    # the access log's own logger, under a root of its own: whatever other tests left on
    # the process's loggers (levels, handlers) is not what this test is about
    handler, stream = _line_handler()
    _, logger = _tree(handler)
    monkeypatch.setattr(request_log, "access_log", logger)
    assert line_writer(logger, logging.INFO) is not None  # the shortcut is taken
    scope = {
        "type": "http",
        "method": "PATCH",
        "path": "/api/v1/sites/x/",
        "query_string": b"",
        "headers": [(b"x-request-id", b"trace-1")],
        "client": ("203.0.113.9", 4444),
    }
    await Edge(app, "default-src 'self'")(scope, receive, send)
    await asyncio.sleep(0)  # recorded at the loop's next turn
    [line] = stream.getvalue().splitlines()
    fields = json.loads(line)
    assert list(fields) == ["request_id", "method", "path", "status", "duration_ms", "client"]
    assert fields == {
        "request_id": "trace-1",
        "method": "PATCH",
        "path": "/api/v1/sites/x/",
        "status": 201,
        "duration_ms": pytest.approx(fields["duration_ms"]),
        "client": "203.0.113.9",
    }
    assert isinstance(fields["duration_ms"], float) and fields["duration_ms"] >= 0


class _Writes(io.StringIO):
    """A stream that records each `write`."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


async def test_the_requests_of_one_loop_turn_are_written_together_at_the_next(
    monkeypatch,
) -> None:
    stream = _Writes()
    handler = LineHandler(stream)
    handler.setFormatter(logging.Formatter(PLAIN))
    _, logger = _tree(handler)
    monkeypatch.setattr(request_log, "access_log", logger)
    log = request_log.RequestLog()
    for n in range(3):
        log.add(request_log.Answered(f"r{n}", "GET", "/x", 200, 0.001, None, None))
    assert stream.writes == []  # not during the turn that answered them
    await asyncio.sleep(0)
    assert len(stream.writes) == 1
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()] == [
        "r0",
        "r1",
        "r2",
    ]
    log.add(request_log.Answered("r3", "GET", "/x", 200, 0.001, None, None))
    await asyncio.sleep(0)
    assert len(stream.writes) == 2


def test_outside_an_event_loop_a_request_is_recorded_at_once(monkeypatch) -> None:
    handler, stream = _line_handler()
    _, logger = _tree(handler)
    monkeypatch.setattr(request_log, "access_log", logger)
    request_log.RequestLog().add(
        request_log.Answered("r", "GET", "/x", 200, 0.001, ("198.51.100.7", 1), None)
    )
    assert json.loads(stream.getvalue())["client"] == "198.51.100.7"
