"""Sending webhook deliveries (the worker's use case).

At least once: a delivery is claimed in the outbox before it is posted (so two workers
never post it at once), and only a 2xx answer marks it delivered; a try with no answer or
another status is retried on the domain's back-off (`domain.webhook.retry_delay`) until its
24 h run out, then it is failed. A worker killed mid-send leaves a claim that expires after
the lease and is tried again: the receiver may then see the event twice, with the same
`Backlynk-Event-Id` — the one case of a repeat besides a requested redelivery.

Order: each run claims due deliveries oldest first and posts one webhook's in that order,
one after another (different webhooks in parallel). So first tries go out in creation
order per webhook; a retried delivery may arrive after newer ones.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from domain.ports import ClaimedDelivery, DeliveryPorts, SendResult
from domain.webhook import EVENT_ID_HEADER, SIGNATURE_HEADER, next_attempt, signature

#: a claim outlives the longest post (the sender's timeout) by far
LEASE_SECONDS = 120.0
#: a post starts only while this much of its claim is left (a slow receiver ahead of it
#: in its webhook's line may have used the rest); otherwise it waits for the lease's end
LEASE_MARGIN = timedelta(seconds=45)
#: a run stops claiming more after this long (the cron starts another)
RUN_BUDGET = timedelta(seconds=30)
BATCH = 100

DELIVERED, FAILED, PENDING = "delivered", "failed", "pending"


async def send_due(ports: DeliveryPorts, *, batch: int = BATCH) -> int:
    """Claim and send what is due until nothing is; return the number of tries made."""
    tries = 0
    stop = ports.clock.now() + RUN_BUDGET
    while ports.clock.now() < stop:
        claimed = await ports.outbox.claim(ports.clock.now(), LEASE_SECONDS, batch)
        if not claimed:
            return tries
        tries += len(claimed)
        by_webhook = itertools.groupby(
            sorted(claimed, key=lambda d: (d.webhook_id.int, d.position)),
            key=lambda d: d.webhook_id,
        )
        await asyncio.gather(*(_send_in_order(ports, list(group)) for _, group in by_webhook))
        if len(claimed) < batch:
            return tries
    return tries


async def _send_in_order(ports: DeliveryPorts, deliveries: list[ClaimedDelivery]) -> None:
    for delivery in deliveries:
        await send_one(ports, delivery)


async def send_one(ports: DeliveryPorts, delivery: ClaimedDelivery) -> str:
    """Post one claimed delivery and record the outcome; return its new state."""
    if ports.clock.now() + LEASE_MARGIN > delivery.claimed_until:
        return "sending"  # tried again once the claim lapses
    try:
        secret = ports.sealer.open(delivery.sealed_secret, delivery.account_id)
    except ValueError as exc:  # nothing can sign it: trying again would not help
        result = SendResult(None, f"cannot sign: {exc}")
        now = ports.clock.now()
        await ports.outbox.record(delivery, result, state=FAILED, at=now, next_attempt=None)
        return FAILED
    timestamp = int(ports.clock.now().timestamp())
    headers = {
        SIGNATURE_HEADER: signature(secret, timestamp, delivery.body),
        EVENT_ID_HEADER: delivery.event_id,
    }
    result = await ports.poster.post(delivery.url, delivery.body, headers)
    now = ports.clock.now()
    if result.status is not None and 200 <= result.status < 300:
        state, when = DELIVERED, None
    else:
        when = next_attempt(delivery.attempts, now, delivery.deadline)
        state = PENDING if when else FAILED
    await ports.outbox.record(delivery, result, state=state, at=now, next_attempt=when)
    return state
