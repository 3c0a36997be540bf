"""`GET /api/v1/jobs/{id}/stream`: the job as Server-Sent Events, on every change.

Each change is an event `job` whose data is the job as `GET /jobs/{id}` shows it and
whose id is the job's position (the notification id of the last event applied to it). The
job's finished state is the event `finished`, after which the stream ends. A client that
reconnects with `Last-Event-ID` gets the job at once if it changed since, and nothing it
has seen; one that has seen the finished state gets 204 (which tells an EventSource to
stop reconnecting). A comment line every `HEARTBEAT_S` keeps proxies from closing a quiet
stream.

The stream never polls: it waits on its subscription to the process's job feed
(`adapters.job_feed`) and reads the job once per wake, however many notifications woke
it; the streams of one job woken together share that read. A client that goes away ends
the generator, which unsubscribes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from adapters.job_feed import JobFeed, Subscription, TooManyStreams
from api.auth import require_api_access
from api.errors import ApiError
from api.jobs import job_id_of, render
from api.queries import ascii_int
from domain.job import FINISHED, job_not_found
from projections.jobs import JobRow, get_job

HEARTBEAT_S = 15.0
#: a read pool on a replica may not show a change yet when its NOTIFY arrives: read again
#: after these pauses, then wait for the next notification
BEHIND_RETRIES_S = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


def last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id", "").strip()
    if not raw:
        return -1
    event_id = ascii_int(raw)
    if event_id is None:
        raise ApiError(
            422,
            "validation_failed",
            "Last-Event-ID must be an id this stream sent.",
            field="Last-Event-ID",
        )
    return event_id


def frame(row: JobRow) -> bytes:
    name = "finished" if row.status in FINISHED else "job"
    data = msgspec.json.encode(render(row))
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (row.event_position, name.encode(), data)


async def _read(request: Request, account_id: UUID, job_id: UUID) -> JobRow | None:
    async with request.app.state.infra.read_pool.acquire() as conn:
        return await get_job(conn, account_id, job_id)


async def _reread(request: Request, feed: JobFeed, sub: Subscription) -> JobRow | None:
    """The job again, in one read shared with the other streams of it woken with this
    one (the key holds the account: a read answers only for the job's owner)."""
    return await feed.reads.read(
        (sub.account_id, sub.job_id), lambda: _read(request, sub.account_id, sub.job_id)
    )


def _subscribe(feed: JobFeed, account_id: UUID, job_id: UUID) -> Subscription:
    try:
        return feed.subscribe(account_id, job_id)
    except TooManyStreams as full:
        if full.scope == "account":
            raise ApiError(
                429,
                "too_many_streams",
                f"This account has {full.limit} job streams open; close one first.",
                headers={"Retry-After": "5"},
            ) from None
        raise ApiError(
            503,
            "too_many_streams",
            "This server holds as many job streams as it can; try again shortly.",
            headers={"Retry-After": "5"},
        ) from None


async def stream(request: Request) -> Response:
    principal = await require_api_access(request)
    return await open_stream(request, principal.account_id, job_id_of(request))


async def open_stream(request: Request, account_id: UUID, job_id: UUID) -> Response:
    """The stream of `account_id`'s job (another account's is `job_not_found`), whoever
    authenticated the caller: the API's token here, the dashboard's cookie session in
    `api.dashboard.job_pages`. Both count against the same feed's caps."""
    seen = last_event_id(request)
    feed: JobFeed = request.app.state.job_feed
    # subscribed before the first read: a change committed after it wakes this stream
    sub = _subscribe(feed, account_id, job_id)
    try:
        row = await _read(request, account_id, job_id)
        if row is None:
            raise job_not_found()
        if row.status in FINISHED and row.event_position <= seen:
            feed.unsubscribe(sub)
            return Response(status_code=204)
    except BaseException:
        feed.unsubscribe(sub)
        raise
    return _Stream(feed, sub, _events(request, feed, sub, row, seen))


class _Stream(StreamingResponse):
    """Unsubscribes when the response ends however it ends, even if its body never
    started (a client gone before the headers went: the generator's `finally` would
    not run)."""

    def __init__(self, feed: JobFeed, sub: Subscription, body: AsyncIterator[bytes]):
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._feed, self._sub = feed, sub

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._feed.unsubscribe(self._sub)


async def _events(
    request: Request, feed: JobFeed, sub: Subscription, row: JobRow, seen: int
) -> AsyncIterator[bytes]:
    try:
        # tells an EventSource how long to wait before reconnecting
        yield b"retry: 2000\n\n"
        behind = 0
        while True:
            if row.event_position > seen:
                yield frame(row)
                seen = row.event_position
                if row.status in FINISHED:
                    return
            if sub.notified > row.event_position and behind < len(BEHIND_RETRIES_S):
                woken = await sub.changed(BEHIND_RETRIES_S[behind])
                behind += 1
            else:
                woken = await sub.changed(HEARTBEAT_S)
                if not woken:
                    yield b": keepalive\n\n"
                    continue
            if woken:
                behind = 0
            found = await _reread(request, feed, sub)
            if found is None:  # a rebuild in progress, or gone: the client reconnects
                return
            row = found
    finally:
        feed.unsubscribe(sub)
