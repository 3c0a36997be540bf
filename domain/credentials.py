"""What authenticating a request needs to know about a credential and its account, as
small immutable records: a cache may hand the same record to many requests at once
(the aggregates themselves are mutable and must not be shared that way)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from domain.account import Account
from domain.api_key import ApiKey
from domain.auth_session import AuthSession


class AccountRecord(msgspec.Struct, frozen=True):
    id: UUID
    email: str
    name: str | None
    plan_code: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountRecord:
        return cls(
            account.id,
            account.email,
            account.name,
            account.plan_code,
            account.created_on,
            account.modified_on,
        )


class CredentialRecord(msgspec.Struct, frozen=True):
    """A session (the access tokens naming it) or an API key, with its account."""

    via: Literal["jwt", "api_key"]
    id: UUID
    account: AccountRecord
    revoked: bool
    #: a session's end (sign-in + its lifetime); None for an API key
    expires_at: datetime | None

    @classmethod
    def of_session(cls, session: AuthSession, account: Account) -> CredentialRecord:
        return cls(
            "jwt", session.id, AccountRecord.of(account), session.is_revoked, session.expires_at
        )

    @classmethod
    def of_api_key(cls, api_key: ApiKey, account: Account) -> CredentialRecord:
        return cls("api_key", api_key.id, AccountRecord.of(account), not api_key.is_active, None)
