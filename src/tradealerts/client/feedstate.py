"""The feed state of a symbol as people read it (issue #29), shared by the CLI, the TUI and
the daemon: ``market closed``, ``data delayed since 14:05``, ``live``.

The server sends ``{symbol, state, since, last_data, next_change, schedule}`` (the stream's
``feed`` event, ``GET /api/feed``); ``since`` and ``next_change`` are UTC and shown on the
person's clock (their timezone preference, else this machine's)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradealerts.client.lang import _, format_datetime, language
from tradealerts.core.i18n import DEFAULT_LANGUAGE

__all__ = ["CLOSED", "DELAYED", "LIVE", "feed_label", "parse_time", "zone_of"]

LIVE, DELAYED, CLOSED = "live", "delayed", "closed"


def parse_time(value: Any) -> datetime | None:
    """An ISO time from the server (``…Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def zone_of(name: str | None) -> tzinfo | None:
    """The IANA zone ``name`` (None or unknown: None, this machine's zone)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _clock(moment: datetime, zone: tzinfo | None, now: datetime | None) -> str:
    local = moment.astimezone(zone) if zone is not None else moment.astimezone()
    today = (now or datetime.now(local.tzinfo)).astimezone(local.tzinfo).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if language() != DEFAULT_LANGUAGE:  # the weekday in the person's language (Babel)
        return format_datetime(local, "EEE HH:mm")
    return f"{local:%a %H:%M}"


def feed_label(
    item: Mapping[str, Any] | None, zone: tzinfo | None = None, now: datetime | None = None
) -> str:
    """``market closed`` (with when it opens), ``data delayed since HH:MM``, ``live``, or ""
    for nothing known. Times on ``zone``'s clock (None: this machine's), with the weekday
    when not today."""
    if not item:
        return ""
    state = item.get("state")
    if state == CLOSED:
        opens = parse_time(item.get("next_change"))
        if opens is None:
            return _("market closed")
        return _("market closed (opens {time})").format(time=_clock(opens, zone, now))
    if state == DELAYED:
        since = parse_time(item.get("since"))
        if since is None:
            return _("data delayed")
        return _("data delayed since {time}").format(time=_clock(since, zone, now))
    if state == LIVE:
        return _("live")
    return str(state or "")
