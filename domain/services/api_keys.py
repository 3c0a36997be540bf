"""API-key use cases: create (within the plan's limit) and revoke."""

from __future__ import annotations

from uuid import UUID

import msgspec

from domain.account import Account
from domain.api_key import ApiKey, ApiKeyRevoked, api_key_not_found, clean_key_name
from domain.errors import NotFound
from domain.ports import AuthPorts
from domain.services.retry import on_conflict
from domain.unique_key import API_KEY_HASH, UniqueKey


class CreatedKey(msgspec.Struct, frozen=True):
    api_key: ApiKey
    key: str  #: the secret: returned once, never stored
    notification_id: int


async def create_api_key(ports: AuthPorts, account_id: UUID, name: str) -> CreatedKey:
    """The key, the account's count of keys and the hash -> key lookup commit together;
    racing creations are serialised on the account, so the plan's limit holds."""
    clean = clean_key_name(name)

    async def attempt() -> CreatedKey:
        account = await ports.repository.get(account_id, Account)
        secret = ports.secrets.new_api_key()
        api_key = ApiKey(
            account_id=account.id, name=clean, prefix=secret.prefix, key_hash=secret.key_hash
        )
        account.add_api_key(api_key.id)
        lookup = UniqueKey.claim(API_KEY_HASH, secret.key_hash, api_key.id)
        nid = await ports.repository.save(account, api_key, lookup)
        return CreatedKey(api_key, secret.key, nid)

    return await on_conflict(attempt)


async def revoke_api_key(ports: AuthPorts, account_id: UUID, key_id: UUID) -> int:
    """Revoke at once: the next request with the key is refused. Another account's key is
    `NotFound`, exactly like a key that never existed."""

    async def attempt() -> int:
        api_key = await _own_key(ports, account_id, key_id)
        account = await ports.repository.get(account_id, Account)
        api_key.revoke(at=ports.clock.now())
        account.remove_api_key(api_key.id)
        return await ports.repository.save(api_key, account)

    return await on_conflict(attempt)


async def _own_key(ports: AuthPorts, account_id: UUID, key_id: UUID) -> ApiKey:
    try:
        api_key = await ports.repository.get(key_id, ApiKey)
    except NotFound:
        api_key = None
    if api_key is None or api_key.account_id != account_id:
        raise api_key_not_found()
    if not api_key.is_active:
        raise ApiKeyRevoked("No API key with this id (it has been revoked).")
    return api_key
