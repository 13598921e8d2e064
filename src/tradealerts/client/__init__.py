"""The API client shared by the CLI, the TUI and the daemon (httpx; no server imports).

``Client`` / ``AsyncClient`` send the typed calls of ``tradealerts.client.endpoints``;
errors are ``ClientError`` subclasses carrying the CLI's exit code.

The names load on first use (PEP 562): ``tradealerts.client.lang`` and ``.paths`` are read
at every command's start, before any command needs httpx.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradealerts.client._flow import Call, RateLimit
    from tradealerts.client.api import AsyncClient, Client, Event
    from tradealerts.client.errors import ApiError, ClientError, NotLoggedIn, Unreachable

__all__ = [
    "ApiError",
    "AsyncClient",
    "Call",
    "Client",
    "ClientError",
    "Event",
    "NotLoggedIn",
    "RateLimit",
    "Unreachable",
]

_WHERE = {
    "Call": "_flow", "RateLimit": "_flow",
    "AsyncClient": "api", "Client": "api", "Event": "api",
    "ApiError": "errors", "ClientError": "errors", "NotLoggedIn": "errors",
    "Unreachable": "errors",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"tradealerts.client.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tradealerts.client' has no attribute {name!r}")
