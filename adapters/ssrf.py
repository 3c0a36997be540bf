"""The address policy of the fetcher (API.md: it "never reaches loopback, private,
link-local, CGNAT, multicast or reserved addresses … checks every redirect hop, connects
to the address it checked"), and the aiohttp resolver that enforces it.

Enforcing the policy inside the resolver is what makes "connects to the address it
checked" true: aiohttp connects to exactly the addresses the resolver returns, so there is
no second lookup that a rebinding DNS server could answer differently. TLS still verifies
the certificate against the URL's host name, which aiohttp passes as SNI.

A URL's host is read the way browsers read it (the WHATWG URL standard): a host that ends
in a number is an IPv4 address in any of its legacy spellings (`2130706433`, `0177.0.0.1`,
`127.1`, `0x7f.1`, `127.0.0.1.`), never a name for DNS. Such a spelling is refused outright
— whatever address it stands for — because `getaddrinfo` would quietly turn it into an
address that no check of the literal text saw.

A refusal says which rule refused the address ("loopback address", "private network"),
never the address a name resolved to: that would turn the checker into an oracle for the
internal network's DNS."""

from __future__ import annotations

import ipaddress
import socket
import string
from collections.abc import Iterable
from dataclasses import dataclass

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


def _rules(*pairs: tuple[str, str]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(net), rule) for net, rule in pairs)


# IANA's special-purpose address registries, spelled out rather than left to
# `ipaddress.is_global` (whose lists change between Python versions) so that every refusal
# names its rule. First match wins: specific ranges come before the ones that contain them.
_IPV4_RULES = _rules(
    ("0.0.0.0/8", "this-network address"),
    ("10.0.0.0/8", "private network"),
    ("100.64.0.0/10", "carrier-grade NAT (shared address space)"),
    ("127.0.0.0/8", "loopback address"),
    ("169.254.0.0/16", "link-local address (cloud metadata services live here)"),
    ("172.16.0.0/12", "private network"),
    ("192.0.0.0/24", "IETF protocol assignment"),
    ("192.0.2.0/24", "documentation address"),
    ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", "private network"),
    ("198.18.0.0/15", "benchmarking network"),
    ("198.51.100.0/24", "documentation address"),
    ("203.0.113.0/24", "documentation address"),
    ("224.0.0.0/4", "multicast address"),
    ("255.255.255.255/32", "broadcast address"),
    ("240.0.0.0/4", "reserved address"),
)
_IPV6_RULES = _rules(
    ("::/128", "unspecified address"),
    ("::1/128", "loopback address"),
    ("::/96", "IPv4-compatible IPv6 address (deprecated)"),
    ("::ffff:0:0:0/96", "IPv4-translated IPv6 address"),
    ("64:ff9b:1::/48", "local-use NAT64 address"),
    ("100::/64", "discard-only address"),
    ("100:0:0:1::/64", "dummy IPv6 prefix"),
    ("2001::/32", "Teredo address"),
    ("2001:2::/48", "benchmarking network"),
    ("2001:db8::/32", "documentation address"),
    ("2001::/23", "IETF protocol assignment"),
    ("2002::/16", "6to4 address"),
    ("3fff::/20", "documentation address"),
    ("5f00::/16", "segment-routing address"),
    ("fc00::/7", "unique local address (private network)"),
    ("fe80::/10", "link-local address"),
    ("fec0::/10", "site-local address (deprecated)"),
    ("ff00::/8", "multicast address"),
)
_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: judge the IPv4 inside
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def address_rule(ip: IPAddress) -> str | None:
    """The rule that makes `ip` unreachable, or None for a public address. An IPv4-mapped
    or NAT64 address is judged by the IPv4 address it carries (DNS64 answers public sites
    with NAT64 addresses on IPv6-only hosts)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "scoped IPv6 address"
        if ip in _IPV4_MAPPED or ip in _NAT64:
            inner = address_rule(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            return f"IPv4-mapped or NAT64 form of a {inner}" if inner else None
        rules: tuple[tuple[Network, str], ...] = _IPV6_RULES
    else:
        rules = _IPV4_RULES
    for network, rule in rules:
        if ip in network:
            return rule
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST:
        return "reserved address"
    if not ip.is_global:  # a range added to the registries after this table was written
        return "reserved address"
    return None


# --- hosts as the WHATWG URL standard reads them -------------------------------------------

_DIGITS = {10: frozenset(string.digits), 8: frozenset(string.octdigits)}
_DIGITS[16] = frozenset(string.hexdigits)


class InvalidHost(ValueError):
    """A host that is neither a name nor an address (WHATWG: the URL fails to parse)."""


def _ipv4_number(part: str) -> int | None:
    """WHATWG "IPv4 number parser": decimal, `0x` hexadecimal, leading-`0` octal."""
    if not part:
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    if len(part) > 32 or not set(part) <= _DIGITS[radix]:  # long: too big for 32 bits anyway
        return None
    return int(part, radix)


def _ends_in_a_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and last.isascii() and last.isdigit():
        return True
    return _ipv4_number(last) is not None and last[:2] in ("0x", "0X")


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        raise InvalidHost(f"{host[:100]} ends in a number but is not an IPv4 address.")
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        raise InvalidHost(f"{host[:100]} ends in a number but is not an IPv4 address.")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise InvalidHost(f"{host[:100]} is an IPv4 address out of range.")
    address = values[-1]
    for i, n in enumerate(values[:-1]):
        address += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(address)


@dataclass(frozen=True, slots=True)
class HostAddress:
    """The address a URL's host names by itself; `canonical` when written the one way
    `ipaddress` writes it (a dotted quad, or any IPv6 literal)."""

    ip: IPAddress
    canonical: bool


def host_address(host: str) -> HostAddress | None:
    """The IP address `host` (a URL's host, brackets optional) stands for, or None for a
    host name. Raises `InvalidHost` for a host that ends in a number but is no IPv4
    address, or holds a `%` (browsers percent-decode hosts; DNS names have no `%`)."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        try:
            return HostAddress(ipaddress.IPv6Address(bare), True)
        except ValueError:
            raise InvalidHost(f"{host[:100]} is not an IPv6 address.") from None
    if "%" in bare:
        raise InvalidHost(f"{host[:100]} is a percent-encoded host.")
    if not _ends_in_a_number(bare):
        return None
    ip = _parse_ipv4(bare)
    return HostAddress(ip, str(ip) == bare)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a host is not fetched: `code` is API.md's error code."""

    code: str  # "blocked_address" or "invalid_url"
    details: str


class BlockedAddress(OSError):
    """The host resolves to (or is) an address the fetcher must not reach. An `OSError`
    so that aiohttp carries it through its connector errors unchanged."""


class AddressPolicy:
    def __init__(self, allowed: Iterable[Network] = ()):
        self.allowed = tuple(allowed)

    def is_public(self, ip: IPAddress) -> bool:
        return address_rule(ip) is None

    def is_allowed_by_setting(self, ip: IPAddress) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c.version == n.version and c in n for c in candidates for n in self.allowed)

    def refusal(self, ip: IPAddress, port: int) -> str | None:
        """The rule that refuses connecting to `ip:port` (no address in it), or None if it
        is fine. An address in BACKLYNK_FETCH_ALLOW_CIDRS may be reached on any port."""
        if self.is_allowed_by_setting(ip):
            return None
        rule = address_rule(ip)
        if rule:
            return rule
        if port not in WEB_PORTS:
            return f"port {port} (only 80 and 443 are allowed)"
        return None

    def host_refusal(self, host: str, port: int) -> Refusal | None:
        """Everything that can be said of a URL's host before any DNS lookup: an IP
        literal is judged here (it never reaches the resolver), a legacy IPv4 spelling and
        a metadata service name are refused, a host name is left to the resolver."""
        try:
            found = host_address(host)
        except InvalidHost as exc:
            return Refusal("invalid_url", str(exc))
        if found is None:
            if host.lower().removesuffix(".") in METADATA_HOSTS:
                return Refusal("blocked_address", f"{host} is refused: cloud metadata service.")
            return None
        if not found.canonical:
            return Refusal(
                "blocked_address",
                f"{host[:100]} is refused: IPv4 address in a non-canonical form "
                "(decimal, octal, hexadecimal or fewer than four parts).",
            )
        rule = self.refusal(found.ip, port)
        return Refusal("blocked_address", f"{host} is refused: {rule}.") if rule else None

    def check_host(self, host: str, port: int) -> None:
        refused = self.host_refusal(host, port)
        if refused:
            raise BlockedAddress(refused.details)

    def check_resolved(self, host: str, ip: IPAddress, port: int) -> None:
        if self.is_allowed_by_setting(ip):
            return
        rule = address_rule(ip)
        if rule:
            # the rule, never the address: a private answer is not for the caller to see
            raise BlockedAddress(
                f"{host} is refused: it resolves to a non-public address ({rule})."
            )
        if port not in WEB_PORTS:
            raise BlockedAddress(f"{host} is refused: port {port} (only 80 and 443 are allowed).")


class GuardedResolver(AbstractResolver):
    """Resolves once, then refuses the lookup if any answer is blocked: a name that points
    at a private address even once is not fetched (a partly private answer is a rebinding
    attempt or a misconfiguration, never a page we must see). A host that is an IP
    literal in a legacy spelling is refused before any lookup."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None):
        self.policy = policy
        self.inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.policy.check_host(host, port)
        answers = await self.inner.resolve(host, port, family)
        if not answers:
            raise OSError(socket.EAI_NONAME, f"{host} has no address")
        for answer in answers:
            ip = ipaddress.ip_address(answer["host"].split("%", 1)[0])
            self.policy.check_resolved(host, ip, port)
        return answers

    async def close(self) -> None:
        await self.inner.close()
