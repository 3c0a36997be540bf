"""Webhooks end to end: created over the API (paid plans, https, SSRF-checked, event types
validated, secret shown once and sealed at rest), deliveries made by the projection from
domain events and sent by the worker's use case to real HTTPS receivers (aiohttp servers
with the test CA on loopback, which the run's BACKLYNK_FETCH_ALLOW_CIDRS lets through).

Time: deliveries are due by the clock the sender is given; a test that waits for a retry
moves that clock forward by the back-off instead of sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from adapters.ssrf import AddressPolicy
from adapters.webhook_http import WebhookSender
from adapters.webhook_outbox import PostgresWebhookOutbox
from adapters.webhook_secrets import SealedSecrets
from domain import ids
from domain.backlink import Backlink, Evidence
from domain.job import Job, Task, TaskStatus
from domain.ports import DeliveryPorts
from domain.services.webhook_delivery import send_due
from domain.webhook import retry_delay
from projections.runner import wait_for
from tests.accounts import bearer, paid_account, register
from tests.checker.sites import Tls, make_tls
from tests.conftest import LiveServer
from tests.test_auth_api import assert_error

ALL = ["job.completed", "job.failed", "task.verified", "backlink.lost", "backlink.recovered"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("webhook-tls"))


class Receiver:
    """An HTTPS endpoint that keeps every request; `plan` holds its next answers, each a
    status or a number of seconds to stall before answering 200 (then 200 for good).
    Its socket is bound at once but listens only from `start()`: until then a
    connection to it is refused (a receiver that is down)."""

    def __init__(self, tls: Tls, *plan: int | float):
        self.tls = tls
        self.plan: list[int | float] = list(plan)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}/hooks/backlynk"
        self.runner: web.AppRunner | None = None
        self.closing = asyncio.Event()  # a stall ends early when the test is over

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/backlynk", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.SockSite(self.runner, self.sock, ssl_context=self.tls.server_context()).start()

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        action = self.plan.pop(0) if self.plan else 200
        if isinstance(action, float):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(action):
                    await self.closing.wait()
            action = 200
        return web.Response(status=action, text="ok" * 10_000)

    async def close(self) -> None:
        self.closing.set()  # the cleanup below waits for the stalled answers
        if self.runner is not None:
            await self.runner.cleanup()
        self.sock.close()

    @property
    def event_ids(self) -> list[str]:
        return [json.loads(body)["id"] for _, body in self.received]


class SteppedClock:
    """The real time, plus however far a test has moved it on."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
async def receivers(tls: Tls) -> AsyncIterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        await receiver.close()


@pytest.fixture
async def worker(settings, infra, tls) -> AsyncIterator[DeliveryPorts]:
    """The delivery worker's ports, trusting the test CA, with a 1 s timeout."""
    poster = WebhookSender(
        AddressPolicy(settings.allowed_networks()), timeout=1.0, ssl_context=tls.client_context()
    )
    yield DeliveryPorts(
        outbox=PostgresWebhookOutbox(infra.pool),
        poster=poster,
        sealer=SealedSecrets(settings.signing_secret),
        clock=SteppedClock(),
    )
    await poster.close()


async def receiver(receivers: list[Receiver], tls: Tls, *plan: int | float, up=True) -> Receiver:
    made = Receiver(tls, *plan)
    receivers.append(made)
    if up:
        await made.start()
    return made


async def create_webhook(server, tokens, url: str, events=ALL) -> dict[str, Any]:
    async with server.http.post(
        "/api/v1/webhooks", json={"url": url, "events": events}, headers=bearer(tokens)
    ) as r:
        body = await r.json()
        assert r.status == 201, body
        return body


def account_of(tokens: dict[str, Any]) -> uuid.UUID:
    account = ids.decode("usr", tokens["user"]["id"])
    assert account is not None
    return account


async def settled(server, infra, nid: int) -> None:
    assert await wait_for(infra.pool, server.app.state.projections, nid, timeout=60)


async def lose_backlinks(server, infra, tokens, n: int = 1) -> list[Backlink]:
    """`n` backlinks of the account found and then lost: one `backlink.lost` each."""
    links = []
    for i in range(n):
        link = Backlink(
            account_id=account_of(tokens),
            site_id=uuid.uuid4(),
            directory_id=i + 1,
            job_id=uuid.uuid4(),
            evidence=Evidence(source_url=f"https://dir.example/{i}", has_link=True),
        )
        for _ in range(2):  # lost after two misses in a row
            link.record_check(
                Evidence(source_url=f"https://dir.example/{i}", has_link=False, http_status=200)
            )
        links.append(link)
    await settled(server, infra, await infra.repository.save(*links))
    return links


async def deliveries(server, tokens, webhook: dict[str, Any]) -> list[dict[str, Any]]:
    async with server.http.get(
        f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=bearer(tokens)
    ) as r:
        body = await r.json()
        assert r.status == 200, body
        return body["data"]


def readme_verifier() -> Callable[..., bool]:
    """`verify_signature` as the README's Webhooks section gives it, run as pasted."""
    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text[text.index("## Webhooks") :]
    code = section[section.index("```python\n") + 10 :]
    namespace: dict[str, Any] = {}
    exec(code[: code.index("```")], namespace)  # our own README
    return namespace["verify_signature"]


def verify(secret: str, header: str, body: bytes) -> bool:
    """The documented algorithm written out (HMAC-SHA256 of "<t>.<body>"), and the README's
    snippet: both must agree."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    ours = hmac.compare_digest(expected.hexdigest(), parts["v1"])
    assert readme_verifier()(secret, header, body) is ours
    return ours


async def test_a_delivery_is_signed_with_the_secret_shown_once(
    server, infra, worker, receivers, tls
):
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls)
    created = await create_webhook(server, tokens, hook.url, ["backlink.lost", "backlink.lost"])
    assert created["events"] == ["backlink.lost"] and created["url"] == hook.url
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    # shown once: not listed, and only sealed in the event store and the outbox
    async with server.http.get("/api/v1/webhooks", headers=bearer(tokens)) as r:
        [listed] = (await r.json())["data"]
        assert listed == {k: v for k, v in created.items() if k != "secret"}
    states = await infra.pool.fetch("SELECT state FROM backlynk_events")
    assert not any(secret.encode() in row["state"] for row in states)
    sealed = await infra.pool.fetchval("SELECT sealed_secret FROM webhooks")
    assert secret.encode() not in sealed

    [link] = await lose_backlinks(server, infra, tokens)
    assert await send_due(worker) == 1

    [(headers, body)] = hook.received
    sent_at = int(headers["Backlynk-Signature"].split(",")[0].removeprefix("t="))
    assert verify(secret, headers["Backlynk-Signature"], body)
    assert not verify(secret, headers["Backlynk-Signature"], body + b" ")
    assert not verify("whsec_other", headers["Backlynk-Signature"], body)
    stale = f"t={sent_at - 3600},v1=" + headers["Backlynk-Signature"].split("v1=")[1]
    assert not readme_verifier()(secret, stale, body)
    assert abs(sent_at - datetime.now(UTC).timestamp()) < 600
    payload = json.loads(body)
    assert payload["id"] == headers["Backlynk-Event-Id"] and payload["id"].startswith("evt_")
    assert payload["type"] == "backlink.lost"
    assert payload["data"]["backlink_id"] == ids.encode("bl", link.id)
    assert payload["data"]["source_url"] == "https://dir.example/0"
    [row] = await deliveries(server, tokens, created)
    assert row["state"] == "delivered" and row["attempts"] == 1 and row["last_status"] == 200
    assert row["event_id"] == payload["id"] and row["next_attempt_at"] is None
    assert await send_due(worker) == 0 and len(hook.received) == 1


async def test_job_and_task_events_reach_the_webhooks_subscribed_to_them(
    server, infra, worker, receivers, tls
):
    tokens = await paid_account(server, infra)
    jobs_hook = await receiver(receivers, tls)
    verified_hook = await receiver(receivers, tls)
    await create_webhook(server, tokens, jobs_hook.url, ["job.completed", "job.failed"])
    await create_webhook(server, tokens, verified_hook.url, ["task.verified"])
    account, site = account_of(tokens), uuid.uuid4()
    done = Job(account, site, "2026-11", [Task(1, "One", TaskStatus.PENDING)])
    done.start()
    done.begin_submission(1)
    done.record_submitted(1, "https://one.example/listing")
    backlink_id = uuid.uuid4()
    done.record_verified(1, backlink_id)
    failed = Job(account, site, "2026-11", [Task(2, "Two", TaskStatus.PENDING)])
    failed.start()
    failed.begin_submission(2)
    failed.record_failed(2, "rejected", "no")
    await settled(server, infra, await infra.repository.save(done, failed))
    await send_due(worker)

    sent = sorted((json.loads(body) for _, body in jobs_hook.received), key=lambda p: p["type"])
    assert [(p["type"], p["data"]["status"]) for p in sent] == [
        ("job.completed", "completed"),
        ("job.failed", "failed"),
    ]
    assert sent[0]["data"]["job_id"] == ids.encode("job", done.id)
    assert sent[0]["data"]["site_id"] == ids.encode("site", site)
    [(_, body)] = verified_hook.received
    payload = json.loads(body)
    assert payload["type"] == "task.verified"
    assert payload["data"]["backlink_id"] == ids.encode("bl", backlink_id)
    assert payload["data"]["directory_id"] == 1


async def test_a_receiver_down_then_up_gets_the_event_once(server, infra, worker, receivers, tls):
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls, up=False)
    webhook = await create_webhook(server, tokens, hook.url)
    await lose_backlinks(server, infra, tokens)

    await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    assert row["state"] == "pending" and row["attempts"] == 1
    assert row["last_status"] is None and row["last_error"]
    assert row["next_attempt_at"] is not None
    worker.clock.offset += retry_delay(1) - timedelta(seconds=5)
    assert await send_due(worker) == 0  # not yet due

    worker.clock.offset += retry_delay(1)
    await send_due(worker)  # still down: second try, longer wait
    [row] = await deliveries(server, tokens, webhook)
    assert row["state"] == "pending" and row["attempts"] == 2

    await hook.start()
    worker.clock.offset += retry_delay(2) + timedelta(seconds=1)
    await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    assert row["state"] == "delivered" and row["attempts"] == 3 and row["last_status"] == 200
    assert len(hook.received) == 1


async def test_a_slow_receiver_times_out_and_is_tried_again(server, infra, worker, receivers, tls):
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls, 3.0)  # stalls past the 1 s timeout once
    webhook = await create_webhook(server, tokens, hook.url)
    await lose_backlinks(server, infra, tokens)

    await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    assert row["state"] == "pending" and "timeout" in row["last_error"]
    worker.clock.offset += retry_delay(1) + timedelta(seconds=1)
    await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    assert row["state"] == "delivered" and row["attempts"] == 2
    # the timed-out try reached it too: a retry was needed, with the same event id
    assert len(set(hook.event_ids)) == 1 and len(hook.received) == 2


async def test_a_500_is_retried_and_a_later_200_delivers(server, infra, worker, receivers, tls):
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls, 500, 302)  # a redirect is not followed
    webhook = await create_webhook(server, tokens, hook.url)
    await lose_backlinks(server, infra, tokens)

    await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    assert (row["state"], row["last_status"]) == ("pending", 500)
    for attempts in (1, 2):
        worker.clock.offset += retry_delay(attempts) + timedelta(seconds=1)
        await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    assert (row["state"], row["attempts"], row["last_status"]) == ("delivered", 3, 200)
    assert len(hook.received) == 3 and len(set(hook.event_ids)) == 1


async def test_the_worker_cron_sends_with_the_wired_ports(
    server, infra, settings, receivers, tls, monkeypatch
):
    """The arq task as `backlynk worker` runs it, with the process's own wiring (the test
    CA trusted the way a deployment would trust its own: SSL_CERT_FILE)."""
    from adapters.wiring import wire
    from workers import tasks
    from workers.settings import WorkerSettings

    assert tasks.send_webhooks in [job.coroutine for job in WorkerSettings.cron_jobs]
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls)
    created = await create_webhook(server, tokens, hook.url)
    await lose_backlinks(server, infra, tokens, 2)
    ports = wire(infra, settings)
    try:
        assert await tasks.send_webhooks({"ports": ports}) == 2
    finally:
        await ports.close()
    assert len(set(hook.event_ids)) == 2
    for headers, body in hook.received:
        assert verify(created["secret"], headers["Backlynk-Signature"], body)


async def test_after_24_hours_of_failures_a_delivery_is_failed(
    server, infra, worker, receivers, tls
):
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls, *([500] * 50))
    webhook = await create_webhook(server, tokens, hook.url)
    await lose_backlinks(server, infra, tokens)
    await send_due(worker)
    worker.clock.offset += timedelta(hours=23, minutes=59)
    await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    # the next wait would end past the 24 h: given up
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("failed", 2, None)
    worker.clock.offset += timedelta(days=2)
    assert await send_due(worker) == 0


async def test_two_workers_at_once_send_each_event_once_in_order(
    server, infra, worker, receivers, tls
):
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls)
    webhook = await create_webhook(server, tokens, hook.url, ["backlink.lost"])
    await lose_backlinks(server, infra, tokens, 30)

    tries = await asyncio.gather(send_due(worker, batch=7), send_due(worker, batch=7))
    assert sum(tries) == 30
    assert len(hook.received) == 30 and len(set(hook.event_ids)) == 30
    rows = await deliveries(server, tokens, webhook)
    assert {r["state"] for r in rows} == {"delivered"} and {r["attempts"] for r in rows} == {1}
    # one worker alone sends a webhook's deliveries in the order they were made
    second = await receiver(receivers, tls)
    await create_webhook(server, tokens, second.url, ["backlink.lost"])
    await lose_backlinks(server, infra, tokens, 5)
    await send_due(worker)
    numbers = [int(event_id.removeprefix("evt_")) for event_id in second.event_ids]
    assert len(numbers) == 5 and numbers == sorted(numbers)


async def test_redeliver_sends_a_delivered_event_again(server, infra, worker, receivers, tls):
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls)
    webhook = await create_webhook(server, tokens, hook.url)
    await lose_backlinks(server, infra, tokens)
    await send_due(worker)
    [row] = await deliveries(server, tokens, webhook)
    path = f"/api/v1/webhooks/{webhook['id']}/deliveries/{row['id']}/redeliver"
    async with server.http.post(path, headers=bearer(tokens)) as r:
        again = await r.json()
        assert r.status == 202, again
    assert again["id"] == row["id"] and again["state"] == "pending"
    assert again["next_attempt_at"] is not None
    await send_due(worker)
    assert len(hook.received) == 2 and len(set(hook.event_ids)) == 1
    [row] = await deliveries(server, tokens, webhook)
    assert row["state"] == "delivered" and row["attempts"] == 2
    async with server.http.post(
        f"/api/v1/webhooks/{webhook['id']}/deliveries/dlv_{uuid.uuid4().hex}/redeliver",
        headers=bearer(tokens),
    ) as r:
        assert r.status == 404
        assert_error(await r.json(), "not_found")


async def test_webhooks_of_another_account_are_not_found(server, infra, worker, receivers, tls):
    owner = await paid_account(server, infra)
    other = await paid_account(server, infra)
    hook = await receiver(receivers, tls)
    webhook = await create_webhook(server, owner, hook.url)
    await lose_backlinks(server, infra, other)  # the other account's event: not sent here
    await lose_backlinks(server, infra, owner)
    await send_due(worker)
    assert len(hook.received) == 1
    [row] = await deliveries(server, owner, webhook)
    base = f"/api/v1/webhooks/{webhook['id']}"
    for method, path in (
        ("GET", f"{base}/deliveries"),
        ("POST", f"{base}/deliveries/{row['id']}/redeliver"),
        ("DELETE", base),
    ):
        async with server.http.request(method, path, headers=bearer(other)) as r:
            assert r.status == 404, path
            assert_error(await r.json(), "not_found")
    async with server.http.get("/api/v1/webhooks", headers=bearer(other)) as r:
        assert (await r.json())["data"] == []
    # deleted by its owner: gone, and nothing more is sent to it
    async with server.http.delete(base, headers=bearer(owner)) as r:
        assert r.status == 204
    async with server.http.get(f"{base}/deliveries", headers=bearer(owner)) as r:
        assert r.status == 404
    await lose_backlinks(server, infra, owner)
    assert await send_due(worker) == 0 and len(hook.received) == 1


async def test_webhooks_need_a_paid_plan(server, infra):
    tokens = await register(server)
    body = {"url": "https://hooks.example/x", "events": ["job.failed"]}
    async with server.http.post("/api/v1/webhooks", json=body, headers=bearer(tokens)) as r:
        assert r.status == 403
        assert_error(await r.json(), "plan_required")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"url": "http://hooks.example/x", "events": ["job.failed"]}, "invalid_url", "url"),
        ({"url": "https://u:p@hooks.example/x", "events": ["job.failed"]}, "invalid_url", "url"),
        ({"url": "https://hooks.example/x", "events": []}, "validation_failed", "events"),
        ({"url": "https://hooks.example/x", "events": ["job.done"]}, "validation_failed", "events"),
        ({"url": "https://hooks.example/x"}, "validation_failed", "events"),
    ],
)
async def test_bad_webhooks_are_refused(server, infra, body, code, field):
    tokens = await paid_account(server, infra)
    async with server.http.post("/api/v1/webhooks", json=body, headers=bearer(tokens)) as r:
        assert r.status == 422
        assert_error(await r.json(), code, field)


@pytest.fixture
async def unlisted(settings, infra) -> AsyncIterator[LiveServer]:
    """The app with no BACKLYNK_FETCH_ALLOW_CIDRS: loopback is refused like any private
    address."""
    from api.app import create_app

    plain = msgspec.structs.replace(settings, fetch_allow_cidrs=())
    async with LiveServer(create_app(plain, infra=infra, in_process_projector=True)) as live:
        yield live


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://localhost/hook", "non-public"),
        ("https://169.254.169.254/latest", "link-local"),
    ],
)
async def test_private_addresses_are_refused_at_creation(unlisted, infra, url, rule):
    tokens = await paid_account(unlisted, infra)
    body = {"url": url, "events": ["job.failed"]}
    async with unlisted.http.post("/api/v1/webhooks", json=body, headers=bearer(tokens)) as r:
        answer = await r.json()
        assert r.status == 422, answer
        assert_error(answer, "blocked_address", "url")
        assert rule in answer["error"]["details"].lower(), answer


async def test_a_secret_that_cannot_be_opened_fails_the_delivery_unsent(
    server, infra, worker, receivers, tls
):
    """After JWT_SECRET changes, a sealed secret cannot be opened: nothing can sign the
    delivery, so it is failed at once (not retried for a day) and nothing is posted."""
    tokens = await paid_account(server, infra)
    hook = await receiver(receivers, tls)
    webhook = await create_webhook(server, tokens, hook.url)
    await lose_backlinks(server, infra, tokens)
    rotated = dataclasses.replace(worker, sealer=SealedSecrets("another-server-secret-" * 3))
    await send_due(rotated)
    [row] = await deliveries(server, tokens, webhook)
    assert row["state"] == "failed" and "cannot sign" in row["last_error"]
    assert hook.received == []
