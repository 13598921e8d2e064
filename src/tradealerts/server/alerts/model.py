"""What the matcher takes (``Alert``) and gives back (``Fired``, ``StatusChange``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tradealerts.core.alerts import AlertCreate, AlertStatus, Condition, Frequency, PriceSource
from tradealerts.core.frozen import quick_init
from tradealerts.core.timeframes import Timeframe

__all__ = [
    "CONDITIONS",
    "FREQUENCIES",
    "NOTHING",
    "SOURCES",
    "TIMEFRAMES",
    "Alert",
    "Fired",
    "MatchResult",
    "StatusChange",
]

# Small-int codes of the enums: the matcher keeps them in byte columns.
CONDITIONS: tuple[Condition, ...] = tuple(Condition)
FREQUENCIES: tuple[Frequency, ...] = tuple(Frequency)
SOURCES: tuple[PriceSource, ...] = (PriceSource.bid, PriceSource.ask)
TIMEFRAMES: tuple[Timeframe, ...] = tuple(Timeframe)


@dataclass
class Alert:
    """An alert as the matcher needs it. Times are epoch seconds (UTC).

    ``last_fired_at`` and ``fire_count`` restore the frequency window across restarts: an
    alert that fired in the current bar does not fire again in it after a restart.
    """

    id: int
    user_id: int
    spec: AlertCreate
    status: AlertStatus = AlertStatus.active
    last_fired_at: float | None = None
    fire_count: int = 0
    #: ``fire_count`` when the alert was last armed: ``max_fires`` counts the fires since.
    fires_at_arm: int = 0

    def values(self) -> tuple[float, float]:
        """The two numbers the matcher keeps: level | lower, upper | amount, bars | distance."""
        s = self.spec
        if s.level is not None:
            return s.level, 0.0
        if s.lower is not None and s.upper is not None:
            return s.lower, s.upper
        if s.amount is not None and s.bars is not None:
            return s.amount, float(s.bars)
        return (s.distance or 0.0), 0.0


@quick_init
@dataclass(frozen=True, slots=True)
class Fired:
    """One fire: what the event log stores and the stream sends.

    ``time`` is the event's time (the tick's, or the close time of a closed bar), ``level``
    the level crossed, the channel edge, the movement threshold, the fractal's price or the
    line's value; ``status`` and ``fire_count`` are the alert's after this fire.
    """

    alert_id: int
    user_id: int
    symbol: str
    timeframe: Timeframe
    condition: Condition
    level: float | None
    price: float
    time: float
    message: str
    status: AlertStatus
    fire_count: int
    line_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class StatusChange:
    """An alert that left ``active``: triggered (a ``once`` alert fired), or expired."""

    alert_id: int
    user_id: int
    status: AlertStatus
    reason: str
    time: float


@quick_init
@dataclass(frozen=True, slots=True)
class MatchResult:
    """What one feed event did: fires ordered by alert id, and status changes to persist."""

    fired: tuple[Fired, ...] = ()
    changed: tuple[StatusChange, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.fired or self.changed)


#: The result of the (very common) event that changes nothing.
NOTHING = MatchResult()
