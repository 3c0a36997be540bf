"""Local fixture web sites for the checker tests: real aiohttp servers on loopback, over
HTTP and HTTPS (a CA and server certificate made per test session), that count the
requests they get; and a static resolver so host names map to loopback (or to addresses
that the SSRF guard must refuse before connecting)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

#: names the fixture server's certificate is valid for
CERT_HOSTS = ("site.test", "*.site.test", "localhost")


@dataclass(frozen=True)
class Tls:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


def make_tls(directory: Path, hosts: tuple[str, ...] = CERT_HOSTS) -> Tls:
    """A private CA and a server certificate signed by it for `hosts` and 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Backlynk test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(h) for h in hosts]
                + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = Tls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    tls.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


class StaticResolver(AbstractResolver):
    """Answers from a fixed table, like a DNS server the test controls; unknown names do
    not resolve. No real DNS query is ever made."""

    def __init__(self, table: dict[str, list[str]]):
        self.table = table
        self.lookups: Counter[str] = Counter()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups[host] += 1
        addresses = self.table.get(host.lower().removesuffix("."))
        if not addresses:
            raise OSError(socket.EAI_NONAME, f"{host} does not resolve")
        return [
            {
                "hostname": host,
                "host": a,
                "port": port,
                "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for a in addresses
        ]

    async def close(self) -> None:
        return None


class FixtureSite:
    """One web server on 127.0.0.1 speaking HTTP on `port` and HTTPS on `tls_port`.
    Pages are registered per test; `hits[path]` counts the requests for each path."""

    def __init__(self, tls: Tls):
        self.tls = tls
        self.pages: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.user_agents: list[str] = []
        self.port = 0
        self.tls_port = 0
        self._runner: web.ServerRunner | None = None

    async def __aenter__(self) -> FixtureSite:
        server = web.Server(self._dispatch, handler_cancellation=True)
        self._runner = web.ServerRunner(server, shutdown_timeout=0.2)
        await self._runner.setup()
        plain = web.TCPSite(self._runner, "127.0.0.1", 0)
        secure = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls.server_context())
        await plain.start()
        await secure.start()
        self.port = plain._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.tls_port = secure._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner
        await self._runner.cleanup()

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.user_agents.append(request.headers.get("User-Agent", ""))
        handler = self.pages.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not here", content_type="text/plain")
        return await handler(request)

    def url(self, path: str, *, host: str = "127.0.0.1", https: bool = False) -> str:
        scheme, port = ("https", self.tls_port) if https else ("http", self.port)
        return f"{scheme}://{host}:{port}{path}"

    def handle(self, path: str, handler: Handler) -> str:
        self.pages[path] = handler
        return self.url(path)

    def page(
        self,
        path: str,
        body: str | bytes = "",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> str:
        """Serve a fixed answer at `path`; returns its http URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = list(headers or [])
        if content_type is not None:
            all_headers.append(("Content-Type", content_type))

        async def answer(request: web.BaseRequest) -> web.StreamResponse:
            response = web.Response(body=data, status=status)
            for name, value in all_headers:
                response.headers.add(name, value)
            if content_type is None:
                response.headers.popall("Content-Type", None)
            return response

        return self.handle(path, answer)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.page(path, "", status=status, headers=[("Location", location)])


async def stall(seconds: float) -> None:
    await asyncio.sleep(seconds)
