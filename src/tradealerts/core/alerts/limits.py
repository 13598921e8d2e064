"""Cooldown, maximum fires, the flood guard and alert health: numbers and small pure rules.

The exact rules are in docs/alerts-semantics.md ("Cooldown, maximum fires, flood guard");
the matcher applies them on candidate fires only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = [
    "CHATTY_PER_DAY",
    "DORMANT_DAYS",
    "FLOOD_FIRES",
    "FLOOD_SECONDS",
    "MAX_CONFIRM_BARS",
    "MAX_COOLDOWN",
    "MAX_FIRES",
    "REASON_FLOOD",
    "REASON_MAX_FIRES",
    "DurationError",
    "format_duration",
    "health_flags",
    "parse_duration",
    "parse_when",
]

#: The flood guard: an alert that would fire more than ``FLOOD_FIRES`` times within
#: ``FLOOD_SECONDS`` is paused instead (TradingView's rule for script alerts).
FLOOD_FIRES = 15
FLOOD_SECONDS = 180.0
#: ``status_reason`` of an alert the flood guard paused, and of one that reached max_fires.
REASON_FLOOD = "flood"
REASON_MAX_FIRES = "max_fires"
#: Bounds of the options.
MAX_COOLDOWN = 30 * 86400
MAX_FIRES = 1_000_000
MAX_CONFIRM_BARS = 50
#: Health: no fire for this many days (in an alert at least that old) is dormant; more than
#: this many fires in the last 24 hours is chatty.
DORMANT_DAYS = 30
CHATTY_PER_DAY = 10

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)


class DurationError(ValueError):
    """A duration that is not a whole number of seconds or like ``30m``, ``2h``, ``1d``."""


def parse_duration(value: str | int) -> int:
    """Seconds in ``value``: an int, or text like ``45``, ``45s``, ``30m``, ``2h``, ``1d``,
    ``1w``."""
    if isinstance(value, bool):
        raise DurationError("must be a duration like 30m, 2h or 1d")
    if isinstance(value, int):
        return value
    match = _DURATION.match(value)
    if match is None:
        raise DurationError(f"must be a duration like 30m, 2h or 1d, got {value!r}")
    return int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]


_WHEN = re.compile(r"^(\d+)\s*([mhdw])$")
_SPANS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime, *, ago: bool = False) -> datetime | None:
    """``30m``, ``12h``, ``7d``, ``2w`` after ``now`` (``ago``: before it), or an ISO
    date/time (UTC when it names no zone): an alert's expiry as people type it (the CLI, the
    TUI), or a bound of its history. None when ``text`` is neither, or out of any calendar."""
    m = _WHEN.match(text.strip().lower())
    try:
        if m:
            span = timedelta(**{_SPANS[m.group(2)]: int(m.group(1))})
            return now - span if ago else now + span
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def format_duration(seconds: int) -> str:
    """The shortest exact spelling: ``1800`` → ``30m``, ``90`` → ``90s``."""
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def health_flags(
    fires_24h: int,
    last_fired_at: datetime | None,
    created_at: datetime,
    now: datetime,
) -> tuple[bool, bool]:
    """(dormant, chatty): dormant = no fire in ``DORMANT_DAYS`` days, for an alert at least
    that old (a new alert is not dormant yet); chatty = more than ``CHATTY_PER_DAY`` fires in
    the last 24 hours."""
    window = timedelta(days=DORMANT_DAYS)
    quiet = last_fired_at is None or now - last_fired_at >= window
    dormant = quiet and now - created_at >= window
    return dormant, fires_24h > CHATTY_PER_DAY
