"""Where an ``admin`` command reads and writes: this host's database, or with ``--server URL``
a running server's admin routes, logged in as an administrator.

``@with_login`` gives a command the three login options (``--server``, ``--email``,
``--password-stdin``) where its ``login: Access`` parameter stands, so they are declared
once for every admin command and ``--help`` lists them in the same place as before.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from tradealerts.server.cli.common import Db, fail, load_settings

__all__ = ["Access", "Remote", "with_login"]

_SERVER_HELP = (
    "Ask a running server instead of the local database; log in with TRADEALERTS_ADMIN_TOKEN "
    "(an access token) or --email and the password on stdin (--password-stdin) or in "
    "TRADEALERTS_ADMIN_PASSWORD."
)
_LOGIN_OPTIONS = (
    ("server", str, typer.Option(None, "--server", envvar="TRADEALERTS_ADMIN_SERVER",
                                 help=_SERVER_HELP)),
    ("email", str, typer.Option(None, "--email", envvar="TRADEALERTS_ADMIN_EMAIL",
                                help="Admin login.")),
    ("password_stdin", bool, typer.Option(False, "--password-stdin",
                                          help="Read the admin password from stdin.")),
)  # fmt: skip


class Remote:
    """The admin routes of a running server, with an administrator's access token."""

    def __init__(self, url: str, email: str | None, password_stdin: bool) -> None:
        import httpx

        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=30)
        token = os.environ.get("TRADEALERTS_ADMIN_TOKEN")
        if not token:
            password = (
                sys.stdin.readline().rstrip("\n")
                if password_stdin
                else os.environ.get("TRADEALERTS_ADMIN_PASSWORD")
            )
            if not email or not password:
                raise fail(
                    "--server needs TRADEALERTS_ADMIN_TOKEN, or --email with --password-stdin "
                    "(or TRADEALERTS_ADMIN_PASSWORD)",
                    2,
                )
            body = self.call("POST", "/api/auth/login", json={"email": email, "password": password})
            token = body["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """The route's JSON (None for 204); an error ends the command with its message."""
        import httpx

        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach {self.http.base_url}: {type(exc).__name__}") from None
        if r.status_code == 204:
            return None
        try:
            body = r.json()
        except ValueError:
            raise fail(f"{self.http.base_url} answered {r.status_code}, not JSON") from None
        if r.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise fail(f"{err.get('message', r.reason_phrase)} ({r.status_code})")
        return body

    def user_id(self, ident: str) -> int:
        """The id of the account ``ident`` (an id or an email)."""
        if ident.isdigit():
            return int(ident)
        found = self.call("GET", "/api/admin/users", params={"search": ident, "per_page": 500})
        for u in found["users"]:
            if u["email"] == ident.lower():
                return int(u["id"])
        raise fail(f"no account {ident}")


class Access:
    """An admin command's way to its data: ``remote`` (a running server, logged in on first
    use, once) or, when that is None, this host's database."""

    def __init__(self, server: str | None, email: str | None, password_stdin: bool) -> None:
        self.server, self.email, self.password_stdin = server, email, password_stdin

    @functools.cached_property
    def remote(self) -> Remote | None:
        """The server named by ``--server``, logged in; None without it."""
        return Remote(self.server, self.email, self.password_stdin) if self.server else None

    def get(
        self, path: str, local: Callable[[Any, Any, Any], Any], params: dict[str, Any] | None = None
    ) -> Any:
        """``GET path`` of the server, or ``local(session, now, settings)`` on the database
        (the same JSON: the routes answer with these very functions)."""
        if self.remote is not None:
            return self.remote.call("GET", path, params=params)
        settings = load_settings()
        with Db(settings) as (s, now):
            return local(s, now, settings)


def with_login(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with the login options in place of its ``login: Access`` parameter (Typer
    reads the signature; the wrapper builds the Access from the three values)."""
    params: list[inspect.Parameter] = []
    for p in inspect.signature(command, eval_str=True).parameters.values():
        if p.name != "login":
            params.append(p)
            continue
        params += [p.replace(name=n, annotation=t, default=o) for n, t, o in _LOGIN_OPTIONS]

    @functools.wraps(command)
    def run(**kwargs: Any) -> None:
        login = Access(*(kwargs.pop(name) for name, _type, _option in _LOGIN_OPTIONS))
        command(**kwargs, login=login)

    run.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run
