"""Projection `webhooks`: the account's webhooks and their outbox, `webhook_deliveries`.

A delivery is created in the projector's transaction together with its position, so each
matching event makes exactly one delivery per subscribed webhook (a replayed batch hits
the `(webhook_id, event_id)` key and adds nothing). The event id is `evt_<notification
id>`: stable, the same for every webhook the event goes to. Workers then claim, send and
record deliveries (`adapters.webhook_outbox`); that is the one place outside the projector
that writes here, and it only moves a delivery's state.

Which domain events are which webhook events:

* `Job.Finished` with status `completed` / `failed` → `job.completed` / `job.failed`;
* `Job.TaskVerified` (a listing found, with its backlink) → `task.verified`;
* `Backlink.Lost` / `Backlink.Recovered` → `backlink.lost` / `backlink.recovered`.

Jobs' and backlinks' later events do not carry the account, so `webhook_owners` keeps
which account each job and backlink belongs to (from `Job.Created`, `Backlink.Discovered`,
`Backlink.Added`). A backlink records `Lost` and `Recovered` only on the transition
(`domain.backlink`: a check that keeps it lost is a `Checked`), so each transition makes
one delivery per webhook.

Like the dispatcher, this projection is not a rebuildable read model: its effect is what
was sent. It is listed beside the dispatcher, not in `read_models()`, and declares no
tables to empty, so a rebuild never truncates the outbox and sends history again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.utils import get_topic

from domain import ids
from domain.backlink import Backlink
from domain.job import Job, JobStatus
from domain.webhook import DELIVERY_WINDOW, Webhook
from projections.views import columns, convert

DDL = (
    """CREATE TABLE IF NOT EXISTS webhooks (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL,
        url text NOT NULL,
        events jsonb NOT NULL,
        sealed_secret bytea NOT NULL,
        position bigint NOT NULL,
        created_at timestamptz NOT NULL,
        deleted_at timestamptz)""",
    """CREATE INDEX IF NOT EXISTS webhooks_account_position_idx
        ON webhooks (account_id, position DESC) WHERE deleted_at IS NULL""",
    """CREATE TABLE IF NOT EXISTS webhook_owners (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL,
        site_id uuid NOT NULL)""",
    # state: pending (due at `due_at`), sending (claimed until `due_at`), delivered,
    # failed (24 h of retries ran out), canceled (its webhook was deleted)
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        position bigserial NOT NULL UNIQUE,
        webhook_id uuid NOT NULL,
        account_id uuid NOT NULL,
        event_type text NOT NULL,
        event_id text NOT NULL,
        body bytea NOT NULL,
        state text NOT NULL DEFAULT 'pending',
        attempts int NOT NULL DEFAULT 0,
        last_status int,
        last_error text,
        due_at timestamptz NOT NULL,
        deadline timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        delivered_at timestamptz,
        UNIQUE (webhook_id, event_id))""",
    """CREATE INDEX IF NOT EXISTS webhook_deliveries_due_idx
        ON webhook_deliveries (due_at) WHERE state IN ('pending', 'sending')""",
    """CREATE INDEX IF NOT EXISTS webhook_deliveries_webhook_position_idx
        ON webhook_deliveries (webhook_id, position DESC)""",
)


class WebhookView(msgspec.Struct, frozen=True):
    id: UUID
    url: str
    events: list[str]
    created_at: datetime


class WebhookRow(WebhookView, frozen=True):
    position: int


class DeliveryView(msgspec.Struct, frozen=True):
    id: UUID
    event_type: str
    event_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    #: when the next try is due; None once delivered, failed or canceled
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryRow(DeliveryView, frozen=True):
    position: int


_DELIVERY_COLUMNS = columns(DeliveryRow, skip=("next_attempt_at",)) + (
    ", CASE WHEN state IN ('pending', 'sending') THEN due_at END AS next_attempt_at"
)

_JOB_EVENTS = {JobStatus.COMPLETED: "job.completed", JobStatus.FAILED: "job.failed"}


class WebhooksProjection:
    name = "webhooks"
    ddl = DDL
    #: none to empty: like the dispatcher's, its effect (what was sent, and the outbox's
    #: delivery states) cannot be rebuilt, so `projections rebuild` and `replay --verify`
    #: leave it alone (its DDL above still creates the tables)
    tables: tuple[str, ...] = ()
    topics = tuple(
        get_topic(c)
        for c in (
            Webhook.Created,
            Webhook.Deleted,
            Webhook.RedeliveryRequested,
            Job.Created,
            Job.Finished,
            Job.TaskVerified,
            Backlink.Discovered,
            Backlink.Added,
            Backlink.Lost,
            Backlink.Recovered,
        )
    )

    async def apply(self, conn: asyncpg.Connection, event: Any, notification_id: int) -> None:
        if isinstance(event, Webhook.Created):
            await conn.execute(
                """INSERT INTO webhooks (id, account_id, url, events, sealed_secret, position,
                       created_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
                   ON CONFLICT (id) DO NOTHING""",
                event.originator_id,
                event.account_id,
                event.url,
                msgspec.json.encode(event.events).decode(),
                event.sealed_secret,
                notification_id,
                event.timestamp,
            )
        elif isinstance(event, Webhook.Deleted):
            await conn.execute(
                "UPDATE webhooks SET deleted_at = $2 WHERE id = $1", event.originator_id, event.at
            )
            # a send in flight finds its claim gone and records nothing
            await conn.execute(
                """UPDATE webhook_deliveries SET state = 'canceled'
                   WHERE webhook_id = $1 AND state IN ('pending', 'sending')""",
                event.originator_id,
            )
        elif isinstance(event, Webhook.RedeliveryRequested):
            await conn.execute(
                """UPDATE webhook_deliveries SET state = 'pending', due_at = $3, deadline = $4
                   WHERE id = $1 AND webhook_id = $2""",
                event.delivery_id,
                event.originator_id,
                event.timestamp,
                event.timestamp + DELIVERY_WINDOW,
            )
        elif isinstance(event, Job.Created | Backlink.Discovered | Backlink.Added):
            await conn.execute(
                """INSERT INTO webhook_owners (id, account_id, site_id) VALUES ($1, $2, $3)
                   ON CONFLICT (id) DO NOTHING""",
                event.originator_id,
                event.account_id,
                event.site_id,
            )
        elif isinstance(event, Job.Finished):
            if event.status in _JOB_EVENTS:
                await self._deliver(conn, event, notification_id, _JOB_EVENTS[event.status])
        elif isinstance(event, Job.TaskVerified):
            await self._deliver(conn, event, notification_id, "task.verified")
        elif isinstance(event, Backlink.Lost):
            await self._deliver(conn, event, notification_id, "backlink.lost")
        elif isinstance(event, Backlink.Recovered):
            await self._deliver(conn, event, notification_id, "backlink.recovered")

    async def _deliver(
        self, conn: asyncpg.Connection, event: Any, notification_id: int, event_type: str
    ) -> None:
        owner = await conn.fetchrow(
            "SELECT account_id, site_id FROM webhook_owners WHERE id = $1", event.originator_id
        )
        if owner is None:
            return
        event_id = f"evt_{notification_id}"
        body = msgspec.json.encode(
            {
                "id": event_id,
                "type": event_type,
                "created_at": event.timestamp,
                "data": _data(event, event_type, owner["site_id"]),
            }
        )
        await conn.execute(
            """INSERT INTO webhook_deliveries (webhook_id, account_id, event_type, event_id, body,
                   due_at, deadline, created_at)
               SELECT w.id, w.account_id, $2, $3, $4, $5, $6, $5 FROM webhooks w
               WHERE w.account_id = $1 AND w.deleted_at IS NULL AND w.events ? $2
               ORDER BY w.position
               ON CONFLICT (webhook_id, event_id) DO NOTHING""",
            owner["account_id"],
            event_type,
            event_id,
            body,
            event.timestamp,
            event.timestamp + DELIVERY_WINDOW,
        )


def _data(event: Any, event_type: str, site_id: UUID) -> dict[str, Any]:
    site = ids.encode("site", site_id)
    if event_type.startswith("job."):
        return {
            "job_id": ids.encode("job", event.originator_id),
            "site_id": site,
            "status": str(event.status),
        }
    if event_type == "task.verified":
        return {
            "job_id": ids.encode("job", event.originator_id),
            "site_id": site,
            "directory_id": event.directory_id,
            "backlink_id": ids.encode("bl", event.backlink_id),
        }
    return {
        "backlink_id": ids.encode("bl", event.originator_id),
        "site_id": site,
        "source_url": event.evidence.source_url,
        "http_status": event.evidence.http_status,
    }


async def list_webhooks(
    conn: Any, account_id: UUID, *, limit: int, before: int | None
) -> list[WebhookRow]:
    rows = await conn.fetch(
        f"""SELECT {columns(WebhookRow)} FROM webhooks WHERE account_id = $1
           AND deleted_at IS NULL AND ($2::bigint IS NULL OR position < $2)
           ORDER BY position DESC LIMIT $3""",
        account_id,
        before,
        limit,
    )
    return [convert(r, WebhookRow) for r in rows]


async def list_deliveries(
    conn: Any, webhook_id: UUID, *, limit: int, before: int | None
) -> list[DeliveryRow]:
    """Newest first."""
    rows = await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1
           AND ($2::bigint IS NULL OR position < $2) ORDER BY position DESC LIMIT $3""",
        webhook_id,
        before,
        limit,
    )
    return [convert(r, DeliveryRow) for r in rows]


async def delivery(conn: Any, webhook_id: UUID, delivery_id: UUID) -> DeliveryRow | None:
    row = await conn.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2",
        webhook_id,
        delivery_id,
    )
    return convert(row, DeliveryRow) if row else None
