"""A cause (`domain.cause`) as answers show it: ids in their public form, the credential
as `{"type": "session" | "api_key", "id": …}` — an id, never a secret — and how the
caller showed who they are (`identified_by`)."""

from __future__ import annotations

import msgspec

from domain import ids
from domain.cause import Cause, CauseKind, Credential, Proof

CREDENTIAL_PREFIXES = {Credential.SESSION: "ses", Credential.API_KEY: "key"}


class CredentialOut(msgspec.Struct, frozen=True):
    type: Credential
    id: str


class CauseOut(msgspec.Struct, frozen=True):
    """What caused an event: `kind` request, worker, cron or cli; `name` the task, cron
    job or CLI command, or a request's method and path; for a request, `request_id`, the
    account it acted for (`account_id`: its signed-in caller, or the account it signed up,
    signed in, refreshed or signed out), the credential it acted through (a session or an
    API key, by id — never a secret: for a sign-in, the session it started) and
    `identified_by`: access_token, api_key, session_cookie (the dashboard), password
    (login, dashboard sign-in), refresh_token (refresh, a reused one, logout) or sign_up
    (register). Null where not known: a worker, cron or CLI cause; a request that named no
    account; a cause recorded before the field was (`identified_by`)."""

    kind: CauseKind
    #: the worker task, cron job or CLI command; a request's method and path
    name: str | None
    request_id: str | None
    account_id: str | None
    credential: CredentialOut | None
    identified_by: Proof | None


def render_cause(cause: Cause | None) -> CauseOut | None:
    if cause is None:
        return None
    credential = None
    if cause.credential is not None and cause.credential_id is not None:
        prefix = CREDENTIAL_PREFIXES[cause.credential]
        credential = CredentialOut(cause.credential, ids.encode(prefix, cause.credential_id))
    return CauseOut(
        kind=cause.kind,
        name=cause.name,
        request_id=cause.request_id,
        account_id=None if cause.account_id is None else ids.encode("usr", cause.account_id),
        credential=credential,
        identified_by=cause.identified_by,
    )
