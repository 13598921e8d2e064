"""The API client shared by the CLI, the TUI and the daemon (httpx; no server imports).

``Client`` / ``AsyncClient`` send the typed calls of ``tradealerts.client.endpoints``;
errors are ``ClientError`` subclasses carrying the CLI's exit code.
"""

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
