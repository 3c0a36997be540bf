"""The webhook outbox in Postgres (implements `domain.ports.WebhookOutbox`): the
`webhook_deliveries` table that the `webhooks` projection fills.

A claim is one statement that picks due rows with `FOR UPDATE SKIP LOCKED` and marks them
`sending` until the lease ends, committed before anything is posted: two workers never
hold the same delivery. A result is recorded only while the claim is the recorder's own
(`state = 'sending'` and the same attempt number), so a late answer to an expired claim,
or to a delivery canceled or redelivered meanwhile, changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import msgspec

from adapters import metrics
from domain.ports import ClaimedDelivery, SendResult

_CLAIM = """
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE state IN ('pending', 'sending') AND due_at <= $1
    ORDER BY position LIMIT $3 FOR UPDATE SKIP LOCKED)
UPDATE webhook_deliveries d SET state = 'sending', due_at = $2, attempts = d.attempts + 1
FROM due, webhooks w
WHERE d.id = due.id AND w.id = d.webhook_id
RETURNING d.id, d.webhook_id, d.account_id, w.url, w.sealed_secret, d.event_id, d.body,
    d.attempts, d.deadline, d.position, d.due_at AS claimed_until"""

_RECORD = """
UPDATE webhook_deliveries SET state = $3::text, due_at = coalesce($4::timestamptz, due_at),
    last_status = $5::int, last_error = $6::text,
    delivered_at = CASE WHEN $3::text = 'delivered' THEN $7::timestamptz END
WHERE id = $1 AND state = 'sending' AND attempts = $2"""


class PostgresWebhookOutbox:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def claim(self, now: datetime, lease_seconds: float, limit: int) -> list[ClaimedDelivery]:
        rows = await self.pool.fetch(_CLAIM, now, now + timedelta(seconds=lease_seconds), limit)
        return [msgspec.convert(dict(r), ClaimedDelivery) for r in rows]

    async def record(
        self,
        delivery: ClaimedDelivery,
        result: SendResult,
        *,
        state: str,
        at: datetime,
        next_attempt: datetime | None,
    ) -> bool:
        status = await self.pool.execute(
            _RECORD,
            delivery.id,
            delivery.attempts,
            state,
            next_attempt,
            result.status,
            result.error,
            at,
        )
        recorded = status.endswith(" 1")
        if recorded:
            metrics.WEBHOOK_DELIVERIES.labels("retry" if state == "pending" else state).inc()
        return recorded
