"""Domain errors. Each names a refusal a user can understand; `api.errors` maps every
class to an HTTP status and envelope code in one table."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: `details` is the sentence a user reads; `field` names the input at fault."""

    code: str = "domain_error"

    def __init__(self, details: str, *, field: str | None = None, code: str | None = None):
        super().__init__(details)
        self.details = details
        self.field = field
        if code is not None:
            self.code = code


class ConcurrencyConflict(DomainError):
    """Another writer appended to the same aggregate first; nothing was written."""

    code = "concurrency_conflict"


class NotFound(DomainError):
    """Unknown id, or an id that belongs to another account (indistinguishable on purpose)."""

    code = "not_found"


class ValidationFailed(DomainError):
    """Input that can be corrected and retried."""

    code = "validation_failed"


class Conflict(DomainError):
    """A state conflict (duplicate, wrong life-cycle state)."""

    code = "conflict"


class Forbidden(DomainError):
    """The caller's plan does not include this."""

    code = "forbidden"


# -- authentication and authorisation (401 / 403 / 429) -------------------------------


class AuthenticationFailed(DomainError):
    """No usable credentials (401). Subclasses name why, as API.md's codes do."""

    code = "authentication_required"


class InvalidCredentials(AuthenticationFailed):
    """Wrong email or wrong password: deliberately indistinguishable."""

    code = "invalid_credentials"


class InvalidToken(AuthenticationFailed):
    """A token that is malformed, forged, or names a revoked session."""

    code = "invalid_token"


class TokenExpired(AuthenticationFailed):
    code = "token_expired"


class InvalidApiKey(AuthenticationFailed):
    """Unknown or revoked API key."""

    code = "invalid_api_key"


class RefreshTokenReused(AuthenticationFailed):
    """A spent refresh token came back: the whole session has been revoked."""

    code = "refresh_token_reused"


class PlanRequired(Forbidden):
    """The account's plan does not include this endpoint at all (403)."""

    code = "plan_required"


class RateLimited(DomainError):
    """Too many attempts (429); `retry_after` is whole seconds until the next try counts."""

    code = "rate_limited"

    def __init__(self, details: str, *, retry_after: int, field: str | None = None):
        super().__init__(details, field=field)
        self.retry_after = max(1, int(retry_after))


# -- the backlink check (422) ---------------------------------------------------------


class InvalidDomain(ValidationFailed):
    """The target domain is not a host name under a public suffix."""

    code = "invalid_domain"


class InvalidUrl(ValidationFailed):
    """A URL that is not an absolute http(s) URL."""

    code = "invalid_url"


class TooManyUrls(ValidationFailed):
    """More URLs than one check accepts."""

    code = "too_many_urls"
