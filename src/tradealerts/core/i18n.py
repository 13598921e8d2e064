"""Translations: gettext catalogs, one per audience, chosen per person.

Two domains, because the two audiences install different things and the catalogs grow
apart: ``server`` holds what the server says to a subscriber (mails, pushes, notification
centre texts, default alert messages, the human ``message`` of API errors), ``client``
what the ``tradealerts`` command, its TUI and its daemon print. Sources live in
``tradealerts/locale/<lang>/LC_MESSAGES/<domain>.po``; the build compiles them to ``.mo``.
A checkout whose ``.mo`` is missing or older than its ``.po`` compiles the ``.po`` in
memory (Babel), so an editable install never serves stale text.

English is the source language: ``en`` (and anything unknown) returns the message as
written. Codes, ``--json`` output and CSV are never translated; only prose is.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "current_language",
    "normalise_language",
    "set_language",
    "translations",
]

LANGUAGES = ("en", "es", "de", "fr", "ja", "pt", "it")
DEFAULT_LANGUAGE = "en"
DOMAINS = ("server", "client")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_current: ContextVar[str] = ContextVar("tradealerts_language", default=DEFAULT_LANGUAGE)


def normalise_language(value: str | None) -> str:
    """``de_DE.UTF-8`` → ``de``; anything not in LANGUAGES → ``en``."""
    if not value:
        return DEFAULT_LANGUAGE
    code = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=32)
def translations(language: str | None, domain: str) -> gettext.NullTranslations:
    """The catalog of ``domain`` in ``language`` (a null one for English or a missing file)."""
    lang = normalise_language(language)
    if lang == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    mo, po = folder / f"{domain}.mo", folder / f"{domain}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if po.exists():
        return _compile_in_memory(po)
    return gettext.NullTranslations()


def _compile_in_memory(po: Path) -> gettext.NullTranslations:
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def set_language(language: str | None) -> str:
    """Make ``language`` the current one for this context (a CLI run, a request); returns it."""
    lang = normalise_language(language)
    _current.set(lang)
    return lang


def current_language() -> str:
    """The language set for this context (``en`` when none was)."""
    return _current.get()
