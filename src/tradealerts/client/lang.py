"""The client's language: which one, ``_()`` for the ``client`` catalog, and locale formats.

Which language (``language_for``): the logged-in user's ``language`` preference, cached in
``client.json`` for each server whenever the client reads or changes the preferences (login,
``settings show``/``set``, the TUI, the daemon: ``remember_language`` is called by the client
itself on every preferences answer); before login (or when nothing is cached), the
environment's ``LC_ALL``, ``LC_MESSAGES`` or ``LANG``, POSIX's order. The process sets it once
at start (``use_language``), before a command builds a text.

Only prose goes through here: ``--json``, CSV, codes and enum values the server reads stay as
they are. Prices in tables stay plain numbers (``1.09120``: the trader's own notation, the
terminal's, one copy-paste away from an order); numbers and dates in sentences, and the dates
of tables, follow the locale (Babel).

Light on purpose (the standard library and ``core.i18n``): every command's start reads it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from tradealerts.core.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    normalise_language,
    set_language,
    translations,
)

__all__ = [
    "N_",
    "_",
    "follow_language",
    "format_date",
    "format_datetime",
    "format_number",
    "language",
    "language_for",
    "ngettext",
    "remember_language",
    "use_language",
]

DOMAIN = "client"
#: POSIX's order: LC_ALL overrides LC_MESSAGES, which overrides LANG
ENV_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

#: one language per process (the CLI's command, the TUI, the daemon): a module value, not the
#: context variable alone, because Textual's and the daemon's threads do not inherit contexts
_language = DEFAULT_LANGUAGE


def language() -> str:
    """The language this process speaks (``en`` until ``use_language``)."""
    return _language


def use_language(value: str | None) -> str:
    """Speak ``value`` from now on (normalised: ``de_DE.UTF-8`` → ``de``); returns it."""
    global _language
    _language = set_language(value)
    return _language


def _(message: str) -> str:
    """``message`` in the process's language (the ``client`` catalog)."""
    return translations(_language, DOMAIN).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message for ``n``, in the process's language."""
    return translations(_language, DOMAIN).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog where it is defined (a binding's description, a
    table's column), translated with ``_()`` where it is shown."""
    return message


# -- which language ---------------------------------------------------------------------
def _environment_language() -> str:
    for name in ENV_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            # ``C`` / ``POSIX`` are "no locale": English
            return normalise_language(value)
    return DEFAULT_LANGUAGE


def _config() -> dict[str, Any]:
    from tradealerts.client.paths import config_file

    try:
        data = json.loads(config_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def language_for(server: str | None = None) -> str:
    """The language for a process talking to ``server`` (``--server``/env/default): the
    cached preference of the user logged in there, else the environment's locale."""
    from tradealerts.client.config import server_url

    entry = _config().get("servers", {}).get(server_url(server), {})
    if isinstance(entry, dict):
        logged_in = bool(entry.get("email")) or bool(os.environ.get("TRADEALERTS_TOKEN"))
        cached = entry.get("language")
        if logged_in and isinstance(cached, str) and cached in LANGUAGES:
            return cached
    return _environment_language()


def follow_language(server: str | None) -> str:
    """Speak the language ``language_for(server)`` says now: a long-running daemon follows a
    change made meanwhile with the CLI or the TUI (one small file read)."""
    return use_language(language_for(server))


def remember_language(server: str, value: str | None, config: Any = None) -> None:
    """Cache the user's ``language`` preference for ``server`` (the client's config), so the
    next command, the TUI and the daemon start in it."""
    if not value or value not in LANGUAGES:
        return
    if config is None:
        from tradealerts.client.config import ClientConfig

        config = ClientConfig()
    if config.get(server, "language") != value:
        config.set(server, "language", value)


# -- locale formats (Babel) ---------------------------------------------------------------
def format_number(value: float | int, digits: int | None = None) -> str:
    """A number in a sentence, the locale's way (``1.234,5`` in ``de``); ``digits``: fixed
    decimals (a price keeps its own)."""
    from babel.numbers import format_decimal

    if digits is None:
        return format_decimal(value, locale=_language)
    return format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                          locale=_language)  # fmt: skip


def format_datetime(moment: datetime, pattern: str = "short") -> str:
    """A date and time the locale's way (``07.12.26, 14:00`` in ``de``), in ``moment``'s own
    zone (the caller converts it to the person's zone first)."""
    from babel.dates import format_datetime as babel_datetime

    return babel_datetime(moment, format=pattern, tzinfo=moment.tzinfo, locale=_language)


def format_date(moment: datetime, pattern: str = "short") -> str:
    """A date the locale's way."""
    from babel.dates import format_date as babel_date

    return babel_date(moment.date(), format=pattern, locale=_language)
