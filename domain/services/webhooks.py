"""Webhook use cases: create (the signing secret is returned once), delete, and ask for a
delivery to be sent again."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.errors import NotFound
from domain.ports import WebhookPorts
from domain.services.retry import on_conflict
from domain.webhook import Webhook, clean_event_types, clean_url, webhook_not_found

SECRET_PREFIX = "whsec_"


class CreatedWebhook(msgspec.Struct, frozen=True):
    webhook: Webhook
    secret: str  #: shown once; the event holds it sealed
    notification_id: int


async def create_webhook(
    ports: WebhookPorts, account_id: UUID, url: str, events: list[str]
) -> CreatedWebhook:
    clean = clean_url(url)
    types = clean_event_types(events)
    await ports.urls.check(clean)
    secret = SECRET_PREFIX + ports.secrets.token()
    sealed = ports.sealer.seal(secret, account_id)
    webhook = Webhook(account_id=account_id, url=clean, events=types, sealed_secret=sealed)
    nid = await ports.repository.save(webhook)
    return CreatedWebhook(webhook, secret, nid)


async def own_webhook(ports: WebhookPorts, account_id: UUID, webhook_id: UUID) -> Webhook:
    """The account's live webhook; another account's is `NotFound`, like one that never was."""
    try:
        webhook = await ports.repository.get(webhook_id, Webhook)
    except NotFound:
        raise webhook_not_found() from None
    webhook.check_belongs_to(account_id)
    return webhook


async def delete_webhook(
    ports: WebhookPorts, account_id: UUID, webhook_id: UUID, now: datetime
) -> int:
    async def attempt() -> int:
        webhook = await own_webhook(ports, account_id, webhook_id)
        webhook.delete(at=now)
        return await ports.repository.save(webhook)

    return await on_conflict(attempt)


async def request_redelivery(
    ports: WebhookPorts, account_id: UUID, webhook_id: UUID, delivery_id: UUID
) -> int:
    """The caller has checked that the delivery is this webhook's (it lives in the outbox,
    a read model); the projection puts it back in the queue, due at once, for 24 h more."""

    async def attempt() -> int:
        webhook = await own_webhook(ports, account_id, webhook_id)
        webhook.request_redelivery(delivery_id)
        return await ports.repository.save(webhook)

    return await on_conflict(attempt)
