"""Outbound webhook HTTP: the URL check at creation (implements `domain.ports.UrlGuard`)
and the sender the delivery workers post with. Both go through the fetcher's SSRF policy
(`adapters.ssrf`): an IP literal is judged as is, a host name by every address it resolves
to, at creation and again at each delivery (DNS may have changed since)."""

from __future__ import annotations

import ssl

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from adapters.ssrf import AddressPolicy, BlockedAddress, GuardedResolver
from domain.errors import ValidationFailed
from domain.ports import SendResult

USER_AGENT = "Backlynk-Webhooks/1"
ERROR_MAX = 300


def _port(url: URL) -> int:
    return url.port or 443


class GuardedWebhookUrls:
    def __init__(self, policy: AddressPolicy, resolver: AbstractResolver | None = None):
        self.resolver = GuardedResolver(policy, resolver)
        self.policy = policy

    async def check(self, url: str) -> None:
        target = URL(url)
        host = target.host or ""
        refused = self.policy.host_refusal(host, _port(target))
        if refused:
            raise ValidationFailed(refused.details, field="url", code=refused.code)
        try:
            await self.resolver.resolve(host, _port(target))
        except BlockedAddress as exc:
            raise ValidationFailed(str(exc), field="url", code="blocked_address") from None
        except OSError:
            raise ValidationFailed(
                f"{host[:100]} does not resolve.", field="url", code="invalid_url"
            ) from None


class WebhookSender:
    """Posts one delivery: no redirects followed, the answer's body never read, a total
    timeout; 2xx is delivered, anything else (or no answer) is a failed try."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        resolver: AbstractResolver | None = None,
    ):
        self.policy = policy
        self.timeout = timeout
        self._ssl = ssl_context
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy, self._resolver),
                ssl=self._ssl or ssl.create_default_context(),
                limit=100,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        target = URL(url)
        refused = self.policy.host_refusal(target.host or "", _port(target))
        if refused:
            return SendResult(None, refused.details[:ERROR_MAX])
        try:
            async with self._get_session().post(
                target,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                allow_redirects=False,
            ) as response:
                return SendResult(response.status, None)
        except TimeoutError:
            return SendResult(None, f"timeout after {self.timeout:g} s")
        except BlockedAddress as exc:
            return SendResult(None, str(exc)[:ERROR_MAX])
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            return SendResult(None, f"{type(exc).__name__}: {exc}"[:ERROR_MAX])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
