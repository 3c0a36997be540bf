"""The one outbound HTTP fetcher: the backlink check, site registration and listing
verification all fetch pages through it.

What it guarantees (API.md, "Backlink check"):
* redirects are followed by hand — HTTP 301/302/303/307/308, a `Refresh` header and a
  meta refresh with a delay of at most 5 s — at most `max_redirects` hops; a loop is seen
  before any URL is requested twice;
* every hop goes through the address policy (`adapters.ssrf`): names are resolved once
  per connection and the connection goes to the vetted address;
* a body is read up to 5,000,000 bytes after decompression (gzip, deflate, br); one byte
  more is `too_large`;
* one deadline per URL (15 s by default) covers every hop, headers and bodies;
* text is decoded by BOM, header, meta charset, else windows-1252.

Failures are values, not exceptions: a `FetchResult` always comes back, with `error`
set to one of the codes of API.md."""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass, field
from urllib.parse import urljoin

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from adapters import charset, metrics, page_analysis, parsing_pool
from adapters.ssrf import AddressPolicy, BlockedAddress, GuardedResolver

USER_AGENT = "Mozilla/5.0 (compatible; BacklynkBot/1.0; +https://backlynk.io/bot)"
MAX_BODY = 5_000_000
DEFAULT_TIMEOUT = 15.0
MAX_REDIRECTS = 10
MAX_REFRESH_DELAY = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True, slots=True)
class FetchHop:
    """A response that sent the fetcher on."""

    url: str
    status: int


@dataclass
class FetchResult:
    """Where a fetch ended. `final_url`/`status` describe the last response received; when
    the last URL got no response, `final_url` is that URL and `status` is None."""

    url: str
    final_url: str
    chain: list[FetchHop] = field(default_factory=list)
    status: int | None = None
    headers: CIMultiDictProxy[str] | None = None
    body: bytes = b""
    error: str | None = None
    error_details: str | None = None

    @property
    def content_type(self) -> str:
        return (self.headers or {}).get("Content-Type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def is_html(self) -> bool:
        return self.media_type in HTML_TYPES

    @property
    def ok(self) -> bool:
        """2xx and no error: the page is alive."""
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @functools.cached_property
    def text(self) -> str:
        return charset.decode(self.body, self.content_type)


#: a big body is looked through this much at a time, the loop serving others in between
_LOOK_STEP = 256 * 1024


async def _meta_refresh(result: FetchResult) -> str | None:
    """The page's meta refresh. A big page is first looked through for a hint of one, a
    piece at a time; only a page with a hint is decoded and parsed, in a worker process."""
    if not parsing_pool.is_big(len(result.body)):
        return page_analysis.meta_refresh(result.text)
    body = result.body
    encoding, _ = charset.sniff(body, result.content_type)
    hinted = encoding.name.startswith("utf-16")  # no ASCII bytes to look at
    for start in range(0, len(body), _LOOK_STEP):
        if hinted:
            break
        hinted = page_analysis.may_have_meta_refresh(body, start, start + _LOOK_STEP)
        await asyncio.sleep(0)
    if not hinted:
        return None
    return await parsing_pool.run(page_analysis.body_meta_refresh, body, result.content_type)


class FetchFailed(Exception):
    def __init__(self, code: str, details: str):
        super().__init__(details)
        self.code, self.details = code, details


def _redirect_target(base: str, location: str) -> str:
    return urljoin(base, page_analysis.clean_href(location))


def _classify(exc: BaseException) -> FetchFailed:
    """aiohttp's exceptions → the error codes of API.md."""
    cause: BaseException | None = exc
    while cause is not None:  # the policy's refusal arrives wrapped by the connector
        if isinstance(cause, BlockedAddress):
            return FetchFailed("blocked_address", str(cause) or "The address is not public.")
        cause = cause.__cause__ or getattr(cause, "os_error", None)
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchFailed("invalid_url", f"Not a URL that can be fetched: {exc}.")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchFailed("dns_error", "The host name does not resolve.")
    if isinstance(
        exc,
        aiohttp.ClientConnectorCertificateError
        | aiohttp.ClientSSLError
        | aiohttp.ServerFingerprintMismatch
        | ssl.SSLError,
    ):
        return FetchFailed("tls_error", f"The TLS handshake failed: {exc}.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchFailed("connection_error", "The server refused or dropped the connection.")
    return FetchFailed("connection_error", f"The connection failed: {type(exc).__name__}.")


class Fetcher:
    """One aiohttp session per process (made on first use, in the running loop); `close()`
    at shutdown. `resolver` and `ssl_context` are for tests and special deployments: the
    defaults are the system resolver and the system trust store (`SSL_CERT_FILE`)."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = MAX_BODY,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = USER_AGENT,
    ):
        self.policy = policy
        self.timeout = timeout
        self.max_body = max_body
        self._inner_resolver = resolver
        self._ssl_context = ssl_context
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._shared_connector: aiohttp.TCPConnector | None = None

    def _connector(self) -> aiohttp.TCPConnector:
        if self._shared_connector is None or self._shared_connector.closed:
            self._shared_connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy, self._inner_resolver),
                # every new connection is resolved and vetted again (no stale answers)
                use_dns_cache=False,
                ssl=self._ssl_context or ssl.create_default_context(),
                limit=100,
            )
        return self._shared_connector

    def form_session(self) -> aiohttp.ClientSession:
        """A session for one directory submission: the same guarded connections and its
        own cookie jar (sessions and CSRF cookies). Literal IP addresses never reach the
        resolver, so every request's host is vetted here (legacy IPv4 spellings refused);
        follow redirects by hand (each hop is a request, so it is vetted too). The caller
        closes the session."""
        policy = self.policy

        async def vet(
            session: object, context: object, params: aiohttp.TraceRequestStartParams
        ) -> None:
            port = params.url.port or (443 if params.url.scheme == "https" else 80)
            policy.check_host(params.url.host or "", port)

        tracing = aiohttp.TraceConfig()
        tracing.on_request_start.append(vet)
        return aiohttp.ClientSession(
            connector=self._connector(),
            connector_owner=False,
            headers={"User-Agent": self.user_agent},
            trust_env=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            trace_configs=[tracing],
        )

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=self._connector(),
                headers={
                    "User-Agent": self.user_agent,
                    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                },
                timeout=aiohttp.ClientTimeout(total=None),  # our own deadline covers all hops
                cookie_jar=aiohttp.DummyCookieJar(),  # no state shared between checks
                trust_env=False,  # never route checks through a proxy from the environment
                auto_decompress=True,
                max_line_size=16384,
                max_field_size=32768,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._shared_connector is not None:
            await self._shared_connector.close()
            self._shared_connector = None

    async def fetch(
        self, url: str, *, max_redirects: int = MAX_REDIRECTS, timeout: float | None = None
    ) -> FetchResult:
        result = FetchResult(url=url, final_url=url)
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                await self._follow(result, max_redirects)
        except TimeoutError:
            result.error = "timeout"
            result.error_details = "No complete answer within the time limit."
        except FetchFailed as failed:
            result.error, result.error_details = failed.code, failed.details
        metrics.CHECKER_FETCHES.labels(result.error or ("ok" if result.ok else "http_error")).inc()
        return result

    def _target(self, url: str) -> URL:
        """The URL as aiohttp will request it, after the checks that need no network."""
        try:
            target = URL(url)
        except (ValueError, TypeError):
            raise FetchFailed("invalid_url", f"{url[:200]!r} is not a valid URL.") from None
        if target.scheme not in ("http", "https") or not target.host:
            raise FetchFailed("invalid_url", f"{url[:200]!r} is not an absolute http(s) URL.")
        # IP literals (in any spelling) never reach the resolver: the policy judges them here
        port = target.port or (443 if target.scheme == "https" else 80)
        refused = self.policy.host_refusal(target.host, port)
        if refused:
            raise FetchFailed(refused.code, refused.details)
        return target

    @staticmethod
    def _key(target: URL) -> str:
        """Two URLs that differ only by fragment are the same request."""
        return str(target.with_fragment(None))

    async def _follow(self, result: FetchResult, max_redirects: int) -> None:
        session = self._get_session()
        current = result.url
        target = self._target(current)
        seen = {self._key(target)}
        while True:
            result.final_url, result.status, result.headers, result.body = current, None, None, b""
            result.__dict__.pop("text", None)  # the cached decoding of the previous hop
            next_url = await self._request(session, result, target)
            if next_url is None:
                return
            result.chain.append(FetchHop(current, result.status or 0))
            if len(result.chain) > max_redirects:
                raise FetchFailed(
                    "too_many_redirects", f"More than {max_redirects} redirects; stopped."
                )
            try:
                next_target = self._target(next_url)
            except FetchFailed as failed:
                # the redirect target is where the check ended, and it got no response
                result.final_url, result.status, result.headers = next_url, None, None
                result.body = b""
                raise failed from None
            key = self._key(next_target)
            if key in seen:
                raise FetchFailed("redirect_loop", f"The redirects loop back to {next_url}.")
            seen.add(key)
            current, target = next_url, next_target

    async def _request(
        self, session: aiohttp.ClientSession, result: FetchResult, target: URL
    ) -> str | None:
        """Fetch one URL into `result`; return where it sends us next, if anywhere."""
        try:
            async with session.get(target, allow_redirects=False) as response:
                result.status, result.headers = response.status, response.headers
                location = response.headers.get("Location")
                if response.status in REDIRECT_STATUSES and location:
                    return _redirect_target(result.final_url, location)
                refresh = self._refresh_target(response.headers.get("Refresh"), result.final_url)
                if refresh:
                    return refresh
                result.body = await self._read_body(response)
        except TimeoutError:
            raise
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            raise _classify(exc) from None
        if result.is_html:
            return self._refresh_target(await _meta_refresh(result), result.final_url)
        return None

    @staticmethod
    def _refresh_target(value: str | None, base: str) -> str | None:
        if value is None:
            return None
        parsed = page_analysis.parse_refresh(value)
        if parsed is None:
            return None
        delay, url = parsed
        if url is None or delay > MAX_REFRESH_DELAY:
            return None
        return _redirect_target(base, url)

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        declared = response.content_length
        identity = response.headers.get("Content-Encoding", "identity").lower() == "identity"
        if identity and declared is not None and declared > self.max_body:
            raise FetchFailed("too_large", self._too_large())
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) > self.max_body:
                raise FetchFailed("too_large", self._too_large())
        return bytes(body)

    def _too_large(self) -> str:
        return f"The body is larger than {self.max_body:,} bytes (after decompression)."
