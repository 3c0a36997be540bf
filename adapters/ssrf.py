"""The address policy of the fetcher (API.md: it "never reaches loopback, private,
link-local, CGNAT, multicast or reserved addresses … checks every redirect hop, connects
to the address it checked"), and the aiohttp resolver that enforces it.

Enforcing the policy inside the resolver is what makes "connects to the address it
checked" true: aiohttp connects to exactly the addresses the resolver returns, so there is
no second lookup that a rebinding DNS server could answer differently. TLS still verifies
the certificate against the URL's host name, which aiohttp passes as SNI."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: only the web's ports, unless the address is explicitly allowed
WEB_PORTS = frozenset({80, 443})

#: names of cloud metadata services that some resolvers answer with internal addresses
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.platformequinix.com",
        "metadata.tencentyun.com",
    }
)

# Ranges that `ipaddress` does not flag on every Python version; `is_global` covers the
# rest (RFC 1918, loopback, link-local, documentation, benchmarking, reserved, …).
_EXTRA_BLOCKED: tuple[Network, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # CGNAT (RFC 6598)
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
    ipaddress.ip_network("0.0.0.0/8"),  # "this network"
    ipaddress.ip_network("240.0.0.0/4"),  # reserved, incl. broadcast
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64: reaches IPv4 space through a gateway
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.ip_network("2001::/32"),  # Teredo
    ipaddress.ip_network("2002::/16"),  # 6to4: embeds an IPv4 address
    ipaddress.ip_network("fc00::/7"),  # unique local
    ipaddress.ip_network("fe80::/10"),  # link-local
    ipaddress.ip_network("fec0::/10"),  # site-local (deprecated)
)


class BlockedAddress(OSError):
    """The host resolves to (or is) an address the fetcher must not reach. An `OSError`
    so that aiohttp carries it through its connector errors unchanged."""


class AddressPolicy:
    def __init__(self, allowed: Iterable[Network] = ()):
        self.allowed = tuple(allowed)

    def is_public(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return self.is_public(ip.ipv4_mapped)
        if ip.is_multicast or ip.is_unspecified or not ip.is_global:
            return False
        return not any(ip.version == net.version and ip in net for net in _EXTRA_BLOCKED)

    def is_allowed_by_setting(self, ip: IPAddress) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c.version == n.version and c in n for c in candidates for n in self.allowed)

    def refusal(self, ip: IPAddress, port: int) -> str | None:
        """Why connecting to `ip:port` is refused, or None if it is fine. An address in
        BACKLYNK_FETCH_ALLOW_CIDRS may be reached on any port."""
        if self.is_allowed_by_setting(ip):
            return None
        if not self.is_public(ip):
            return f"{ip} is not a public address."
        if port not in WEB_PORTS:
            return f"Port {port} is not allowed (only 80 and 443)."
        return None

    def check_host_name(self, host: str) -> None:
        if host.lower().removesuffix(".") in METADATA_HOSTS:
            raise BlockedAddress(f"{host} is a cloud metadata service.")

    def check(self, ip: IPAddress, port: int) -> None:
        reason = self.refusal(ip, port)
        if reason:
            raise BlockedAddress(reason)


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """Resolves once, then refuses the lookup if any answer is blocked: a name that points
    at a private address even once is not fetched (a partly private answer is a rebinding
    attempt or a misconfiguration, never a page we must see)."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None):
        self.policy = policy
        self.inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.policy.check_host_name(host)
        answers = await self.inner.resolve(host, port, family)
        if not answers:
            raise OSError(socket.EAI_NONAME, f"{host} has no address")
        for answer in answers:
            ip = ipaddress.ip_address(answer["host"].split("%", 1)[0])
            self.policy.check(ip, port)
        return answers

    async def close(self) -> None:
        await self.inner.close()
