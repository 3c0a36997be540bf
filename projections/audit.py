"""Read model `audit`: every event of an account's own aggregates — its account, sessions,
API keys, sites, jobs, quota periods and backlinks — in commit order, with its cause and a
small summary of what it says, for `GET /api/v1/audit` (one indexed query per page).

`position` is the event's notification id (commit order, and the cursor). Events other
than an aggregate's first do not all name their account, so the projection keeps
`audit_owners` (aggregate id -> account), filled by each aggregate's creation, which it
reads before the later events in the same commit order. The uniqueness guards
(`UniqueKey`) and the per-account host index (`SiteRegistry`) are bookkeeping, not
something the account did, and are left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain.account import Account
from domain.aggregate import Aggregate
from domain.api_key import ApiKey
from domain.auth_session import AuthSession
from domain.backlink import Backlink
from domain.cause import Cause
from domain.job import Job
from domain.quota import Quota
from domain.site import Site
from domain.webhook import Webhook

AUDITED = (Account, AuthSession, ApiKey, Site, Job, Quota, Backlink, Webhook)

#: what an event's attributes hold apart from what it says (or shown on their own)
_NOT_SUMMARISED = {"originator_id", "originator_version", "timestamp", "originator_topic", "cause"}
#: a summary value whose JSON is longer than this is left out (evidence, long lists)
SUMMARY_VALUE_MAX = 300


def _event_classes(aggregate: type[Aggregate]) -> list[type[Aggregate.Event]]:
    """The event classes an aggregate's history holds: its leaf event classes, less the
    `Created` eventsourcing defines when the creation has a name of its own
    (`Account.Registered`)."""
    found = [
        v
        for v in vars(aggregate).values()
        if isinstance(v, type) and issubclass(v, aggregate.Event)
    ]
    leaves = [c for c in found if not any(o is not c and issubclass(o, c) for o in found)]
    creations = [c for c in leaves if issubclass(c, Aggregate.Created)]
    if len(creations) > 1:
        leaves.remove(aggregate.Created)
    return leaves


EVENT_CLASSES = tuple(c for aggregate in AUDITED for c in _event_classes(aggregate))
#: the `type` of each audit entry (`Job.TaskSubmitted`), in the order documented
EVENT_TYPES = tuple(c.__qualname__ for c in EVENT_CLASSES)

DDL = (
    """CREATE TABLE IF NOT EXISTS audit (
        position bigint PRIMARY KEY,
        account_id uuid NOT NULL,
        type text NOT NULL,
        aggregate_id uuid NOT NULL,
        aggregate_version bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        cause jsonb,
        summary jsonb NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS audit_account_position_idx ON audit (account_id, position)""",
    """CREATE INDEX IF NOT EXISTS audit_account_type_position_idx
        ON audit (account_id, type, position)""",
    """CREATE TABLE IF NOT EXISTS audit_owners (
        aggregate_id uuid PRIMARY KEY,
        account_id uuid NOT NULL)""",
)


class AuditRow(msgspec.Struct, frozen=True):
    position: int
    type: str
    aggregate_id: UUID
    aggregate_version: int
    occurred_at: datetime
    cause: Cause | None
    #: the event's own small values (ids as hex); never a secret, sealed or hashed
    summary: dict[str, Any]


def _without_nul(value: Any) -> Any:
    """jsonb cannot hold U+0000, which an event written past the API's guards may."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def summary(event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in vars(event).items():
        if name in _NOT_SUMMARISED or "hash" in name or "secret" in name:
            continue
        encoded = msgspec.json.encode(value, enc_hook=str)
        if len(encoded) <= SUMMARY_VALUE_MAX:
            out[name] = _without_nul(msgspec.json.decode(encoded))
    return out


def _owner(event: Any) -> UUID | None:
    """The account of an aggregate, named by its first event."""
    if isinstance(event, Account.Event):
        return event.originator_id
    return getattr(event, "account_id", None)


class AuditProjection:
    name = "audit"
    ddl = DDL
    tables = ("audit", "audit_owners")
    topics = tuple(get_topic(c) for c in EVENT_CLASSES)

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if event.originator_version == 1:
            owner = _owner(event)
            if owner is None:
                return
            await conn.execute(
                "INSERT INTO audit_owners VALUES ($1, $2) ON CONFLICT (aggregate_id) DO NOTHING",
                event.originator_id,
                owner,
            )
        # one statement: the owner is read from the table, an unknown aggregate adds nothing
        await conn.execute(
            """INSERT INTO audit (position, account_id, type, aggregate_id, aggregate_version,
                   occurred_at, cause, summary)
               SELECT $1, o.account_id, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb
                 FROM audit_owners o WHERE o.aggregate_id = $3
               ON CONFLICT (position) DO NOTHING""",
            *_entry(event, notification_id),
        )

    async def apply_batch(self, conn: asyncpg.Connection, events: list[tuple[Any, int]]) -> None:
        """The same as `apply` for each event in turn, in two statements: the owners the
        batch's creations name, then every entry whose aggregate has an owner (commit
        order puts an aggregate's creation before its other events, so the owners written
        first are all the entries need)."""
        owners: dict[UUID, UUID] = {}
        entries = []
        for event, notification_id in events:
            if event.originator_version == 1:
                owner = _owner(event)
                if owner is None:
                    continue
                owners.setdefault(event.originator_id, owner)  # the first one stays
            entries.append(_entry(event, notification_id))
        if owners:
            await conn.execute(
                """INSERT INTO audit_owners SELECT * FROM unnest($1::uuid[], $2::uuid[])
                   ON CONFLICT (aggregate_id) DO NOTHING""",
                list(owners),
                list(owners.values()),
            )
        if entries:
            await conn.execute(
                """INSERT INTO audit (position, account_id, type, aggregate_id,
                       aggregate_version, occurred_at, cause, summary)
                   SELECT e.p, o.account_id, e.t, e.a, e.v, e.at, e.c::jsonb, e.s::jsonb
                     FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::bigint[],
                                 $5::timestamptz[], $6::text[], $7::text[])
                          AS e(p, t, a, v, at, c, s)
                     JOIN audit_owners o ON o.aggregate_id = e.a
                   ON CONFLICT (position) DO NOTHING""",
                *map(list, zip(*entries, strict=True)),
            )


def _entry(event: Any, notification_id: int) -> tuple[Any, ...]:
    """An audit entry's values but its account (position, type, aggregate, version,
    instant, cause and summary as JSON text)."""
    cause = getattr(event, "cause", None)
    return (
        notification_id,
        type(event).__qualname__,
        event.originator_id,
        event.originator_version,
        event.timestamp,
        None if cause is None else msgspec.json.encode(cause).decode(),
        msgspec.json.encode(summary(event)).decode(),
    )


class AuditFilters(msgspec.Struct, frozen=True):
    account_id: UUID
    types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


_COLUMNS = (
    "position, type, aggregate_id, aggregate_version, occurred_at, cause::text AS cause, "
    "summary::text AS summary"
)


async def list_audit(
    conn: Any, f: AuditFilters, *, limit: int, after: int | None
) -> list[AuditRow]:
    """The account's entries in commit order, at most `limit`, after position `after`,
    of the given types (all when none) and within [since, until]."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM audit WHERE account_id = $1
            AND (cardinality($2::text[]) = 0 OR type = ANY($2::text[]))
            AND ($3::timestamptz IS NULL OR occurred_at >= $3)
            AND ($4::timestamptz IS NULL OR occurred_at <= $4)
            AND ($5::bigint IS NULL OR position > $5)
            ORDER BY position LIMIT $6""",
        f.account_id,
        list(f.types),
        f.since,
        f.until,
        after,
        limit,
    )
    return [
        AuditRow(
            position=r["position"],
            type=r["type"],
            aggregate_id=r["aggregate_id"],
            aggregate_version=r["aggregate_version"],
            occurred_at=r["occurred_at"],
            cause=None if r["cause"] is None else msgspec.json.decode(r["cause"], type=Cause),
            summary=msgspec.json.decode(r["summary"]),
        )
        for r in rows
    ]
