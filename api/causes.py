"""A cause (`domain.cause`) as answers show it: ids in their public form, and the
credential as `{"type": "session" | "api_key", "id": …}` — an id, never a secret."""

from __future__ import annotations

import msgspec

from domain import ids
from domain.cause import Cause, CauseKind, Credential

CREDENTIAL_PREFIXES = {Credential.SESSION: "ses", Credential.API_KEY: "key"}


class CredentialOut(msgspec.Struct, frozen=True):
    type: Credential
    id: str


class CauseOut(msgspec.Struct, frozen=True):
    kind: CauseKind
    #: the worker task, cron job or CLI command; a request's method and path
    name: str | None
    request_id: str | None
    account_id: str | None
    credential: CredentialOut | None


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
    )
