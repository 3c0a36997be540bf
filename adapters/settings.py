"""Configuration from the environment: one place that names every variable.

A value that cannot be used (a `PORT` that is no port, a rate of 0, a JWT secret too short
to sign with) is a `SettingsError` at start, which the CLI prints as one line.
"""

from __future__ import annotations

import ipaddress
import math
import os

import msgspec

DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0123456789"

#: HS256 keys shorter than the hash output weaken it (RFC 7518 §3.2 asks for ≥ 256 bits)
MIN_JWT_SECRET_BYTES = 32


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one line naming the variable."""


class Settings(msgspec.Struct, frozen=True):
    database_url: str = "postgresql://postgres@127.0.0.1:5432/backlynk"
    read_database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: prefix of every Redis key and of the arq queue, so deployments (and test runs)
    #: can share one Redis
    redis_namespace: str = "backlynk"
    jwt_secret: str = ""
    #: web bind address: every interface, as a Procfile platform expects (`make run`: loopback)
    host: str = "0.0.0.0"
    port: int = 8000
    #: web processes of `backlynk serve` (uvicorn workers sharing the listening socket)
    web_concurrency: int = 1
    fetch_allow_cidrs: tuple[str, ...] = ()
    verify_sites: bool = True
    public_check_rate: int = 30
    #: URLs in public checks per minute per client (a check holds up to 25)
    public_check_urls: int = 300
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
    #: registrations per hour and refreshes per minute, per client IP (IPv6: per /64)
    register_rate: int = 20
    refresh_rate: int = 60
    #: password hashes computed at once (0: one per core) and waiting at most (0: 4 per slot)
    password_concurrency: int = 0
    password_queue: int = 0
    #: tests only: cheap argon2 parameters instead of RFC 9106's
    fast_password_hashing: bool = False
    #: how long a command waits for the read models to show its write before answering
    #: anyway (read-your-writes, seconds; 0: not at all)
    read_your_writes_wait: float = 2.0
    #: the Bearer token `/metrics` asks for; empty: no `/metrics` (404)
    metrics_token: str = ""
    #: job streams (`GET /jobs/{id}/stream`) open at once per web process, and per account
    #: in one web process; beyond them a stream is refused (503, 429)
    max_streams: int = 2000
    streams_per_account: int = 100
    #: memory each web process may give to answers of repeated reads (MB; 0: no such
    #: cache): `api.read_cache`. Without effect while reads go to a replica.
    read_cache_mb: int = 64

    @property
    def read_url(self) -> str:
        return self.read_database_url or self.database_url

    @property
    def signing_secret(self) -> str:
        """The JWT key. Outside dev mode a missing or short secret is a start-up error."""
        if self.dev:
            return self.jwt_secret or DEV_JWT_SECRET
        if not self.jwt_secret:
            raise SettingsError("JWT_SECRET is not set (make run writes one into .env)")
        if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingsError(
                f"JWT_SECRET is {len(self.jwt_secret.encode())} bytes; use at least "
                f"{MIN_JWT_SECRET_BYTES} random bytes (e.g. `openssl rand -base64 48`)"
            )
        return self.jwt_secret

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


def _number(
    e: dict[str, str], name: str, default: float, kind: type, low: float, high: float = math.inf
) -> float:
    """`e[name]` as an `int` or a finite `float` within [low, high]; unset or empty is the
    default; anything else is a `SettingsError` that says what is expected."""
    raw = (e.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        bounds = f"from {low:g} to {high:g}" if high != math.inf else f"of at least {low:g}"
        raise SettingsError(f"{name} must be {what} {bounds}, not {raw[:40]!r}")
    return value


def _int(e: dict[str, str], name: str, default: int, low: int, high: float = math.inf) -> int:
    return int(_number(e, name, default, int, low, high))


def _float(e: dict[str, str], name: str, default: float, low: float) -> float:
    return float(_number(e, name, default, float, low))


def load(env: dict[str, str] | None = None, **overrides: object) -> Settings:
    e = dict(os.environ if env is None else env)
    cidrs = tuple(
        c.strip() for c in e.get("BACKLYNK_FETCH_ALLOW_CIDRS", "").split(",") if c.strip()
    )
    d = _DEFAULTS  # every default is written once, in `Settings`
    settings = Settings(
        database_url=e.get("DATABASE_URL") or d.database_url,
        read_database_url=e.get("READ_DATABASE_URL") or d.read_database_url,
        redis_url=e.get("REDIS_URL") or d.redis_url,
        redis_namespace=e.get("BACKLYNK_REDIS_NAMESPACE") or d.redis_namespace,
        jwt_secret=e.get("JWT_SECRET") or d.jwt_secret,
        host=(e.get("HOST") or "").strip() or d.host,
        port=_int(e, "PORT", d.port, 1, 65535),
        web_concurrency=_int(e, "WEB_CONCURRENCY", d.web_concurrency, 1, 256),
        fetch_allow_cidrs=cidrs or d.fetch_allow_cidrs,
        verify_sites=_flag(e.get("BACKLYNK_VERIFY_SITES"), d.verify_sites),
        public_check_rate=_int(e, "BACKLYNK_PUBLIC_CHECK_RATE", d.public_check_rate, 1),
        # one check may hold 25 URLs: a lower cap would refuse some checks forever
        public_check_urls=_int(e, "BACKLYNK_PUBLIC_CHECK_URLS", d.public_check_urls, 25),
        dev=_flag(e.get("BACKLYNK_DEV"), d.dev),
        submit_concurrency=_int(e, "BACKLYNK_SUBMIT_CONCURRENCY", d.submit_concurrency, 1),
        host_delay=_float(e, "BACKLYNK_HOST_DELAY", d.host_delay, 0),
        recheck_hours=_float(e, "BACKLYNK_RECHECK_HOURS", d.recheck_hours, 0.01),
        job_timeout=_int(e, "BACKLYNK_JOB_TIMEOUT", d.job_timeout, 1),
        reservation_days=_float(e, "BACKLYNK_RESERVATION_DAYS", d.reservation_days, 0.01),
        register_rate=_int(e, "BACKLYNK_REGISTER_RATE", d.register_rate, 1),
        refresh_rate=_int(e, "BACKLYNK_REFRESH_RATE", d.refresh_rate, 1),
        password_concurrency=_int(
            e, "BACKLYNK_PASSWORD_CONCURRENCY", d.password_concurrency, 0, 1024
        ),
        password_queue=_int(e, "BACKLYNK_PASSWORD_QUEUE", d.password_queue, 0, 100_000),
        fast_password_hashing=_flag(
            e.get("BACKLYNK_FAST_PASSWORD_HASHING"), d.fast_password_hashing
        ),
        read_your_writes_wait=_float(
            e, "BACKLYNK_READ_YOUR_WRITES_WAIT", d.read_your_writes_wait, 0
        ),
        metrics_token=(e.get("BACKLYNK_METRICS_TOKEN") or "").strip(),
        max_streams=_int(e, "BACKLYNK_MAX_STREAMS", d.max_streams, 0, 1_000_000),
        streams_per_account=_int(
            e, "BACKLYNK_STREAMS_PER_ACCOUNT", d.streams_per_account, 1, 1_000_000
        ),
        read_cache_mb=_int(e, "BACKLYNK_READ_CACHE_MB", d.read_cache_mb, 0, 1_000_000),
    )
    if overrides:
        settings = msgspec.structs.replace(settings, **overrides)
    if settings.fast_password_hashing and not settings.dev:
        # cheap hashes would be stored for good: only a development or test process may
        raise SettingsError("BACKLYNK_FAST_PASSWORD_HASHING is for tests; it needs --dev")
    return settings
