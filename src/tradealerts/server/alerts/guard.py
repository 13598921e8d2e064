"""Where a webhook may go: the SSRF guard (OWASP ASVS 1.3.6).

A subscriber chooses the URL; the server makes the request. Without a guard, that URL could
reach the owner's own network: the database, an admin page, a cloud metadata service. So:

- The host is resolved once, by the guard, and *every* address it resolves to must be public:
  loopback, private, shared (CGNAT), link-local, the 169.254.169.254 metadata address,
  unspecified, multicast, reserved and documentation ranges are refused, and so are IPv6
  forms that carry such an IPv4 address (IPv4-mapped, NAT64, 6to4).
- The connection goes to the address that was checked (the URL is rewritten to it; the Host
  header and TLS SNI keep the name), so a name that resolves elsewhere a moment later (DNS
  rebinding) changes nothing.
- Numeric hosts in odd spellings (``2130706433``, ``0177.0.0.1``, ``0x7f.1``), which C
  resolvers read as addresses, are refused outright: only canonical dotted quads pass.
- Redirects are never followed (by the sender).

The owner can approve destinations the guard would refuse (``TRADEALERTS_WEBHOOK_ALLOWLIST``:
host names and CIDR ranges), e.g. an internal automation host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "PRIVATE_RANGES",
    "Resolver",
    "Target",
    "WebhookGuard",
    "WebhookRefused",
    "address_problem",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses``: the system's resolver, or one a test injects.
Resolver = Callable[[str, int], list[str]]

#: What ``allow_private_webhooks`` approves: loopback and private ranges (never link-local,
#: so never the metadata address).
PRIVATE_RANGES = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# a host made only of digits, dots and hex spellings is an address, whatever DNS would say
_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)
_DOTTED_QUAD = re.compile(r"^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$")


class WebhookRefused(Exception):
    """The URL may not be called; the message says why, for the subscriber."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, by the system's resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def address_problem(addr: IPAddress) -> str | None:
    """What kind of non-public address ``addr`` is, or None when it is public."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_problem(embedded)
            return None if inner is None else f"{inner} (inside an IPv6 address)"
    if addr in _METADATA:
        return "cloud metadata"
    for kind, bad in (
        ("unspecified", addr.is_unspecified),
        ("loopback", addr.is_loopback),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("private", addr.is_private),
        ("reserved", addr.is_reserved),
    ):
        if bad:
            return kind
    if not addr.is_global:
        return "non-public"
    return None


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to ``url`` (the address), say ``host`` in Host/SNI."""

    url: str
    host_header: str
    server_name: str | None  # TLS SNI and certificate name (https only)
    address: str


class WebhookGuard:
    """Checks webhook URLs and pins each request to the address it checked."""

    def __init__(self, allow: Iterable[str] = (), resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver
        self.allowed_names: set[str] = set()
        self.allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow:
            entry = entry.strip().lower()
            try:
                self.allowed_networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry:
                    self.allowed_names.add(entry.rstrip("."))

    @classmethod
    def from_settings(cls, settings: object, resolver: Resolver = system_resolver) -> WebhookGuard:
        """The owner's allow-list (and the ``allow_private_webhooks`` shorthand)."""
        allow = list(getattr(settings, "webhook_allowlist", []) or [])
        if getattr(settings, "allow_private_webhooks", False):
            allow += PRIVATE_RANGES
        return cls(allow, resolver)

    def allows_plain_http_to_loopback(self) -> bool:
        """Plain http is for owner-approved loopback receivers only (local automation)."""
        return any(
            net.version == lo.version and net.overlaps(lo)
            for net in self.allowed_networks
            for lo in _LOOPBACK
        )

    def _allowed(self, host: str, addr: IPAddress) -> bool:
        if host in self.allowed_names:
            return addr not in _METADATA  # an approved name still never reaches metadata
        return any(addr in net for net in self.allowed_networks)

    def _split(self, url: str) -> tuple[str, str, int]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise WebhookRefused("only http(s) webhooks can be called")
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise WebhookRefused("the webhook URL has no host")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise WebhookRefused("the webhook URL's port is not valid") from None
        if _NUMERIC.match(host) and not _DOTTED_QUAD.match(host):
            raise WebhookRefused(f"{host} is an address in an ambiguous spelling")
        return scheme, host, port

    def _check(self, host: str, addresses: list[str]) -> str:
        if not addresses:
            raise WebhookRefused(f"{host} does not resolve")
        for text in addresses:
            addr = ipaddress.ip_address(text.split("%")[0])
            if self._allowed(host, addr):
                continue
            problem = address_problem(addr)
            if problem is not None:
                raise WebhookRefused(f"{host} resolves to a {problem} address ({addr})")
        return addresses[0].split("%")[0]

    def _resolve(self, host: str, port: int) -> list[str]:
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            pass
        else:
            return [str(literal)]
        try:
            return self.resolver(host, port)
        except OSError:
            raise WebhookRefused(f"{host} does not resolve") from None

    def address_for(self, host: str, port: int) -> str:
        """The checked address to connect to for ``host``, whatever the protocol (push
        channels: every name an Apprise plugin resolves comes here); ``WebhookRefused``."""
        host = host.strip("[]").rstrip(".").lower()
        if not host:
            raise WebhookRefused("the URL has no host")
        if _NUMERIC.match(host) and not _DOTTED_QUAD.match(host):
            raise WebhookRefused(f"{host} is an address in an ambiguous spelling")
        return self._check(host, self._resolve(host, port))

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be called now, or None (a blocking check, for the routes)."""
        try:
            _, host, port = self._split(url)
            self._check(host, self._resolve(host, port))
        except WebhookRefused as exc:
            return str(exc)
        return None

    async def target(self, url: str) -> Target:
        """Resolve once, check every address, and say where to connect (``WebhookRefused``)."""
        scheme, host, port = self._split(url)
        try:  # an address needs no resolver, nor a worker thread (busy under load)
            addresses = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            addresses = await asyncio.to_thread(self._resolve, host, port)
        address = self._check(host, addresses)
        parts = urlsplit(url)
        literal = f"[{address}]" if ":" in address else address
        default = 443 if scheme == "https" else 80
        netloc = literal if port == default else f"{literal}:{port}"
        name = f"[{host}]" if ":" in host else host
        return Target(
            url=urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")),
            host_header=name if port == default else f"{name}:{port}",
            server_name=host if scheme == "https" else None,
            address=address,
        )
