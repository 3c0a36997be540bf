"""Every operation of the HTTP API, declared once: method, path, handler, what it takes
(body struct, query struct) and answers (status, answer struct), who may call it (its
access, and so the error answers it may give) and whether it takes `Idempotency-Key`.

The Starlette routes (`api.app.routes`) and the OpenAPI document (`api.openapi`) are both
made from `OPERATIONS`, so neither can list a route the other lacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from api import (
    api_keys,
    audit,
    backlinks,
    checker,
    coverage,
    directories,
    health,
    job_stream,
    jobs,
    openapi,
    public,
    reports,
    sessions,
    sites,
    tools,
    users,
    webhooks,
)
from api.api_keys import ApiKeyOut, CreateApiKeyIn, CreatedApiKeyOut
from api.audit import AuditEntryOut
from api.backlinks import AddBacklinkIn, BacklinkDetailOut, BacklinkOut, RecheckOut
from api.checker import CheckBacklinksBody
from api.coverage import Coverage
from api.directories import DirectoryOut
from api.idempotency import Endpoint
from api.jobs import CreateJobIn, EventOut, JobOut
from api.pagination import Page
from api.public import DeliveryExamples, QualityTiers
from api.queries import (
    AsOf,
    AuditQuery,
    BacklinksQuery,
    BacklinksReportQuery,
    DirectoriesQuery,
    DirectoriesReportQuery,
    JobsQuery,
    Paged,
    SitesQuery,
    UsageReportQuery,
)
from api.read_cache import Cached
from api.reports import BacklinksBucketOut, DirectoryReportOut, UsageOut
from api.sessions import LoginIn, RefreshIn, RegisterIn, TokensOut
from api.sites import CreateSiteIn, SiteOut, UpdateSiteIn
from api.users import UserOut
from api.webhooks import CreatedWebhookOut, CreateWebhookIn, DeliveryOut, WebhookOut
from domain.backlink_evidence import CheckReport


@dataclass(frozen=True)
class Access:
    """Who may call an operation, and so the error answers it may give besides its own."""

    name: str
    credentials: bool  # a bearer token or an API key
    errors: tuple[tuple[str, str], ...]


#: anyone: plain reads that take no input
OPEN = Access("open", False, ())
#: anyone, rate-limited
PUBLIC = Access("public", False, (("422", "Invalid input"), ("429", "Rate limited")))
#: any signed-in account
ACCOUNT = Access("account", True, (("401", "Not authenticated"), ("422", "Invalid input")))
#: an account whose plan has API access
PAID = Access(
    "paid",
    True,
    (
        ("401", "Not authenticated"),
        ("403", "The plan does not include this"),
        ("404", "Unknown id, or another account's"),
        ("422", "Invalid input"),
    ),
)

CONFLICT = "409"
CREDENTIALS = (("401", "Unknown, spent or expired refresh token"),)
REFRESH_CODES = (
    ("401", "invalid_token"),
    ("401", "token_expired"),
    ("401", "refresh_token_reused"),
)
CHECK_CODES = (("422", "invalid_domain"), ("422", "invalid_url"), ("422", "too_many_urls"))


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Endpoint
    summary: str
    status: int = 200
    body: Any = None  # request struct
    answer: Any = None  # response type; None = no JSON body
    access: Access = PAID
    query: type[msgspec.Struct] | None = None  # decoded by `api.queries.query_of`
    media_type: str = "application/json"
    #: error answers of this operation besides those of its access and its body
    errors: tuple[tuple[str, str], ...] = ()
    #: envelope `code`s this operation's own rules give, as (status, code); the codes every
    #: operation of its kind may give (`validation_failed`, ...) are added by `api.openapi`
    codes: tuple[tuple[str, str], ...] = ()
    csv: bool = False  # also answers text/csv (Accept: text/csv or ?format=csv)
    #: its answers may be given again while the read models they show are unchanged
    #: (`api.read_cache`)
    cached: Cached | None = None
    #: takes `Idempotency-Key` (API.md: every POST does)
    idempotent: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "idempotent", self.method == "POST")


GET, POST, PATCH, DELETE = "GET", "POST", "PATCH", "DELETE"

OPERATIONS: tuple[Operation, ...] = (
    Operation(GET, "/healthz", health.healthz, "Liveness", answer=dict[str, Any], access=OPEN),
    Operation(GET, "/readyz", health.readyz, "Readiness", answer=dict[str, Any], access=OPEN),
    Operation(
        GET,
        "/api/v1/openapi.json",
        openapi.openapi_json,
        "This document",
        answer=dict[str, Any],
        access=OPEN,
    ),
    Operation(
        GET,
        "/docs",
        openapi.docs,
        "This document as a web page",
        access=OPEN,
        media_type="text/html",
    ),
    Operation(
        GET,
        "/api/v1/public/coverage",
        coverage.coverage,
        "Catalogue coverage by category and DR tier",
        answer=Coverage,
        access=OPEN,
    ),
    Operation(
        GET,
        "/api/v1/public/quality-tiers",
        public.quality_json,
        "How directories perform in aggregate per DR tier and category: acceptance rate, "
        "time to a live listing, dofollow share (a group of fewer than 3 directories or 10 "
        "outcomes shows no figure)",
        answer=QualityTiers,
        access=OPEN,
    ),
    Operation(
        GET,
        "/api/v1/public/delivery-examples",
        public.examples_json,
        "Delivery examples: verified listings chosen by the operator, anonymised (no "
        "directory, no customer; URLs are placeholders), with what their last check showed",
        answer=DeliveryExamples,
        access=OPEN,
    ),
    Operation(
        POST,
        "/api/v1/auth/register",
        sessions.register,
        "Create an account (Free plan)",
        201,
        RegisterIn,
        TokensOut,
        PUBLIC,
        errors=((CONFLICT, "The email is taken"),),
        codes=((CONFLICT, "email_taken"),),
    ),
    Operation(
        POST,
        "/api/v1/auth/login",
        sessions.login,
        "Sign in for a token pair",
        200,
        LoginIn,
        TokensOut,
        PUBLIC,
        errors=(("401", "Wrong email or password"),),
        codes=(("401", "invalid_credentials"),),
    ),
    Operation(
        POST,
        "/api/v1/auth/refresh",
        sessions.refresh,
        "Trade a refresh token for a new pair",
        200,
        RefreshIn,
        TokensOut,
        PUBLIC,
        errors=CREDENTIALS,
        codes=REFRESH_CODES,
    ),
    Operation(
        POST,
        "/api/v1/auth/logout",
        sessions.logout,
        "End the session",
        204,
        RefreshIn,
        None,
        PUBLIC,
        errors=CREDENTIALS,
        codes=REFRESH_CODES,
    ),
    Operation(
        GET,
        "/api/v1/users/me",
        users.me,
        "The signed-in user, plan and usage",
        answer=UserOut,
        access=ACCOUNT,
        cached=Cached(("accounts", "usage"), vary=users.current_period),
    ),
    Operation(
        POST,
        "/api/v1/api-keys",
        api_keys.create,
        "Create an API key (shown once)",
        201,
        CreateApiKeyIn,
        CreatedApiKeyOut,
        codes=(("422", "api_key_limit_reached"),),
    ),
    Operation(
        GET,
        "/api/v1/api-keys",
        api_keys.index,
        "List API keys",
        answer=Page[ApiKeyOut],
        query=Paged,
    ),
    Operation(DELETE, "/api/v1/api-keys/{key_id}", api_keys.revoke, "Revoke an API key", 204),
    Operation(
        POST,
        "/api/v1/webhooks",
        webhooks.create,
        "Create a webhook (its signing secret is shown once)",
        201,
        CreateWebhookIn,
        CreatedWebhookOut,
    ),
    Operation(
        GET,
        "/api/v1/webhooks",
        webhooks.index,
        "List webhooks",
        answer=Page[WebhookOut],
        query=Paged,
    ),
    Operation(DELETE, "/api/v1/webhooks/{webhook_id}", webhooks.remove, "Delete a webhook", 204),
    Operation(
        GET,
        "/api/v1/webhooks/{webhook_id}/deliveries",
        webhooks.deliveries,
        "A webhook's deliveries, newest first",
        answer=Page[DeliveryOut],
        query=Paged,
    ),
    Operation(
        POST,
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        webhooks.redeliver,
        "Send a delivery again (due at once, retried for 24 h)",
        202,
        answer=DeliveryOut,
    ),
    Operation(
        POST,
        "/api/v1/sites",
        sites.create,
        "Register a site",
        201,
        CreateSiteIn,
        SiteOut,
        errors=((CONFLICT, "The account has this site already"),),
        codes=(
            (CONFLICT, "site_exists"),
            ("422", "invalid_site_url"),
            ("422", "site_limit_reached"),
        ),
    ),
    Operation(
        GET,
        "/api/v1/sites",
        sites.index,
        "List sites, newest first",
        answer=Page[SiteOut],
        query=SitesQuery,
        cached=Cached(("sites",)),
    ),
    Operation(
        GET,
        "/api/v1/sites/{site_id}",
        sites.show,
        "Read a site (as_of: as it was at that instant)",
        answer=SiteOut,
        query=AsOf,
        cached=Cached(("sites",), entity=("site", "site_id")),
    ),
    Operation(
        PATCH,
        "/api/v1/sites/{site_id}",
        sites.update,
        "Update a site (absent: unchanged, null: cleared)",
        200,
        UpdateSiteIn,
        SiteOut,
    ),
    Operation(DELETE, "/api/v1/sites/{site_id}", sites.archive, "Archive a site", answer=SiteOut),
    Operation(
        GET,
        "/api/v1/directories",
        directories.index,
        "Directories within the plan's DR cap (by id unless sorted)",
        answer=Page[DirectoryOut],
        query=DirectoriesQuery,
        cached=Cached(("directories",), shared=True),
    ),
    Operation(
        GET,
        "/api/v1/directories/{directory_id:number}",
        directories.show,
        "Read a directory (404 above the plan's DR cap, like an unknown id)",
        answer=DirectoryOut,
        cached=Cached(("directories",), shared=True),
    ),
    Operation(
        GET,
        "/api/v1/backlinks",
        backlinks.index,
        "Backlinks with their latest evidence (a JSON page, or every matching row as CSV "
        "with Accept: text/csv)",
        answer=Page[BacklinkOut],
        query=BacklinksQuery,
        csv=True,
        cached=Cached(("backlinks", "sites")),
    ),
    Operation(
        POST,
        "/api/v1/backlinks",
        backlinks.create,
        "Monitor a link you already have: pending until its first check, which a worker "
        "runs at once; then re-checked on the same schedule as backlinks found by jobs",
        201,
        AddBacklinkIn,
        BacklinkDetailOut,
        errors=((CONFLICT, "This page is already monitored for the site"),),
        codes=(
            (CONFLICT, "backlink_exists"),
            ("422", "invalid_url"),
            ("422", "blocked_address"),
            ("422", "monitor_limit_reached"),
        ),
    ),
    Operation(
        GET,
        "/api/v1/backlinks/{backlink_id}",
        backlinks.show,
        "Read a backlink and its newest 100 checks (newest first: when, status, outcome, "
        "what changed; checks_total counts them all)",
        answer=BacklinkDetailOut,
        cached=Cached(("backlinks",), entity=("bl", "backlink_id")),
    ),
    Operation(
        POST,
        "/api/v1/backlinks/{backlink_id}/recheck",
        backlinks.recheck,
        "Re-check a backlink now: a worker fetches its page within seconds (queued once "
        "per 5-minute window; asking again in it changes nothing)",
        202,
        None,
        RecheckOut,
        errors=(("429", "Rate limited: the plan's re-checks per hour"),),
        codes=(("429", "rate_limited"),),
    ),
    Operation(
        POST,
        "/api/v1/jobs",
        jobs.create,
        "Create a submission job",
        202,
        CreateJobIn,
        JobOut,
        codes=(
            ("403", "directory_not_in_plan"),
            ("422", "unknown_directory"),
            ("422", "quota_exceeded"),
            ("422", "no_eligible_directories"),
        ),
    ),
    Operation(
        GET,
        "/api/v1/jobs",
        jobs.index,
        "List jobs, newest first",
        answer=Page[JobOut],
        query=JobsQuery,
        cached=Cached(("jobs", "sites")),
    ),
    Operation(
        GET,
        "/api/v1/jobs/{job_id}",
        jobs.show,
        "Read a job and its tasks (as_of: as they were at that instant)",
        answer=JobOut,
        query=AsOf,
        cached=Cached(("jobs",), entity=("job", "job_id")),
    ),
    Operation(
        GET,
        "/api/v1/jobs/{job_id}/stream",
        job_stream.stream,
        "The job as Server-Sent Events: an event `job` (the job as GET /jobs/{id} shows "
        "it, the event id its position) on every change, then `finished` and the end; "
        "resumes after `Last-Event-ID` (204: the finished job was seen); a comment "
        "every 15 s",
        media_type="text/event-stream",
        errors=(
            ("429", "Too many streams open for this account"),
            ("503", "Too many streams open on this server"),
        ),
        codes=(("429", "too_many_streams"), ("503", "too_many_streams")),
    ),
    Operation(
        POST,
        "/api/v1/jobs/{job_id}/cancel",
        jobs.cancel,
        "Cancel a job: pending tasks at once; the job is canceled when the attempts in "
        "flight end (it stays running until then, and asking again is a no-op 202)",
        202,
        None,
        JobOut,
        errors=((CONFLICT, "The job has finished"),),
        codes=((CONFLICT, "job_not_cancelable"),),
    ),
    Operation(
        GET,
        "/api/v1/jobs/{job_id}/events",
        jobs.events,
        "A job's history from the event store",
        answer=Page[EventOut],
        query=Paged,
    ),
    Operation(
        GET,
        "/api/v1/audit",
        audit.index,
        "Every event of the account, in commit order, with its cause (a JSON page, or "
        "every matching entry as CSV with Accept: text/csv)",
        answer=Page[AuditEntryOut],
        query=AuditQuery,
        csv=True,
    ),
    Operation(
        GET,
        "/api/v1/reports/usage",
        reports.usage,
        "Quota units reserved, used and released, per month or per site, over a range of "
        "months (a JSON page, or the whole report as CSV with Accept: text/csv)",
        answer=Page[UsageOut],
        query=UsageReportQuery,
        csv=True,
    ),
    Operation(
        GET,
        "/api/v1/reports/directories",
        reports.directories,
        "Per directory: submitted, verified, failed by error code, acceptance rate, median "
        "time to a verified listing, dofollow share, lost rate (JSON page or CSV)",
        answer=Page[DirectoryReportOut],
        query=DirectoriesReportQuery,
        csv=True,
    ),
    Operation(
        GET,
        "/api/v1/reports/backlinks",
        reports.backlinks,
        "Backlinks live at the end of each day or week, and those discovered, lost and "
        "recovered within it (JSON page or CSV)",
        answer=Page[BacklinksBucketOut],
        query=BacklinksReportQuery,
        csv=True,
    ),
    Operation(
        POST,
        "/api/v1/public/check-backlinks",
        checker.public_check_backlinks,
        "Check known linking pages (no account)",
        200,
        CheckBacklinksBody,
        CheckReport,
        PUBLIC,
        csv=True,
        codes=CHECK_CODES,
    ),
    Operation(
        POST,
        "/api/v1/directories/check-backlinks",
        checker.account_check_backlinks,
        "Check known linking pages",
        200,
        CheckBacklinksBody,
        CheckReport,
        csv=True,
        errors=(("429", "Rate limited: the plan's checks or URLs per minute"),),
        codes=(*CHECK_CODES, ("429", "rate_limited")),
    ),
    Operation(
        GET,
        "/tools/backlink-checker",
        tools.backlink_checker,
        "The backlink checker web page",
        access=OPEN,
        media_type="text/html",
    ),
    Operation(
        GET,
        "/tools/backlink-checker.js",
        tools.backlink_checker_js,
        "The backlink checker page's script",
        access=OPEN,
        media_type="text/javascript",
    ),
    Operation(
        GET,
        "/tools/backlink-checker.css",
        tools.backlink_checker_css,
        "The backlink checker page's style sheet",
        access=OPEN,
        media_type="text/css",
    ),
)
