"""Password hashing with argon2id (argon2-cffi), off the event loop.

A hash takes tens of milliseconds of CPU on purpose, so it runs in a worker thread:
the web process keeps answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Passwords:
    """Implements `domain.ports.PasswordHasher` (argon2-cffi's RFC 9106 low-memory
    profile: argon2id, t=3, m=64 MiB, p=4)."""

    def __init__(self, hasher: PasswordHasher | None = None):
        self._hasher = hasher or PasswordHasher(type=Type.ID)
        # verified against when the email is unknown, with the same parameters as real
        # hashes, so that both paths cost the same
        self._dummy = self._hasher.hash("backlynk: no such account")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    async def verify_nothing(self, password: str) -> None:
        await asyncio.to_thread(self._verify, self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return False

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
