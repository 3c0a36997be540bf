"""Wiring: the ports of every application service, built once per process — in the web
app's lifespan, at worker start-up and by the CLI — from the open infrastructure and the
settings loaded at start. One clock, one repository, one rate limiter, one queue client:
every service and every route reads them from here (`request.app.state.ports`,
`ctx["ports"]`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from adapters.causes import RequestCallers
from adapters.clock import SystemClock
from adapters.directories import PostgresDirectoryCatalogue
from adapters.hostnames import HostNameRules
from adapters.infrastructure import Infrastructure
from adapters.monitored_links import PostgresMonitoredLinks
from adapters.once_per_window import RedisOncePerWindow
from adapters.page_inspector import FetchingPageInspector
from adapters.passwords import FAST_HASHER, Argon2Passwords
from adapters.queue import TaskQueue
from adapters.random_secrets import RandomSecrets
from adapters.rate_limit import RateLimiter
from adapters.repository import EventSourcedRepository
from adapters.settings import Settings
from adapters.site_urls import SiteUrlRules
from adapters.ssrf import AddressPolicy
from adapters.throttle import RedisLoginThrottle
from adapters.tokens import HmacRefreshTokens, JwtAccessTokens
from adapters.webhook_http import GuardedWebhookUrls, WebhookSender
from adapters.webhook_outbox import PostgresWebhookOutbox
from adapters.webhook_secrets import SealedSecrets
from domain.ports import (
    AuthPorts,
    CheckPorts,
    Credentials,
    DeliveryPorts,
    JobPorts,
    MonitorPorts,
    SitePorts,
    WebhookPorts,
)
from domain.services.authentication import StoreCredentials


@dataclass(frozen=True)
class Ports:
    infra: Infrastructure
    settings: Settings
    repository: EventSourcedRepository
    clock: SystemClock
    #: the catalogue on the primary: what job creation and the workers read
    catalogue: PostgresDirectoryCatalogue
    #: the catalogue on the read pool: what customers browse
    listings: PostgresDirectoryCatalogue
    page_inspector: FetchingPageInspector
    host_names: HostNameRules
    site_urls: SiteUrlRules
    rate_limiter: RateLimiter
    #: the arq queue (its Redis connection opens on first use)
    queue: TaskQueue
    #: what each service module takes first (`domain.services`; `auth` below)
    sites: SitePorts
    jobs: JobPorts
    checks: CheckPorts
    #: the web process's credential cache (`adapters.credential_cache`); None: the
    #: services read credentials from the event store
    credentials: Credentials | None = None

    @functools.cached_property
    def auth(self) -> AuthPorts:
        """Built on first use (the web app's start): a worker signs no tokens, so it
        runs without a JWT secret."""
        return auth_ports(self.infra, self.settings, credentials=self.credentials)

    @functools.cached_property
    def webhooks(self) -> WebhookPorts:
        """Built on first use, like `auth`: sealing a secret needs the server secret."""
        policy = AddressPolicy(self.settings.allowed_networks())
        return WebhookPorts(
            repository=self.repository,
            secrets=RandomSecrets(),
            sealer=SealedSecrets(self.settings.signing_secret),
            urls=GuardedWebhookUrls(policy),
        )

    @functools.cached_property
    def monitoring(self) -> MonitorPorts:
        """Adding backlinks to monitoring and asking for re-checks (the web side)."""
        return MonitorPorts(
            repository=self.repository,
            urls=GuardedWebhookUrls(AddressPolicy(self.settings.allowed_networks())),
            links=PostgresMonitoredLinks(self.infra.pool),
            clock=self.clock,
        )

    @functools.cached_property
    def deliveries(self) -> DeliveryPorts:
        """The webhook delivery worker's ports (its own HTTP session, opened on first use)."""
        return DeliveryPorts(
            outbox=PostgresWebhookOutbox(self.infra.pool),
            poster=WebhookSender(AddressPolicy(self.settings.allowed_networks())),
            sealer=SealedSecrets(self.settings.signing_secret),
            clock=self.clock,
        )

    async def close(self) -> None:
        await self.queue.close()
        if "deliveries" in self.__dict__:
            await self.deliveries.poster.close()


def auth_ports(
    infra: Infrastructure,
    settings: Settings | None = None,
    *,
    credentials: Credentials | None = None,
) -> AuthPorts:
    """The account, session and API-key services' ports. `settings`: the process's, when
    they differ from the infrastructure's (tests share one infrastructure).
    `credentials`: by default read from the event store."""
    settings = settings or infra.settings
    return AuthPorts(
        repository=infra.repository,
        passwords=Argon2Passwords(
            FAST_HASHER if settings.fast_password_hashing else None,
            concurrency=settings.password_concurrency,
            queue=settings.password_queue,
        ),
        tokens=JwtAccessTokens(settings.signing_secret),
        refresh_tokens=HmacRefreshTokens(settings.signing_secret),
        secrets=RandomSecrets(),
        clock=infra.clock,
        throttle=RedisLoginThrottle(infra.redis, settings.redis_key),
        gate=RedisOncePerWindow(infra.redis, settings.redis_key),
        credentials=credentials or StoreCredentials(infra.repository),
        callers=RequestCallers(),
    )


def wire(
    infra: Infrastructure,
    settings: Settings | None = None,
    *,
    credentials: Credentials | None = None,
) -> Ports:
    settings = settings or infra.settings
    clock = infra.clock
    catalogue = PostgresDirectoryCatalogue(infra.pool)
    inspector = infra.page_inspector
    site_urls = SiteUrlRules(inspector, clock)
    return Ports(
        infra=infra,
        settings=settings,
        repository=infra.repository,
        clock=clock,
        catalogue=catalogue,
        listings=PostgresDirectoryCatalogue(infra.read_pool),
        page_inspector=inspector,
        host_names=infra.host_names,
        site_urls=site_urls,
        rate_limiter=RateLimiter(infra.redis, settings),
        queue=TaskQueue(settings),
        sites=SitePorts(infra.repository, site_urls),
        jobs=JobPorts(infra.repository, catalogue, clock),
        checks=CheckPorts(inspector, infra.host_names, clock),
        credentials=credentials,
    )
