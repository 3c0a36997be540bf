"""Webhook signing secrets sealed at rest (implements `domain.ports.SecretSealer`).

A secret must be read back to sign each delivery, so it cannot be hashed like an API key:
it is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the server secret
(`JWT_SECRET`), bound to the owning account, and only the sealed bytes enter the event
store and the outbox."""

from __future__ import annotations

import os
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"backlynk webhook secrets v1"


class SealedSecrets:
    def __init__(self, server_secret: str):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"webhook-secret")
        self._aead = AESGCM(key.derive(server_secret.encode()))

    def seal(self, secret: str, owner: UUID) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret.encode(), owner.bytes)

    def open(self, sealed: bytes, owner: UUID) -> str:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], owner.bytes).decode()
        except InvalidTag:
            raise ValueError("sealed under another server secret (JWT_SECRET changed?)") from None
