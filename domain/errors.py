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


class InvalidDomain(ValidationFailed):
    """The target domain is not a host name under a public suffix."""

    code = "invalid_domain"


class InvalidUrl(ValidationFailed):
    """A URL that is not an absolute http(s) URL."""

    code = "invalid_url"


class TooManyUrls(ValidationFailed):
    """More URLs than one check accepts."""

    code = "too_many_urls"
