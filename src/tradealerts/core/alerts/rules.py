"""Trigger-frequency and expiry rules: when an alert may fire, and what firing does to it.

Times are epoch seconds (UTC), the feed's clock, never the wall clock, so a replayed feed
fires the same alerts at the same times.

Windows. ``once_per_bar`` and ``once_per_bar_close`` allow one fire per bar of the alert's
timeframe: the window of a time ``t`` is the bar of the bar clock that holds ``floor(t)``
(``bar_span``), so "once per bar" is once per the broker's bar, like the charts.
``once_per_minute`` allows one fire per **calendar UTC minute** (``floor(t / 60)``), not
"60 s since the last fire": it is simply once per M1 bar, it shares the bar rule, and every
alert of the same kind re-arms at the same instant, which is what lets the matcher re-arm them
from a heap instead of checking each one on every tick. So two fires may be as close as
12:00:59 and 12:01:00, and never twice within 12:00:00–12:00:59.

``once`` has no window: an active ``once`` alert may fire, and firing ends it (status
``triggered``). Resuming a triggered alert arms it again.

Expiry: an alert with ``expires_at`` is live while ``now < expires_at``; at ``now >=
expires_at`` it stops without firing (status ``expired``, reason ``expired``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tradealerts.core.alerts.conditions import AlertStatus, Frequency
from tradealerts.core.timeframes import UTC_CLOCK, BarClock, Timeframe, bar_ends, bar_span

if TYPE_CHECKING:  # numpy only where arrays are asked for: the daemon runs without it
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "REASON_EXPIRED",
    "REASON_LINE_GONE",
    "REASON_TRIGGERED",
    "is_expired",
    "may_fire",
    "rearm_time",
    "rearm_times",
    "status_after_fire",
    "window_start",
]

#: ``status_reason`` values the alert engine sets.
REASON_TRIGGERED = "triggered"
REASON_EXPIRED = "expired"
#: A ``line_id`` alert whose line is no longer active: it can never fire again.
REASON_LINE_GONE = "line_not_active"

_MINUTE = 60


def window_start(
    frequency: Frequency, timeframe: Timeframe, t: float, clock: BarClock = UTC_CLOCK
) -> float | None:
    """Start of the frequency window that contains ``t``; None for ``once`` (no window)."""
    span = _window(frequency, timeframe, t, clock)
    return None if span is None else float(span[0])


def _window(
    frequency: Frequency, timeframe: Timeframe, t: float, clock: BarClock
) -> tuple[int, int] | None:
    if frequency == Frequency.once:
        return None
    whole = math.floor(t)
    if frequency == Frequency.once_per_minute:
        start = _minute_open(whole)
        return start, start + _MINUTE
    return bar_span(timeframe, whole, clock)


def _minute_open(whole: Any) -> Any:
    """The calendar UTC minute's start of a whole epoch second (an int or an int array)."""
    return whole - whole % _MINUTE


def may_fire(
    frequency: Frequency,
    timeframe: Timeframe,
    last_fired_at: float | None,
    now: float,
    clock: BarClock = UTC_CLOCK,
) -> bool:
    """Whether an active alert that last fired at ``last_fired_at`` may fire at ``now``.

    True when it never fired, or when ``now`` lies in a later window than the last fire.
    A clock that steps back never re-arms an alert.
    """
    if frequency == Frequency.once or last_fired_at is None:
        return True
    span = _window(frequency, timeframe, last_fired_at, clock)
    if span is None:  # only ``once`` has no window
        return True
    # Windows tile time (each ends where the next opens, on every clock), so ``now`` lies
    # in a later window exactly when it is at or past the end of the last fire's (one
    # window to find, not two; the same instant ``rearm_time`` gives). A clock that steps
    # back stays before it.
    return now >= span[1]


def rearm_time(
    frequency: Frequency, timeframe: Timeframe, last_fired_at: float, clock: BarClock = UTC_CLOCK
) -> float | None:
    """The first time an alert that fired at ``last_fired_at`` may fire again (None: never):
    the end of its window (a bar of the clock can be shorter or longer around a switch)."""
    span = _window(frequency, timeframe, last_fired_at, clock)
    return None if span is None else float(span[1])


def rearm_times(
    frequency: Frequency,
    timeframe: Timeframe,
    fired_at: NDArray[np.float64],
    clock: BarClock = UTC_CLOCK,
) -> NDArray[np.float64]:
    """``rearm_time`` of every time of ``fired_at`` at once (inf for ``once``, which never
    fires again): a backtest's thousands of fires."""
    import numpy as np

    if frequency == Frequency.once:
        return np.full(fired_at.shape, np.inf)
    whole = np.floor(fired_at).astype(np.int64)
    if frequency == Frequency.once_per_minute:
        opens: NDArray[np.int64] = _minute_open(whole)
        return (opens + _MINUTE).astype(np.float64)
    return bar_ends(timeframe, whole, clock).astype(np.float64)


def is_expired(expires_at: float | None, now: float) -> bool:
    """True once ``now`` reaches the expiry (the expiry instant itself is already expired)."""
    return expires_at is not None and now >= expires_at


def status_after_fire(frequency: Frequency) -> AlertStatus:
    """``once`` alerts are done after one fire; the others stay active."""
    return AlertStatus.triggered if frequency == Frequency.once else AlertStatus.active
