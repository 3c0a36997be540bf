"""The event store as JSON lines (`backlynk events export`): one object per event, in
commit order, for `jq` and for audits.

    {"position": 12, "aggregate_id": "…", "version": 3, "topic": "domain.site:Site.Updated",
     "timestamp": "2026-11-27T10:26:50.123456Z", "state": {…}}

`position` is the notification id (what `--since` takes, and what the projections record);
`state` is the stored event's state decoded (the event's fields, as stored: ids as hex),
except credential hashes (fields named `*_hash`: password, API key and refresh-token
hashes), which read `"[redacted]"`: an export travels to audits and spreadsheets, and a
password hash can be cracked offline.
Pages of `batch_size` events by keyset on the notification id, each page its own query:
memory stays bounded and no transaction is held open however long the reader takes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec

from adapters.event_store import EVENTS_TABLE
from adapters.transcoder import MsgspecTranscoder

_encoder = msgspec.json.Encoder()
REDACTED = "[redacted]"


async def export_lines(
    conn: Any,
    *,
    aggregate: UUID | None = None,
    since: int = 0,
    batch_size: int = 1000,
) -> AsyncIterator[bytes]:
    """Each event after position `since` (of one aggregate, if given) as a JSON line."""
    transcoder = MsgspecTranscoder()
    after = since
    while True:
        rows = await conn.fetch(
            f"""SELECT notification_id, originator_id, originator_version, topic, state
                FROM public.{EVENTS_TABLE} WHERE notification_id > $1
                AND ($2::uuid IS NULL OR originator_id = $2)
                ORDER BY notification_id LIMIT $3""",
            after,
            aggregate,
            batch_size,
        )
        for position, originator_id, version, topic, state in rows:
            decoded = transcoder.decode(bytes(state))
            if isinstance(decoded, dict):
                for name in decoded:
                    if name.endswith("_hash"):
                        decoded[name] = REDACTED
            yield (
                _encoder.encode(
                    {
                        "position": position,
                        "aggregate_id": str(originator_id),
                        "version": version,
                        "topic": topic,
                        "timestamp": decoded.get("timestamp")
                        if isinstance(decoded, dict)
                        else None,
                        "state": decoded,
                    }
                )
                + b"\n"
            )
        if len(rows) < batch_size:
            return
        after = rows[-1][0]
