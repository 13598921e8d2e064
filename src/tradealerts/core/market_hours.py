"""Market hours: when a symbol's market is open, so a quiet closed market is not an outage.

Pure (no I/O beyond the time-zone database) and mypy-strict. A :class:`Schedule` is a weekly
window (opens on one weekday and time, closes on another) with optional daily breaks, all in
one time zone's local time. Defaults come from the symbol's asset class; the owner overrides
them per symbol with the ``market_hours`` setting, in the spec format :func:`parse_schedule`
reads::

    "24/7"                                              always open (crypto)
    "Sun 17:00 - Fri 17:00 America/New_York"            a weekly window, New York time
    "Sun 18:00 - Fri 17:00 America/New_York, break 17:00-18:00"   ... with a daily break
    "Sun 22:00 - Fri 21:00 UTC"                         the zone is UTC when left out
    "forex" | "metal" | "index" | "crypto"              an asset class's default

**Daylight saving.** The defaults follow New York time, as the market does: the forex week
and the metals' and US indices' daily breaks are set by New York's 17:00 close (the
convention of MT5 brokers, the same as the ``America/New_York@17:00`` bar clock). So the forex
week runs Sunday 22:00 → Friday 22:00 UTC in northern winter and 21:00 → 21:00 UTC in summer;
gold's daily break is 22:00–23:00 UTC in winter and 21:00–22:00 UTC in summer. An owner whose
broker keeps fixed UTC hours writes them with ``UTC``.

A time exactly on an edge belongs to what starts there (open at the open, closed at the
close, closed at a break's start, open at its end).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_SPECS",
    "AssetClass",
    "MarketHoursError",
    "Schedule",
    "asset_class",
    "is_open",
    "last_change",
    "next_change",
    "parse_schedule",
    "schedule_for",
]

_DAY = 86_400
_WEEK = 7 * _DAY
_TICK = timedelta(seconds=1)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class MarketHoursError(ValueError):
    """A market-hours spec that cannot be read; the message says what is wrong."""


class AssetClass(StrEnum):
    """The kinds of symbol whose markets keep different hours."""

    FOREX = "forex"
    METAL = "metal"
    INDEX = "index"
    CRYPTO = "crypto"


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a market is open: always, or weekly from ``opens`` to ``closes`` (seconds from
    Monday 00:00 local time in ``zone``) less the daily ``breaks`` (seconds from local
    midnight, ``(start, end)``; a break may cross midnight)."""

    always: bool = False
    zone: str = "UTC"
    opens: int = 0
    closes: int = 0
    breaks: tuple[tuple[int, int], ...] = ()
    #: the spec this was read from, for display (``tradealerts status``, the owner guide)
    text: str = ""

    def is_open(self, at: datetime) -> bool:
        """True when the market is open at ``at`` (an aware datetime)."""
        if self.always:
            return True
        local = _aware(at).astimezone(_zone(self.zone))
        of_day = local.hour * 3600 + local.minute * 60 + local.second
        of_week = local.weekday() * _DAY + of_day
        length = (self.closes - self.opens) % _WEEK or _WEEK
        if (of_week - self.opens) % _WEEK >= length:
            return False
        return not any((of_day - s) % _DAY < (e - s) % _DAY for s, e in self.breaks)

    def next_change(self, at: datetime) -> datetime | None:
        """The first instant after ``at`` at which :meth:`is_open` turns (UTC); None for a
        market that never closes."""
        if self.always:
            return None
        at = _aware(at).astimezone(UTC)
        now = self.is_open(at)
        for edge in self._edges(at):
            if edge > at and self.is_open(edge) != now:
                return edge
        return None  # pragma: no cover - a weekly schedule always turns within a week

    def last_change(self, at: datetime) -> datetime | None:
        """The latest instant at or before ``at`` at which :meth:`is_open` turned to what it
        is at ``at`` (UTC): when a closed market closed, when an open one opened; None for a
        market that never closes."""
        if self.always:
            return None
        at = _aware(at).astimezone(UTC)
        now = self.is_open(at)
        for edge in reversed(self._edges(at)):
            if edge <= at and self.is_open(edge) == now and self.is_open(edge - _TICK) != now:
                return edge
        return None  # pragma: no cover - a weekly schedule always turns within a week

    def _edges(self, at: datetime) -> list[datetime]:
        """Every local edge (open, close, breaks) from a week before ``at``'s week to a week
        after it, in UTC, sorted."""
        zone = _zone(self.zone)
        local = at.astimezone(zone)
        monday = (local - timedelta(days=local.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0, tzinfo=None
        )
        edges: set[datetime] = set()
        for week in (-1, 0, 1):
            base = monday + timedelta(weeks=week)
            for sec in (self.opens, self.closes):
                edges.add(base + timedelta(seconds=sec))
            for day in range(7):
                for s, e in self.breaks:
                    edges.add(base + timedelta(days=day, seconds=s))
                    edges.add(base + timedelta(days=day, seconds=e))
        # local edges → UTC; an edge in a skipped hour lands on the switch (fold=0's reading)
        return sorted(e.replace(tzinfo=zone).astimezone(UTC) for e in edges)

    def __str__(self) -> str:
        return self.text or ("24/7" if self.always else _format(self))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("market hours need an aware datetime (UTC), not a naive one")
    return at


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _format(s: Schedule) -> str:
    def at(sec: int) -> str:
        day, rest = divmod(sec, _DAY)
        return f"{_WEEKDAYS[day].title()} {_hhmm(rest)}"

    text = f"{at(s.opens)} - {at(s.closes)} {s.zone}"
    for b0, b1 in s.breaks:
        text += f", break {_hhmm(b0)}-{_hhmm(b1)}"
    return text


def _hhmm(sec: int) -> str:
    return f"{sec // 3600:02d}:{sec % 3600 // 60:02d}"


#: The default spec of each asset class (see the module's docstring for the format).
DEFAULT_SPECS: dict[AssetClass, str] = {
    # the interbank week: Sydney opens Sunday 17:00 New York, New York closes Friday 17:00
    AssetClass.FOREX: "Sun 17:00 - Fri 17:00 America/New_York",
    # spot metals and US index CFDs follow CME Globex: an hour's break after New York's close
    AssetClass.METAL: "Sun 18:00 - Fri 17:00 America/New_York, break 17:00-18:00",
    AssetClass.INDEX: "Sun 18:00 - Fri 17:00 America/New_York, break 17:00-18:00",
    AssetClass.CRYPTO: "24/7",
}

_CRYPTO = ("BTC", "ETH", "LTC", "XRP", "SOL", "ADA", "DOGE", "BCH", "DOT", "BNB")
_METALS = ("XAU", "XAG", "XPT", "XPD")


def asset_class(symbol: str) -> AssetClass:
    """The asset class of a symbol, from its name: crypto (``BTCUSD``), metal (``XAUUSD``),
    index (a name with digits: ``US30``, ``NDX100``), else forex (a pair's six letters, and
    the safest guess for a name we do not know: a 24/5 market)."""
    s = symbol.upper()
    if s.startswith(_CRYPTO):
        return AssetClass.CRYPTO
    if s.startswith(_METALS):
        return AssetClass.METAL
    if any(c.isdigit() for c in s):
        return AssetClass.INDEX
    return AssetClass.FOREX


_TIME = r"(\d{1,2}):(\d{2})"
_WINDOW = re.compile(
    rf"^(?P<d0>[a-z]{{3}})[a-z]*\s+{_TIME}\s*-\s*(?P<d1>[a-z]{{3}})[a-z]*\s+{_TIME}"
    r"(?:\s+(?P<zone>\S+))?$",
    re.IGNORECASE,
)
_BREAK = re.compile(rf"^break\s+{_TIME}\s*-\s*{_TIME}$", re.IGNORECASE)


def _seconds(hh: str, mm: str, spec: str) -> int:
    h, m = int(hh), int(mm)
    if h > 24 or m > 59 or (h == 24 and m):
        raise MarketHoursError(f"{spec!r}: {hh}:{mm} is not a time of day")
    return h * 3600 + m * 60


def _weekday(name: str, spec: str) -> int:
    try:
        return _WEEKDAYS.index(name.lower())
    except ValueError:
        raise MarketHoursError(f"{spec!r}: {name!r} is not a weekday (Mon … Sun)") from None


@lru_cache(maxsize=256)
def parse_schedule(spec: str) -> Schedule:
    """Read a spec (see the module's docstring); :class:`MarketHoursError` says what is
    wrong with a bad one."""
    text = spec.strip()
    low = text.lower()
    if low in ("24/7", "always"):
        return Schedule(always=True, text="24/7")
    if low in {c.value for c in AssetClass}:
        return parse_schedule(DEFAULT_SPECS[AssetClass(low)])
    parts = [p.strip() for p in text.split(",")]
    m = _WINDOW.match(parts[0])
    if m is None:
        raise MarketHoursError(
            f"{spec!r}: expected '24/7', an asset class (forex, metal, index, crypto) or "
            "'Sun 17:00 - Fri 17:00 [ZONE][, break HH:MM-HH:MM]'"
        )
    d0, h0, m0, d1, h1, m1, zone = m.groups()
    zone = zone or "UTC"
    try:
        _zone(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MarketHoursError(f"{spec!r}: unknown time zone {zone!r}") from None
    opens = _weekday(d0, spec) * _DAY + _seconds(h0, m0, spec)
    closes = _weekday(d1, spec) * _DAY + _seconds(h1, m1, spec)
    breaks: list[tuple[int, int]] = []
    for part in parts[1:]:
        b = _BREAK.match(part)
        if b is None:
            raise MarketHoursError(f"{spec!r}: {part!r} is not 'break HH:MM-HH:MM'")
        start, end = _seconds(b[1], b[2], spec) % _DAY, _seconds(b[3], b[4], spec) % _DAY
        if start == end:
            raise MarketHoursError(f"{spec!r}: the break {part!r} has no length")
        breaks.append((start, end))
    return Schedule(
        zone=zone, opens=opens % _WEEK, closes=closes % _WEEK, breaks=tuple(breaks), text=text
    )


def schedule_for(symbol: str, overrides: Mapping[str, str | Schedule] | None = None) -> Schedule:
    """The schedule of ``symbol``: the owner's override (a spec or a :class:`Schedule`,
    keyed by the product's symbol name, case-insensitive), else its asset class's default."""
    if overrides:
        found = overrides.get(symbol)
        if found is None:
            found = next((v for k, v in overrides.items() if k.upper() == symbol.upper()), None)
        if found is not None:
            return found if isinstance(found, Schedule) else parse_schedule(found)
    return parse_schedule(DEFAULT_SPECS[asset_class(symbol)])


def is_open(
    symbol: str, at: datetime, overrides: Mapping[str, str | Schedule] | None = None
) -> bool:
    """True when ``symbol``'s market is open at ``at`` (an aware datetime)."""
    return schedule_for(symbol, overrides).is_open(at)


def next_change(
    symbol: str, at: datetime, overrides: Mapping[str, str | Schedule] | None = None
) -> datetime | None:
    """When ``symbol``'s market next opens or closes after ``at`` (UTC); None for 24/7."""
    return schedule_for(symbol, overrides).next_change(at)


def last_change(
    symbol: str, at: datetime, overrides: Mapping[str, str | Schedule] | None = None
) -> datetime | None:
    """When ``symbol``'s market last opened or closed, at or before ``at`` (UTC); None for
    24/7."""
    return schedule_for(symbol, overrides).last_change(at)
