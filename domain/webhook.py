"""A webhook: an https URL that is told about the account's events, signed with a secret.

The secret is shown once, at creation; the event holds it sealed (AES-GCM, by the
`WebhookPorts.sealer` adapter), never in the clear, so the workers can open it to sign
deliveries. What can happen to a webhook: `Created`, `RedeliveryRequested` (one delivery
sent again), `Deleted` (nothing more is sent).

Delivery rules live here too: which event types exist, and the retry schedule (exponential
back-off from 30 s, capped at 6 h between tries, for 24 h after a delivery is created or a
redelivery is asked for).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import NotFound, ValidationFailed

EVENT_TYPES = (
    "job.completed",
    "job.failed",
    "task.verified",
    "backlink.lost",
    "backlink.recovered",
)
URL_MAX = 2000
#: how long a delivery is retried before it is marked failed
DELIVERY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)


def clean_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url) if len(url) <= URL_MAX else None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        raise ValidationFailed(
            f"Give an https:// URL of at most {URL_MAX} characters.",
            field="url",
            code="invalid_url",
        )
    if parts.username or parts.password:
        raise ValidationFailed(
            "The URL must not hold credentials.", field="url", code="invalid_url"
        )
    return url


def clean_event_types(types: list[str]) -> list[str]:
    unknown = [t for t in types if t not in EVENT_TYPES]
    if not types or unknown:
        raise ValidationFailed(
            f"Choose one or more of {', '.join(EVENT_TYPES)}"
            + (f" (unknown: {', '.join(unknown[:5])[:200]})." if unknown else "."),
            field="events",
        )
    return [t for t in EVENT_TYPES if t in types]  # documented order, no repeats


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, 1 min, 2 min, … 6 h at most."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def next_attempt(attempts: int, now: datetime, deadline: datetime) -> datetime | None:
    """When to try again after the `attempts`-th failure, or None: give up (failed)."""
    when = now + retry_delay(attempts)
    return when if when <= deadline else None


SIGNATURE_HEADER = "Backlynk-Signature"
EVENT_ID_HEADER = "Backlynk-Event-Id"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`Backlynk-Signature`'s value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`,
    as Stripe signs (the timestamp inside the MAC lets a receiver refuse old replays)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_not_found() -> NotFound:
    return NotFound("No webhook with this id.")


class Webhook(Aggregate):
    account_id: UUID
    url: str
    events: list[str]
    sealed_secret: bytes
    deleted_at: datetime | None

    @event("Created")
    def __init__(self, account_id: UUID, url: str, events: list[str], sealed_secret: bytes) -> None:
        self.account_id = account_id
        self.url = url
        self.events = events
        self.sealed_secret = sealed_secret
        self.deleted_at = None

    def check_belongs_to(self, account_id: UUID) -> None:
        if self.account_id != account_id or self.deleted_at is not None:
            raise webhook_not_found()

    @event("RedeliveryRequested")
    def request_redelivery(self, delivery_id: UUID) -> None:
        pass

    @event("Deleted")
    def delete(self, at: datetime) -> None:
        self.deleted_at = at
