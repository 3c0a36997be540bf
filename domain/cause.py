"""Why an event happened: the request (whose account, which credential, which request
id), the worker task, the cron job or the CLI command that caused it.

The domain only declares the shape; nothing here knows where a cause comes from. Entry
points say what they are (`adapters.causes.caused_by`), and the repository stamps that
cause on every event it saves, so no command or service signature carries it."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

import msgspec


class CauseKind(StrEnum):
    REQUEST = "request"
    WORKER = "worker"
    CRON = "cron"
    CLI = "cli"


class Credential(StrEnum):
    """What authenticated a request: a session's access token, or an API key."""

    SESSION = "session"
    API_KEY = "api_key"


class Cause(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: CauseKind
    #: the task, cron job or command (`deliver`, `set-plan`); a request's method and path
    name: str | None = None
    request_id: str | None = None
    #: the authenticated caller of a request (None before sign-in: register, login)
    account_id: UUID | None = None
    credential: Credential | None = None
    #: the session's or the API key's id — never a secret
    credential_id: UUID | None = None
