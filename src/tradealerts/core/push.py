"""Push channels' shared rules: the texts a push carries, and what of an Apprise URL is shown.

An Apprise URL (``ntfy://ntfy.sh/my-secret-topic``, ``tgram://<bot token>/<chat id>``,
``pover://<user key>@<app token>``) carries a service's secret in it, so it is shown only
masked: the scheme, the host when the service is one the URL names (ntfy, Gotify,
``json://``), and at most the first four characters of the rest
(``ntfy://ntfy.sh/my-s…``). Apprise's own ``url(privacy=True)`` keeps ntfy topics and
Gotify paths whole, and they are the secret there, so the mask is ours.

Every text of a push is made by :func:`push_text` (and :func:`test_push_text`), the one place
the translations hook into (issue #27's language half): server deliveries, the test push and
the daemon's ``--notify`` all call it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tradealerts.core.messages import Text, _

__all__ = [
    "CHANNEL_NAME_PATTERN",
    "ChannelCreate",
    "ChannelInfo",
    "ChannelList",
    "ChannelPublic",
    "ChannelTested",
    "UnreadableUrl",
    "apprise_log",
    "describe_url",
    "mask_rest",
    "push_text",
    "test_push_text",
]

#: A channel's name: what ``--notify phone,team`` and an alert's ``channels.notify`` say.
CHANNEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


@dataclass(frozen=True)
class ChannelInfo:
    """What may be known of an Apprise URL without its secret."""

    service: str  #: Apprise's name for it: ntfy, Telegram, Pushover, Gotify, JSON …
    masked: str  #: shown to its owner: ``ntfy://ntfy.sh/my-s…``
    host: str | None  #: the host the URL names (None: the service's own, fixed address)
    port: int | None


class UnreadableUrl(ValueError):
    """``describe_url``'s refusal, a sentence without the URL; ``scheme`` is None when the
    URL has none (each side says it in its own words and language)."""

    def __init__(self, message: str | Text, scheme: str | None) -> None:
        super().__init__(message)
        self.scheme = scheme


class _Capture(logging.Handler):
    """Apprise's log records go here and nowhere else: they quote URLs (``Unparseable URL
    ntfy://…``, ``Loaded … URL``), and a URL is a secret. A thread that captures gets its own
    records (the reason a send failed); every other record is dropped."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        into: list[str] | None = getattr(self.local, "into", None)
        if into is not None and len(into) < 20:
            into.append(record.getMessage())


_capture_lock = threading.Lock()
_capture: _Capture | None = None
#: the HTTP stack under Apprise logs each request line, path and all (``POST /<token>``)
_QUIET_IN_SENDS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "requests_oauthlib",
)


def _not_while_capturing(record: logging.LogRecord) -> bool:
    """Drop the HTTP stack's records in a thread that is sending a push."""
    return _capture is None or getattr(_capture.local, "into", None) is None


@contextmanager
def apprise_log() -> Iterator[list[str]]:
    """Apprise's warnings and errors of this thread while inside (the reason a send failed);
    nothing Apprise logs ever reaches the process's own log."""
    global _capture
    with _capture_lock:
        if _capture is None:
            _capture = _Capture()
            logger = logging.getLogger("apprise")
            logger.addHandler(_capture)
            logger.propagate = False
            for name in _QUIET_IN_SENDS:
                logging.getLogger(name).addFilter(_not_while_capturing)
    capture = _capture
    into: list[str] = []
    before = getattr(capture.local, "into", None)
    capture.local.into = into
    try:
        yield into
    finally:
        capture.local.into = before


def mask_rest(rest: str) -> str:
    """At most four characters of a secret, never more than a third of it, then ``…``."""
    return rest[: min(4, len(rest) // 3)] + "…" if rest else ""


def describe_url(url: str) -> ChannelInfo:
    """The service, mask and host of an Apprise URL; ``UnreadableUrl`` (a ``ValueError``: a
    sentence for the user, without the URL) when Apprise does not understand it."""
    import apprise  # the daemon and server only: kept off the CLI's start-up path

    match = _SCHEME.match(url.strip())
    if match is None:
        raise UnreadableUrl(
            _("is not an Apprise URL: it needs a scheme, like ntfy://ntfy.sh/topic"), None
        )
    scheme = match.group(1).lower()
    with apprise_log():
        plugin: Any = apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)
    if plugin is None or plugin is False:
        raise UnreadableUrl(
            _(
                "is not a URL Apprise can send to ({scheme}://…): see "
                "https://github.com/caronc/apprise/wiki for each service's form",
                scheme=scheme,
            ),
            scheme,
        )
    tokens = getattr(plugin, "template_tokens", {}) or {}
    host = str(getattr(plugin, "host", "") or "") if "host" in tokens else ""
    port = getattr(plugin, "port", None) if host else None
    shown = f"{host}:{port}" if host and port else host
    after = url.strip()[match.end() :]
    if host:
        parts = urlsplit(url.strip())
        after = (parts.path or "").lstrip("/")
        if parts.query:
            after += "?" + parts.query
    rest = mask_rest(after)
    masked = f"{scheme}://{shown}/{rest}" if shown else f"{scheme}://{rest}"
    return ChannelInfo(
        service=str(getattr(plugin, "service_name", "") or scheme),
        masked=masked,
        host=host or None,
        port=int(port) if isinstance(port, int) else None,
    )


def push_text(alert: Mapping[str, Any], language: str = "en") -> tuple[str, str]:
    """The title and body of the push for a fired alert (the stream's ``alert`` data:
    symbol, timeframe, condition, price, message), in ``language`` (the recipient's). The
    title is codes (the symbol, timeframe and condition, as the notification centre shows
    them); the message is the alert's own, already in its owner's language when default."""
    title = f"{alert.get('symbol', '')} {alert.get('timeframe', '')}: {alert.get('condition', '')}"
    title = title.strip()
    message = str(alert.get("message") or "").strip()
    price = alert.get("price")
    if not message:
        return title, _("{title} at {price}", title=title, price=price).into(language)
    if price is not None and str(price) not in message:
        return title, _("{message} (price {price})", message=message, price=price).into(language)
    return title, message


def test_push_text(channel: str, language: str = "en") -> tuple[str, str]:
    """The title and body of ``channels test``'s push, in ``language``."""
    return (
        _("tradealerts: test push").into(language),
        _(
            "This is a test of your channel '{channel}': alerts that name it arrive here.",
            channel=channel,
        ).into(language),
    )


# --- the wire schemas of /api/channels -------------------------------------------------------

from datetime import datetime  # noqa: E402

from pydantic import BaseModel, ConfigDict, Field, StrictBool  # noqa: E402


class ChannelCreate(BaseModel):
    """A new push channel: a name and any Apprise URL (kept encrypted, shown masked)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(pattern=CHANNEL_NAME_PATTERN)
    url: str = Field(min_length=4, max_length=2048, pattern=r"^[^\s]+$")
    #: named by new alerts that name no channels themselves
    default: StrictBool = False


class ChannelPublic(BaseModel):
    """A push channel as its owner sees it: never its URL, only the service and a mask."""

    name: str
    service: str
    masked: str
    default: bool
    created_at: datetime


class ChannelList(BaseModel):
    items: list[ChannelPublic]


class ChannelTested(BaseModel):
    """A test push that arrived at the service."""

    name: str
    sent: bool
    message: str
