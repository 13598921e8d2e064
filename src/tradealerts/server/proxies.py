"""Who the client is behind a reverse proxy: ``TRUSTED_PROXIES`` and ``X-Forwarded-For``.

Per-address limits (sign-ups, resets, failed logins) count by the client's address. Behind a
proxy every request comes from the proxy, so the client is read from ``X-Forwarded-For``,
but only when the peer is a proxy the owner named: anyone else could write any address there.
The header is a list each proxy appends its peer to, so it is read right to left: the first
address that is not a trusted proxy is the client (the ones left of it were written by the
client and prove nothing). uvicorn's own proxy handling is off (``serving.make_server``):
this is the one place that decides, and it rewrites the ASGI scope's ``client`` (and
``scheme`` from ``X-Forwarded-Proto``) so the routes, the usage log and uvicorn's access
log all see the same client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

__all__ = ["TrustedProxies", "parse_networks"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: the per-peer verdicts kept (a proxy deployment has a handful of peers; a direct one many)
_CACHE_SIZE = 4096


def parse_networks(entries: Iterable[str]) -> list[_Network]:
    """Addresses and CIDR ranges (``10.0.0.0/8``, ``::1``); ``ValueError`` names a bad one."""
    out: list[_Network] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR range: {text!r}") from None
    return out


def _address(text: str) -> _Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = parse_networks(entries)
        self._verdicts: dict[str, bool] = {}

    def trusts(self, host: str) -> bool:
        verdict = self._verdicts.get(host)
        if verdict is None:
            address = _address(host)
            verdict = address is not None and any(address in n for n in self.networks)
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[host] = verdict
        return verdict

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """The client's address: the right-most address of the chain ``forwarded_for`` +
        ``peer`` that is not a trusted proxy (``peer`` itself when it is not one)."""
        if not self.trusts(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for):
            address = _address(hop)
            if address is None:
                # junk (or "unknown") left by a proxy: the nearest hop we could read stands
                return client
            client = str(address)
            if not self.trusts(client):
                return client
        return client  # every hop is a proxy of ours: the farthest one is the client

    def rewrite(self, scope: Scope) -> None:
        """Put the real client (and scheme) into an HTTP or WebSocket ``scope``."""
        peer = scope.get("client")
        if not self.networks or not peer or not self.trusts(peer[0]):
            return
        hops: list[str] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                hops += value.decode("latin-1").split(",")
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").strip().lower()
        if hops:
            client = self.client(peer[0], hops)
            if client != peer[0]:
                scope["client"] = (client, 0)
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
