"""Access tokens: HS256 JWTs (pyjwt) that live 15 minutes; refresh tokens: MACs.

The algorithm is pinned on both sides: we only ever sign with HS256 and only accept
HS256, so `alg: none` and algorithm-confusion tokens are refused before any claim is
read. `sub` is the public user id, `sid` the session, `jti` a unique token id.

A refresh token is `<session id hex>.<generation>.<HMAC-SHA256 of both>`, keyed with a
key derived from the same server secret (its own label, so neither key can stand in for
the other). Only the server can make one, and it recognises every generation it ever made
without storing any of them, so a session keeps a counter, not a list of spent tokens.
Whoever holds the server secret could mint both kinds of token, as before; changing the
secret ends every session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import datetime, timedelta

import jwt

from domain import ids
from domain.errors import InvalidToken, TokenExpired
from domain.ports import AccessClaims, RefreshClaims

ALGORITHM = "HS256"
ACCESS_TOKEN_TTL = timedelta(minutes=15)
_REQUIRED = ["exp", "iat", "sub", "jti", "sid"]
#: verified tokens remembered per process (all forgotten when full: ~2.5 MB at most)
MAX_VERIFIED = 10_000


class JwtAccessTokens:
    """Implements `domain.ports.AccessTokens`."""

    def __init__(self, secret: str, *, ttl: timedelta = ACCESS_TOKEN_TTL, leeway: int = 0):
        if not secret:
            raise ValueError("a JWT signing secret is required")
        self._secret = secret
        self._ttl = ttl
        self._leeway = leeway
        self.expires_in = int(ttl.total_seconds())
        #: tokens whose signature and claims were verified -> their claims: a token comes
        #: back with every request it authenticates, and what it says never changes (the
        #: times are checked on every read; what the session says is the cache's business)
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, account_id: uuid.UUID, session_id: uuid.UUID, now: datetime) -> str:
        claims = {
            "sub": ids.encode("usr", account_id),
            "sid": session_id.hex,
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def read(self, token: str, now: datetime) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token, now)
            if len(self._verified) >= MAX_VERIFIED:
                self._verified.clear()
            self._verified[token] = claims
        # checked here against our clock rather than by pyjwt against the system's, so
        # that expiry follows the one clock the rest of the service uses
        if claims.issued_at > now + timedelta(seconds=self._leeway):
            raise InvalidToken("This access token is not valid yet.")
        if now >= claims.expires_at + timedelta(seconds=self._leeway):
            raise TokenExpired("This access token has expired; refresh it or sign in again.")
        return claims

    def _verify(self, token: str, now: datetime) -> AccessClaims:
        """The signature and the claims, once per token (times unchecked)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            raise InvalidToken("This access token is not valid.") from None
        try:
            issued_at = datetime.fromtimestamp(int(claims["iat"]), now.tzinfo)
            expires_at = datetime.fromtimestamp(int(claims["exp"]), now.tzinfo)
            account_id = ids.decode("usr", str(claims["sub"]))
            session_id = uuid.UUID(hex=str(claims["sid"]))
        except (TypeError, ValueError, OverflowError):
            raise InvalidToken("This access token is not valid.") from None
        if account_id is None:
            raise InvalidToken("This access token is not valid.")
        return AccessClaims(account_id, session_id, str(claims["jti"]), issued_at, expires_at)


_REFRESH_TOKEN = re.compile(r"([0-9a-f]{32})\.(0|[1-9][0-9]{0,8})\.([A-Za-z0-9_-]{43})")


class HmacRefreshTokens:
    """Implements `domain.ports.RefreshTokens`."""

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("a signing secret is required")
        self._key = hmac.new(secret.encode(), b"backlynk refresh tokens v2", "sha256").digest()

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, session_id: uuid.UUID, generation: int) -> str:
        payload = f"{session_id.hex}.{generation}"
        return f"{payload}.{self._mac(payload)}"

    def read(self, token: str) -> RefreshClaims:
        found = _REFRESH_TOKEN.fullmatch(token)
        if not found:
            raise InvalidToken("This refresh token is not valid.", field="refresh_token")
        session, generation, mac = found.groups()
        if not hmac.compare_digest(mac, self._mac(f"{session}.{generation}")):
            raise InvalidToken("This refresh token is not valid.", field="refresh_token")
        return RefreshClaims(uuid.UUID(hex=session), int(generation))
