"""High-entropy secrets (implements `domain.ports.Secrets`): API keys and refresh-token
strings made from the OS's CSPRNG, and their one-way hash.

An API key is `bk_live_` followed by 40 URL-safe base64 characters (240 bits); a token is
256 bits. Such a secret cannot be guessed or brute-forced from its hash, so a fast hash
(sha256) is the right one: a slow password hash would only make every API request slow.
Lookups go by the hash; the secret itself is never stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from domain.ports import NewApiKey

KEY_PREFIX = "bk_live_"
_KEY_BYTES = 30  # 240 bits -> 40 base64url characters
_SHOWN = 6  # characters of the random part shown in lists, after `bk_live_`
_KEY_SHAPE = re.compile(r"^bk_live_[A-Za-z0-9_-]{40}$")


class RandomSecrets:
    """Implements `domain.ports.Secrets`."""

    def new_api_key(self) -> NewApiKey:
        key = KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)
        return NewApiKey(key=key, prefix=key[: len(KEY_PREFIX) + _SHOWN], key_hash=self.hash(key))

    def looks_like_api_key(self, text: str) -> bool:
        return bool(_KEY_SHAPE.match(text))

    def token(self) -> str:
        return secrets.token_urlsafe(32)

    def hash(self, secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()
