"""The owner's maintenance notices on the client side (issue #29), shared by the CLI, the TUI
and the daemon: how a notice reads, how long a ``reconnect`` inside a maintenance window makes
a client wait, and which notices the CLI has already shown.

A notice (the stream's ``notice`` data, ``GET /api/notices``) is
``{id, message, at, duration, until, created_at, cancelled}``: ``at``/``until`` (ISO 8601
UTC) bound the maintenance window, both None for a plain announcement.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from tradealerts.client.feedstate import parse_time
from tradealerts.client.lang import _, language
from tradealerts.core.i18n import DEFAULT_LANGUAGE

__all__ = [
    "MAINTENANCE_WAIT_CAP",
    "SeenNotices",
    "describe",
    "maintenance_wait",
    "window",
]

#: a client waits what the server's ``retry:`` says, but never longer than this (seconds):
#: an owner's typo ("--duration 7d") must not silence a daemon for a week
MAINTENANCE_WAIT_CAP = 3600.0


def window(data: dict[str, Any], zone: tzinfo | None = None) -> str:
    """``Mon 07 Dec 22:00–22:30`` in ``zone`` (default: this machine's), or ``""`` for a
    notice without a window."""
    start, end = parse_time(data.get("at")), parse_time(data.get("until"))
    if start is None or end is None:
        return ""
    a, b = start.astimezone(zone), end.astimezone(zone)
    if language() != DEFAULT_LANGUAGE:  # weekday and month in the person's language (Babel)
        head = _day_and_time(a)
        tail = f"{b:%H:%M}" if a.date() == b.date() else _day_and_time(b)
        return f"{head}–{tail} {a:%Z}".strip()
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%a %d %b %H:%M}"
    return f"{a:%a %d %b %H:%M}–{tail} {a:%Z}".strip()


def _day_and_time(moment: datetime) -> str:
    """``Mo., 7. Dez. 22:00``, ``12月7日(月) 22:00``: the locale's weekday, day and month."""
    from babel.dates import format_skeleton

    return f"{format_skeleton('MMMEd', moment, locale=language())} {moment:%H:%M}"


def describe(data: dict[str, Any], zone: tzinfo | None = None) -> tuple[str, str]:
    """(title, body) of a notice: what a banner, a desktop notification or a CLI line says."""
    message = str(data.get("message") or "")
    when = window(data, zone)
    if data.get("cancelled"):
        title = _("Maintenance cancelled") if when else _("Notice withdrawn")
        return title, f"{when}: {message}" if when else message
    if when:
        return _("Maintenance {window}").format(window=when), message
    return _("Notice from the server"), message


def maintenance_wait(
    retry_ms: int | None, data: Any, cap: float = MAINTENANCE_WAIT_CAP
) -> float | None:
    """Seconds to wait after a ``reconnect`` frame: its ``retry:`` (or ``retry_ms``) when the
    server said it stops for maintenance, at most ``cap``; None for an ordinary restart
    (the usual back-off applies)."""
    ms = retry_ms
    if ms is None and isinstance(data, dict) and isinstance(data.get("retry_ms"), int):
        ms = data["retry_ms"]
    if ms is None or ms <= 0:
        return None
    return min(ms / 1000.0, cap)


class SeenNotices:
    """The notice ids this client has shown, per server, in a small JSON file: the CLI says
    each notice once, on the first command after the server announced it."""

    def __init__(self, path: Path, server: str) -> None:
        self.path, self.server = path, server

    def _all(self) -> dict[str, list[int]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def unseen(self, ids: frozenset[int]) -> set[int]:
        return set(ids) - set(self._all().get(self.server, []))

    def remember(self, shown: set[int], current: frozenset[int]) -> None:
        """Add ``shown``; forget ids that are no longer current (the file stays small)."""
        data = self._all()
        data[self.server] = sorted((set(data.get(self.server, [])) & set(current)) | shown)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home: the line comes again next time, nothing worse
