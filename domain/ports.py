"""Ports: the small interfaces that application services are written against.
`adapters/` implements them; entry points wire the real ones in at start-up."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.backlink_evidence import Inspection
from domain.cause import Credential, Proof
from domain.credentials import CredentialRecord
from domain.directory import Directory
from domain.showcase import ExampleChoice, ExampleFacts
from domain.site import SiteFacts

A = TypeVar("A", bound=Aggregate)


class Repository(Protocol):
    async def get(self, aggregate_id: UUID, cls: type[A]) -> A:
        """Load an aggregate; raise `domain.errors.NotFound` if it has no events."""
        ...

    async def history(
        self, aggregate_id: UUID, cls: type[A], *, until: datetime
    ) -> tuple[A, list[Any]]:
        """The aggregate as it stood at the instant `until`, and its events up to then in
        version order: those up to the last one recorded at or before `until`. Raise
        `domain.errors.NotFound` if it had no event by then."""
        ...

    async def save(self, *aggregates: Aggregate) -> int:
        """Append the pending events of all aggregates atomically; return the highest
        notification id written (0 if nothing). Raise `ConcurrencyConflict` on a clash."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class DirectoryCatalogue(Protocol):
    async def by_ids(self, ids: Sequence[int]) -> dict[int, Directory]: ...

    async def active_within(self, dr_cap: int | None) -> list[Directory]: ...


class SiteUrlPolicy(Protocol):
    def normalise(self, url: str) -> tuple[str, str]:
        """(normalised URL, host) or raise `domain.site.InvalidSiteUrl`."""
        ...

    async def landing_page_problem(self, url: str) -> str | None:
        """Why the landing page is unacceptable (unreachable, not 2xx, noindex), or None."""
        ...


class PlanLimits(Protocol):
    """What the services need to know of a plan (domain.plans.Plan provides it)."""

    monthly_submissions: int
    dr_cap: int | None
    max_sites: int
    monitored_links: int


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """True if `password` matches; False otherwise (never raises for a mismatch)."""
        ...

    async def verify_nothing(self, password: str) -> None:
        """Spend the time of a real `verify` without an account, so that an unknown email
        answers as slowly as a wrong password."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class AccessClaims(msgspec.Struct, frozen=True):
    """What a verified access token says: whose it is and which session issued it."""

    account_id: UUID
    session_id: UUID
    token_id: str
    issued_at: datetime
    expires_at: datetime


class AccessTokens(Protocol):
    #: lifetime of an access token, in seconds
    expires_in: int

    def issue(self, account_id: UUID, session_id: UUID, now: datetime) -> str: ...

    def read(self, token: str, now: datetime) -> AccessClaims:
        """Verify and decode; raise `TokenExpired` or `InvalidToken`."""
        ...


class RefreshClaims(msgspec.Struct, frozen=True):
    """What a genuine refresh token names: its session and its generation."""

    session_id: UUID
    generation: int


class RefreshTokens(Protocol):
    def issue(self, session_id: UUID, generation: int) -> str: ...

    def read(self, token: str) -> RefreshClaims:
        """Authenticate and decode; raise `InvalidToken` for anything we did not issue."""
        ...


class NewApiKey(msgspec.Struct, frozen=True):
    key: str  #: the secret itself, shown once
    prefix: str  #: its first characters, shown in lists
    key_hash: str


class Secrets(Protocol):
    """Randomness and one-way hashing of high-entropy secrets."""

    def new_api_key(self) -> NewApiKey: ...

    def looks_like_api_key(self, text: str) -> bool: ...

    def token(self) -> str:
        """A fresh URL-safe random string of at least 256 bits."""
        ...

    def hash(self, secret: str) -> str:
        """A one-way hash of a high-entropy secret (API key, refresh token)."""
        ...


class LoginThrottle(Protocol):
    async def attempt(self, email_key: str, client_ip: str) -> None:
        """Count one sign-in attempt, before its password is checked; raise `RateLimited`
        instead if this email or this client failed too often lately."""
        ...

    async def succeeded(self, email_key: str, client_ip: str) -> None:
        """The attempt was right: forget this email's failures, and do not count it
        against the client."""
        ...


class Gate(Protocol):
    async def first_in(self, name: str, seconds: int) -> bool:
        """True for the first call with `name` in any `seconds`-long window, across
        every process; False for the others."""
        ...


class Credentials(Protocol):
    """Credentials as the event store has them, for authenticating requests. Whatever
    answers must be current to the request: a revocation or a plan change committed
    before the request arrived is in the answer (a cache must prove it)."""

    async def by_session(self, session_id: UUID) -> CredentialRecord | None: ...

    async def by_api_key_hash(self, key_hash: str) -> CredentialRecord | None: ...


class Callers(Protocol):
    """Who a request acts for, said by the service that found out (`domain.cause`)."""

    def identify(
        self, account_id: UUID, credential: Credential, credential_id: UUID, by: Proof
    ) -> None:
        """What the request in progress saves from here on names `account_id`, the
        credential's id (never a secret) and how the caller showed who they are. Outside
        a request (a worker, a cron job, the CLI) the cause stays what it is."""
        ...


@dataclass(frozen=True)
class AuthPorts:
    """Everything the account, session and API-key services need, wired once."""

    repository: Repository
    passwords: PasswordHasher
    tokens: AccessTokens
    refresh_tokens: RefreshTokens
    secrets: Secrets
    clock: Clock
    throttle: LoginThrottle
    gate: Gate
    credentials: Credentials
    callers: Callers


@dataclass(frozen=True)
class SitePorts:
    """What the site services need."""

    repository: Repository
    urls: SiteUrlPolicy


@dataclass(frozen=True)
class JobPorts:
    """What the job services need."""

    repository: Repository
    catalogue: DirectoryCatalogue
    clock: Clock


class HostNames(Protocol):
    """Host-name knowledge that needs data the domain does not carry (the IDNA tables, the
    public suffix list)."""

    def to_ascii(self, host: str) -> str | None:
        """The IDNA A-label form of `host`, lower-case; None if it is no valid host name."""
        ...

    def is_under_public_suffix(self, host: str) -> bool:
        """True if `host` (A-label form) is a registrable name or a name below one."""
        ...


class PageInspector(Protocol):
    """Fetches one URL through the SSRF guard and reads the facts of its final page."""

    async def inspect(self, url: str, *, max_redirects: int = 10) -> Inspection: ...


@dataclass(frozen=True)
class CheckPorts:
    """What the backlink check needs."""

    inspector: PageInspector
    names: HostNames
    clock: Clock


class DirectorySubmitter(Protocol):
    async def submit(self, directory: Directory, site: SiteFacts) -> Any:
        """Submit `site`; answer a `domain.services.delivery` outcome, never raise for
        anything the directory does."""
        ...


class HostGate(Protocol):
    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """Wait for this directory host's turn (politeness across every worker)."""
        ...


class SecretSealer(Protocol):
    """Seals a secret that must be read back later (a webhook's signing secret), bound to
    the account that owns it."""

    def seal(self, secret: str, owner: UUID) -> bytes: ...

    def open(self, sealed: bytes, owner: UUID) -> str:
        """The secret; `ValueError` if it was not sealed under this key for `owner`."""
        ...


class UrlGuard(Protocol):
    async def check(self, url: str) -> None:
        """Raise `ValidationFailed` (code `blocked_address` or `invalid_url`, with the
        rule) if the URL's host is not one the service may post to."""
        ...


@dataclass(frozen=True)
class WebhookPorts:
    """What the webhook services take."""

    repository: Repository
    secrets: Secrets
    sealer: SecretSealer
    urls: UrlGuard


class SendResult(msgspec.Struct, frozen=True):
    status: int | None  #: the answer's HTTP status; None when there was no answer
    error: str | None  #: why there was no answer (timeout, refused, TLS, …)


class ClaimedDelivery(msgspec.Struct, frozen=True):
    id: UUID
    webhook_id: UUID
    account_id: UUID
    url: str
    sealed_secret: bytes
    event_id: str
    body: bytes
    attempts: int  #: counting this one
    deadline: datetime
    position: int
    claimed_until: datetime  #: the claim's lease: no post may start near its end


class WebhookOutbox(Protocol):
    async def claim(self, now: datetime, lease_seconds: float, limit: int) -> list[ClaimedDelivery]:
        """Due deliveries, oldest first, each marked as being sent until `now + lease`
        (a claim that outlives its lease — a killed worker — is due again)."""
        ...

    async def record(
        self,
        delivery: ClaimedDelivery,
        result: SendResult,
        *,
        state: str,
        at: datetime,
        next_attempt: datetime | None,
    ) -> bool:
        """Store the try's outcome, only if the claim is still this one's."""
        ...


class WebhookPoster(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class DeliveryPorts:
    """What the webhook delivery worker takes."""

    outbox: WebhookOutbox
    poster: WebhookPoster
    sealer: SecretSealer
    clock: Clock


class MonitoredLinks(Protocol):
    """What the read model knows of an account's monitored backlinks."""

    async def count(self, account_id: UUID) -> int: ...

    async def on_page(self, site_id: UUID, page_url: str) -> UUID | None:
        """The backlink of `site_id` whose page is `page_url` (found or added), if any."""
        ...


class ExampleChoices(Protocol):
    """The operator's choice of delivery examples (`domain.showcase`)."""

    async def add(
        self, backlink_id: UUID, note: str | None, added_by: str, at: datetime
    ) -> ExampleChoice:
        """Record the choice; raise `DuplicateExample` when the
        backlink is shown already."""
        ...

    async def remove(self, example_id: UUID, removed_by: str, at: datetime) -> ExampleChoice:
        """Mark the choice removed (kept for the audit); raise `UnknownExample` when there
        is no such example shown."""
        ...

    async def facts(self) -> list[ExampleFacts]:
        """Every example chosen and not removed, newest choice first."""
        ...


class CatalogueEntries(Protocol):
    async def every(self) -> list[Directory]:
        """Every directory of the catalogue, paused ones too."""
        ...


@dataclass(frozen=True)
class MonitorPorts:
    """What the monitoring services take (the web side: add, ask for a re-check)."""

    repository: Repository
    urls: UrlGuard
    links: MonitoredLinks
    clock: Clock


@dataclass(frozen=True)
class ShowcasePorts:
    """What the delivery-example services take."""

    repository: Repository
    choices: ExampleChoices
    catalogue: CatalogueEntries
    clock: Clock
