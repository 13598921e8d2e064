"""The nine chart timeframes (names, lengths, MT5 constants) and the bar clock: where bars
open (``bar_span``: the bar that holds a time, on UTC, a fixed offset or a broker's clock)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradealerts.core.messages import _

if TYPE_CHECKING:  # numpy only where arrays are asked for: the daemon runs without it
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "BROKER_CLOCKS",
    "UTC_CLOCK",
    "BarClock",
    "BarClockError",
    "Timeframe",
    "TimeframeError",
    "bar_ends",
    "bar_open",
    "bar_span",
    "grid_text",
    "known_switch",
    "on_grid",
    "parse_bar_clock",
    "parse_timeframe",
]


class TimeframeError(ValueError):
    """A timeframe name that is not one of the nine we serve."""


class Timeframe(StrEnum):
    """A bar length. The value is the canonical name (``"H1"``)."""

    M5 = "M5"
    M15 = "M15"
    M30 = "M30"
    H1 = "H1"
    H2 = "H2"
    H4 = "H4"
    H8 = "H8"
    H12 = "H12"
    D1 = "D1"

    @property
    def seconds(self) -> int:
        """Length of one bar in seconds."""
        return _SECONDS[self]

    @property
    def mt5(self) -> int:
        """The ``MetaTrader5.TIMEFRAME_*`` constant for this timeframe."""
        return _MT5[self]

    def bar_open(self, t: int, clock: BarClock | None = None) -> int:
        """Open time (epoch seconds, UTC) of the bar containing ``t`` on ``clock`` (UTC when
        None: every timeframe here divides a day, so H2…D1 then open on 00:00 UTC)."""
        if clock is None:
            return t - (t % self.seconds)
        return bar_span(self, t, clock)[0]

    def is_multiple_of(self, other: Timeframe) -> bool:
        """True when whole bars of ``other`` build bars of ``self`` (``H4`` of ``H1``)."""
        return self.seconds >= other.seconds and self.seconds % other.seconds == 0

    def __str__(self) -> str:
        return self.value


_SECONDS: dict[Timeframe, int] = {
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.M30: 1800,
    Timeframe.H1: 3600,
    Timeframe.H2: 7200,
    Timeframe.H4: 14400,
    Timeframe.H8: 28800,
    Timeframe.H12: 43200,
    Timeframe.D1: 86400,
}

# Values of MetaTrader5.TIMEFRAME_*; hour frames carry the 0x4000 flag, D1 is 0x4018.
_MT5: dict[Timeframe, int] = {
    Timeframe.M5: 5,
    Timeframe.M15: 15,
    Timeframe.M30: 30,
    Timeframe.H1: 16385,
    Timeframe.H2: 16386,
    Timeframe.H4: 16388,
    Timeframe.H8: 16392,
    Timeframe.H12: 16396,
    Timeframe.D1: 16408,
}

VALID_NAMES = ", ".join(tf.value for tf in Timeframe)


def parse_timeframe(name: str | Timeframe) -> Timeframe:
    """Parse ``h1``/``H1`` into a Timeframe; anything else names the valid choices."""
    if isinstance(name, Timeframe):
        return name
    key = name.strip().upper() if isinstance(name, str) else ""
    try:
        return Timeframe(key)
    except ValueError:
        raise TimeframeError(
            _(
                "Unknown timeframe {name!r}: use one of {names}.",
                name=name,
                names=VALID_NAMES,
            )
        ) from None


# -- the bar clock ---------------------------------------------------------------------------
#
# Where H2…D1 bars open. MT5 builds every bar on its *server* clock (the broker's time), so a
# UTC+2 broker's D1 bar opens at 22:00 UTC and its H4 bars at 22:00, 02:00, 06:00… UTC. A clock
# gives the offset (seconds ahead of UTC) in force at each UTC instant; a bar is a whole
# multiple of its length on the clock's local time line, converted back to UTC. Around a
# daylight-saving switch that makes a bar shorter or longer in UTC (a D1 bar of 23 or 25 h),
# exactly as the terminal's bars are.

_DAY = 86_400
_HOUR = 3_600
#: time zones run from UTC-12 to UTC+14
_MAX_OFFSET = 14 * _HOUR
#: the longest a bar can reach past its length in UTC (an hour repeated at a switch)
_SLACK = 2 * _HOUR


class BarClockError(ValueError):
    """A bar-clock setting that names no clock; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class BarClock:
    """Where bars open: UTC, a fixed offset, an IANA zone with a day start, or the offsets a
    terminal was seen to use (``changes``). Immutable and hashable; build it with
    ``parse_bar_clock`` or ``BarClock.learned``."""

    #: the setting's text (``UTC``, ``UTC+2``, ``America/New_York@17:00``, ``auto``)
    name: str = "UTC"
    #: fixed clocks: seconds ahead of UTC; learned clocks: the offset before the first change
    offset: int = 0
    #: an IANA zone whose local time, moved by ``shift``, is the clock
    zone: str | None = None
    #: seconds added to the zone's local time so that the day start falls on 00:00
    #: (``@17:00`` → +7 h: the New-York-close convention, New York + 7 h)
    shift: int = 0
    #: learned: (UTC instant, offset from then on), in time order
    changes: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def learned(name: str, offset: int, changes: Iterable[tuple[int, int]] = ()) -> BarClock:
        """A clock from the offsets a terminal used: ``offset`` until the first change."""
        return BarClock(name=name, offset=int(offset), changes=tuple(sorted(changes)))

    @property
    def is_utc(self) -> bool:
        return self.zone is None and not self.changes and self.offset == 0

    @property
    def is_fixed(self) -> bool:
        """One offset for all time (no zone, no change)."""
        return self.zone is None and not self.changes

    def offset_at(self, t: int) -> int:
        """Seconds the clock is ahead of UTC at the UTC instant ``t``."""
        if self.zone is not None:
            return _zone_offset(self.zone, t) + self.shift
        if self.changes:
            i = bisect_right(self.changes, (t, _MAX_OFFSET + 1))
            return self.offset if i == 0 else self.changes[i - 1][1]
        return self.offset

    def _whole_hours(self) -> bool:
        """Every offset this clock can take is a whole number of hours (M5…H1 then sit on the
        UTC grid, whatever the offset)."""
        if self.zone is not None:
            return _zone_whole_hours(self.zone) and self.shift % _HOUR == 0
        return self.offset % _HOUR == 0 and all(o % _HOUR == 0 for _, o in self.changes)

    def utc_grid(self, tf: Timeframe) -> bool:
        """True when ``tf``'s bars of this clock are the UTC grid's (the cheap path)."""
        return self.is_utc or (tf.seconds <= _HOUR and self._whole_hours())

    def to_utc(self, local: int) -> int:
        """The UTC instant of a local (clock) time, as a terminal stamps it: in an hour that a
        switch repeats, its first occurrence; in an hour a switch skips, the switch itself."""
        return _first_at_or_after(self, local, local - self.offset_at(local))

    def __str__(self) -> str:
        return self.name


UTC_CLOCK = BarClock()


def bar_span(tf: Timeframe, t: int, clock: BarClock = UTC_CLOCK) -> tuple[int, int]:
    """(open, end), UTC epoch seconds, of the ``tf`` bar of ``clock`` that holds the UTC
    instant ``t``: the one function every part uses for "the bar that contains t".

    ``end`` is the next bar's open. On a fixed clock every bar is ``tf.seconds`` long; on a
    clock with daylight saving the bars that hold a switch are shorter or longer in UTC.
    """
    length = tf.seconds
    # is_utc first: three attribute reads, where the cache hashes the whole clock
    if clock.is_utc or _on_utc_grid(clock, tf):
        start = t - t % length
        return start, start + length
    if clock.is_fixed:
        start = _fixed_open(t, length, clock.offset)
        return start, start + length
    if clock.zone is not None and length % _SLOT == 0:
        return _zone_span(tf, t // _SLOT, clock)
    return _span(tf, t, clock)


def bar_ends(tf: Timeframe, t: NDArray[np.int64], clock: BarClock = UTC_CLOCK) -> NDArray[np.int64]:
    """``bar_span(tf, t, clock)[1]`` of every instant of ``t`` at once (a backtest's
    thousands of fires): arithmetic on a fixed clock, ``bar_span`` once per distinct bar on
    a clock with switches."""
    length = tf.seconds
    if clock.is_utc or _on_utc_grid(clock, tf) or clock.is_fixed:
        offset = clock.offset if clock.is_fixed and not _on_utc_grid(clock, tf) else 0
        opens: NDArray[np.int64] = _fixed_open(t, length, offset)
        return opens + length
    import numpy as np

    # one bar_span per quarter hour where edges are whole quarter hours (bar_span's own
    # shortcut), else per distinct instant
    step = _SLOT if clock.zone is not None and length % _SLOT == 0 else 1
    unique, where = np.unique(t // step, return_inverse=True)
    ends = np.array([bar_span(tf, int(s) * step, clock)[1] for s in unique], np.int64)
    return ends[where.reshape(t.shape)]


def _fixed_open(t: Any, length: int, offset: int) -> Any:
    """The open of the bar holding ``t`` (an int or an int array) on a fixed clock."""
    return t - (t + offset) % length


@lru_cache(maxsize=1024)
def _on_utc_grid(clock: BarClock, tf: Timeframe) -> bool:
    return clock.utc_grid(tf)


@lru_cache(maxsize=4096)
def _zone_span(tf: Timeframe, slot: int, clock: BarClock) -> tuple[int, int]:
    """A zone clock's bars per quarter hour: its bar edges are whole quarter hours (its
    offsets and switches are), so one slot lies inside one bar."""
    return _span(tf, slot * _SLOT, clock)


def _span(tf: Timeframe, t: int, clock: BarClock) -> tuple[int, int]:
    length = tf.seconds
    local = t + clock.offset_at(t)
    lopen = local - local % length
    return _first_at_or_after(clock, lopen, t - length - _SLACK), _first_at_or_after(
        clock, lopen + length, t + 1
    )


def _first_at_or_after(clock: BarClock, local: int, near: int) -> int:
    """The first UTC instant whose local time is ``local`` (or, in a skipped stretch, the
    switch that skipped it), searching the offsets in force around ``near``. A bar's edge
    ``local`` is reached once, twice (a repeated hour: the first time counts, as MT5 stamps
    it) or never (a skipped hour: the bar edge is the switch)."""
    offsets = {clock.offset_at(near + d) for d in (-_DAY, 0, _DAY, 2 * _DAY)}
    valid = sorted(u for u in (local - o for o in offsets) if clock.offset_at(u) == local - u)
    if valid:
        return valid[0]
    # skipped: local time jumps over ``local``; the bar edge is the instant of that jump
    lo, hi = min(local - o for o in offsets), max(local - o for o in offsets)
    before = clock.offset_at(lo)
    while hi - lo > 1:  # offset_at(lo) == before != offset_at(hi)
        mid = (lo + hi) // 2
        if clock.offset_at(mid) == before:
            lo = mid
        else:
            hi = mid
    return hi


#: the daylight-saving clocks MT5 brokers run their servers on: a terminal whose offset moved
#: while its market was closed is matched against them to tell when the switch happened
BROKER_CLOCKS: tuple[str, ...] = (
    "America/New_York@17:00",  # New York close: UTC+2/+3 on US dates (most forex brokers)
    "Europe/Athens",  # EET: UTC+2/+3 on EU dates
    "Europe/Berlin",  # CET: UTC+1/+2
    "Europe/London",  # UTC+0/+1
    "Australia/Sydney",
)


def known_switch(after: int, before: int, old: int, new: int) -> int | None:
    """The instant in ``(after, before]`` at which a broker's clock that read ``old`` at
    ``after`` and ``new`` at ``before`` switched, when the known broker clocks that fit agree
    on it (the terminal's quotes cannot say: its market was closed); None otherwise."""
    found = set()
    for text in BROKER_CLOCKS:
        clock = parse_bar_clock(text)
        if clock.offset_at(after) != old or clock.offset_at(before) != new:
            continue
        lo, hi = after, before  # offset_at(lo) == old, offset_at(hi) == new
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if clock.offset_at(mid) == old:
                lo = mid
            else:
                hi = mid
        found.add(hi)
    return found.pop() if len(found) == 1 else None


def bar_open(tf: Timeframe, t: int, clock: BarClock = UTC_CLOCK) -> int:
    """Open time (UTC epoch seconds) of the ``tf`` bar of ``clock`` holding ``t``."""
    return bar_span(tf, t, clock)[0]


def on_grid(tf: Timeframe, t: int, clock: BarClock = UTC_CLOCK) -> bool:
    """True when ``t`` is the open time of a ``tf`` bar of ``clock``."""
    return bar_span(tf, t, clock)[0] == t


def grid_text(tf: Timeframe, clock: BarClock) -> str:
    """How a person reads ``tf``'s grid on ``clock`` (for refusals): "H4 bars open every 4 h
    from 00:00 on the UTC+2 clock (22:00 UTC)"."""
    hours = tf.seconds // _HOUR
    every = "1 day" if tf.seconds == _DAY else f"{hours} h" if hours else f"{tf.seconds // 60} min"
    if clock.utc_grid(tf):
        return f"{tf.value} bars open every {every} from 00:00 UTC"
    return f"{tf.value} bars open every {every} from 00:00 on the bar clock {clock.name}"


def parse_bar_clock(text: str, *, allow_auto: bool = False) -> BarClock:
    """``UTC``, ``UTC+2``/``UTC-5``/``UTC+5:30``, ``Area/City`` or ``Area/City@HH:MM`` (the
    day start: ``America/New_York@17:00`` is the New-York-close convention of most MT5
    brokers), or (``allow_auto``) ``auto``: the terminal's own bars decide."""
    s = text.strip()
    if s.lower() == "auto":
        if not allow_auto:
            raise BarClockError(
                "bar clock 'auto' needs the MT5 feed (the terminal's bars decide): set "
                "UTC, UTC+2 or America/New_York@17:00 for this feed"
            )
        return BarClock(name="auto")
    m = _FIXED.fullmatch(s)
    if m:
        hours, minutes = int(m["h"] or 0), int(m["m"] or 0)
        off = (hours * _HOUR + minutes * 60) * (-1 if m["sign"] == "-" else 1)
        if minutes >= 60 or not -12 * _HOUR <= off <= _MAX_OFFSET or (m["sign"] and m["h"] is None):
            raise BarClockError(_bad(s, "an offset from UTC-12 to UTC+14"))
        return BarClock(name=_fixed_name(off), offset=off)
    zone, at, start = s.partition("@")
    day_start = 0
    if at:
        mm = _HHMM.fullmatch(start.strip())
        if mm is None or int(mm["h"]) > 23 or int(mm["m"]) > 59:
            raise BarClockError(_bad(s, "a day start like @17:00 (HH:MM)"))
        day_start = int(mm["h"]) * _HOUR + int(mm["m"]) * 60
    zone = zone.strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BarClockError(_bad(s, f"a time zone name ({zone!r} is none)")) from None
    shift = -day_start if day_start <= 12 * _HOUR else _DAY - day_start
    name = f"{zone}@{day_start // _HOUR:02d}:{day_start % _HOUR // 60:02d}"
    return BarClock(name=name, zone=zone, shift=shift)


_FIXED = re.compile(r"(?i)(?:UTC|GMT)(?:(?P<sign>[+-])(?P<h>\d{1,2})?(?::?(?P<m>\d{2}))?)?")
_HHMM = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})")


def _fixed_name(off: int) -> str:
    if off == 0:
        return "UTC"
    sign = "+" if off > 0 else "-"
    h, m = divmod(abs(off) // 60, 60)
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")


def _bad(text: str, what: str) -> str:
    return (
        f"bar clock {text!r} is not valid: expected {what}. Use UTC, a fixed offset (UTC+2, "
        "UTC-5) or a time zone with the day start (America/New_York@17:00)"
    )


@lru_cache(maxsize=65_536)
def _zone_offset_slot(zone: str, slot: int) -> int:
    off = datetime.fromtimestamp(slot * _SLOT, ZoneInfo(zone)).utcoffset()
    return 0 if off is None else int(off.total_seconds())


#: zone offsets are read per quarter hour (every transition since 1970 falls on one)
_SLOT = 900


def _zone_offset(zone: str, t: int) -> int:
    return _zone_offset_slot(zone, t // _SLOT)


@lru_cache(maxsize=64)
def _zone_whole_hours(zone: str) -> bool:
    """True when the zone's offsets are whole hours (sampled over two recent years)."""
    start = 1_735_689_600  # 2025-01-01
    return all(_zone_offset(zone, start + k * 7 * _DAY) % _HOUR == 0 for k in range(105))
