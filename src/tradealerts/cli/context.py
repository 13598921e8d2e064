"""What the root options set for every command, and the one way commands get a client.

Only the standard library and typer here: ``tradealerts --help`` must stay light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradealerts.client import Client

__all__ = ["STATE", "State", "UsageProblem", "open_client", "skip_httpx_cli"]


@dataclass
class State:
    server: str | None = None
    verbose: bool = False
    #: ``--utc``: times in UTC whatever the user's ``timezone`` setting
    utc: bool = False
    #: the zone times are shown in, once asked of the server (None: not asked yet)
    zone: str | None = None
    #: the clients this command opened: their answers say whether a notice is current
    clients: list[Any] = field(default_factory=list)


#: Set by the root callback before any command runs (one command per process).
STATE = State()


class UsageProblem(Exception):
    """A command line that cannot work (exit 2), found before anything is sent."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.detail = ""


def skip_httpx_cli() -> None:
    """Keep httpx's own command-line tool from loading when httpx is imported later.

    httpx's package imports its command-line tool (click, rich, pygments) only to offer
    ``httpx.main``; a None entry makes that import fail, which httpx handles, and saves a
    short-lived command about a third of httpx's import time. ``main()`` calls this before
    any command runs: commands import ``tradealerts.client`` (and so httpx) before they open
    a client.
    """
    import sys

    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def open_client() -> Client:
    """A sync API client for ``--server``/``TRADEALERTS_SERVER`` (httpx imported here)."""
    skip_httpx_cli()
    from tradealerts.client import Client

    client = Client(STATE.server)
    STATE.clients.append(client)
    return client
