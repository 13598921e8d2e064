"""Whose language a request's prose is in: the caller's ``language`` once they are known
(set by the auth dependencies), else the request's ``Accept-Language``, else English."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Scope

from tradealerts.core.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalise_language

__all__ = ["accept_language", "remember_language", "request_language", "scope_language"]


def accept_language(header: str | None) -> str:
    """The best of our languages in an ``Accept-Language`` header (RFC 9110 q-values;
    ``de-CH;q=0.8`` counts as ``de``), English when none of them is named."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        code = tag.strip().replace("_", "-").split("-")[0].lower()
        if code not in LANGUAGES or q <= 0:
            continue
        # the first of equal weights wins (q is at most 1, position breaks ties)
        if q > best_q or (q == best_q and position == 0):
            best, best_q = code, q
    return best


def remember_language(conn: HTTPConnection, language: str | None) -> None:
    """The caller's own choice, for the rest of this request (its errors included)."""
    conn.state.language = normalise_language(language)


def request_language(conn: HTTPConnection) -> str:
    """The language to answer this request's prose in."""
    chosen = getattr(conn.state, "language", None)
    if chosen:
        return str(chosen)
    return accept_language(conn.headers.get("accept-language"))


def scope_language(scope: Scope) -> str:
    """``request_language`` from the raw ASGI scope (middlewares, the error body builder):
    the caller's choice kept in the request's state, else its Accept-Language."""
    state: Any = scope.get("state") or {}
    chosen = state.get("language") if isinstance(state, dict) else None
    if chosen:
        return str(chosen)
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            return accept_language(value.decode("latin-1"))
    return accept_language(None)
