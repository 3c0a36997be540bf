"""Configuration from the environment: one place that names every variable."""

from __future__ import annotations

import ipaddress
import os

import msgspec

DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0123456789"


class Settings(msgspec.Struct, frozen=True):
    database_url: str = "postgresql://postgres@127.0.0.1:5432/backlynk"
    read_database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: prefix of every Redis key and of the arq queue, so deployments (and test runs)
    #: can share one Redis
    redis_namespace: str = "backlynk"
    jwt_secret: str = ""
    port: int = 8000
    fetch_allow_cidrs: tuple[str, ...] = ()
    verify_sites: bool = True
    public_check_rate: int = 30
    dev: bool = False
    #: submissions in flight across every worker
    submit_concurrency: int = 8
    #: pause between two requests to the same directory host
    host_delay: float = 1.0
    #: how often a backlink is re-checked
    recheck_hours: float = 24.0
    #: arq job timeout; a killed worker's job runs again this + 10 s later
    job_timeout: int = 45
    #: a pending task that no worker could submit for this long gives its quota back
    reservation_days: float = 7.0

    @property
    def read_url(self) -> str:
        return self.read_database_url or self.database_url

    @property
    def signing_secret(self) -> str:
        """The JWT key. Outside dev mode a missing secret is a start-up error."""
        if self.jwt_secret:
            return self.jwt_secret
        if self.dev:
            return DEV_JWT_SECRET
        raise RuntimeError("JWT_SECRET is not set (make run writes one into .env)")

    def redis_key(self, *parts: str) -> str:
        return ":".join((self.redis_namespace, *parts))

    @property
    def queue_name(self) -> str:
        return self.redis_key("queue")

    def allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c, strict=False) for c in self.fetch_allow_cidrs]


_DEFAULTS = Settings()


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


def load(env: dict[str, str] | None = None, **overrides: object) -> Settings:
    e = dict(os.environ if env is None else env)
    cidrs = tuple(
        c.strip() for c in e.get("BACKLYNK_FETCH_ALLOW_CIDRS", "").split(",") if c.strip()
    )
    settings = Settings(
        database_url=e.get("DATABASE_URL") or _DEFAULTS.database_url,
        read_database_url=e.get("READ_DATABASE_URL", ""),
        redis_url=e.get("REDIS_URL") or _DEFAULTS.redis_url,
        redis_namespace=e.get("BACKLYNK_REDIS_NAMESPACE") or _DEFAULTS.redis_namespace,
        jwt_secret=e.get("JWT_SECRET", ""),
        port=int(e.get("PORT") or 8000),
        fetch_allow_cidrs=cidrs,
        verify_sites=_flag(e.get("BACKLYNK_VERIFY_SITES"), True),
        public_check_rate=int(e.get("BACKLYNK_PUBLIC_CHECK_RATE") or 30),
        dev=_flag(e.get("BACKLYNK_DEV"), False),
        submit_concurrency=int(e.get("BACKLYNK_SUBMIT_CONCURRENCY") or 8),
        host_delay=float(e.get("BACKLYNK_HOST_DELAY") or 1.0),
        recheck_hours=float(e.get("BACKLYNK_RECHECK_HOURS") or 24.0),
        job_timeout=int(e.get("BACKLYNK_JOB_TIMEOUT") or 45),
        reservation_days=float(e.get("BACKLYNK_RESERVATION_DAYS") or 7.0),
    )
    return msgspec.structs.replace(settings, **overrides) if overrides else settings
