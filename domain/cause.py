"""Why an event happened: the request (whose account, which credential, how the caller
showed who they are, which request id), the worker task, the cron job or the CLI command
that caused it.

The domain only declares the shape; nothing here knows where a cause comes from. Entry
points say what they are (`adapters.causes.caused_by`), and the repository stamps that
cause on every event it saves, so no command or service signature carries it. Who the
caller of a request is comes from whoever identified them: `api.auth` for an access token,
an API key or the dashboard's cookie; the services, through `AuthPorts.callers`, where they
save before the route knows its caller — the sign-in services (`domain.services.sessions`)
for a password, a refresh token or a sign-up, where nobody is signed in yet but the
request acts on one account and one session, and an API key's check, which records the
key's use (`domain.services.authentication`).

`identified_by` came after the other fields: a cause stored before it reads with
`identified_by = None` (not recorded). It is a field more with a default, so the events
carrying such a cause keep their class version (see `domain.aggregate`)."""

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
    """What a request acts through: a session (by its access token, the dashboard's
    cookie, its refresh token, or the sign-in that starts it), or an API key."""

    SESSION = "session"
    API_KEY = "api_key"


class Proof(StrEnum):
    """How the caller of a request showed who they are."""

    #: `Authorization: Bearer <access token>` (credential: the token's session)
    ACCESS_TOKEN = "access_token"
    #: `x-api-key` (credential: the key)
    API_KEY = "api_key"
    #: the dashboard's session cookie (credential: the dashboard's session)
    SESSION_COOKIE = "session_cookie"
    #: email and password, signing in (credential: the session it starts)
    PASSWORD = "password"
    #: a refresh token, to refresh or end its session — or a spent one, reused, which
    #: ends it (credential: that session)
    REFRESH_TOKEN = "refresh_token"
    #: nobody: the request signs up, making the account (credential: its first session)
    SIGN_UP = "sign_up"


class Cause(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: CauseKind
    #: the task, cron job or command (`deliver`, `set-plan`); a request's method and path
    name: str | None = None
    request_id: str | None = None
    #: the account a request acts for: its authenticated caller, or the account it signs
    #: up, signs in, refreshes or signs out (None when nothing named one)
    account_id: UUID | None = None
    credential: Credential | None = None
    #: the session's or the API key's id — never a secret
    credential_id: UUID | None = None
    #: how the caller showed who they are (None on causes stored before it was recorded)
    identified_by: Proof | None = None
