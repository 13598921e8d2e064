"""The matching baseline: every alert of the symbol checked on every tick, as one would write it
at first. The benchmark checks that it fires what the index fires before timing either."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tradealerts.core.timeframes import Timeframe


@dataclass
class ScanAlert:
    alert_id: int
    condition: str
    a: float  # level, or the channel's lower edge
    b: float  # the channel's upper edge
    ask: bool
    window: int  # seconds of the frequency window; 0 for once
    last: float | None = None
    alive: bool = True


class ScanMatcher:
    """One symbol's alerts in a list; a tick looks at all of them."""

    def __init__(self, alerts: list[ScanAlert]) -> None:
        self.alerts = alerts
        self.prev: tuple[float, float] | None = None

    def on_tick(self, time: float, bid: float, ask: float) -> list[int]:
        fired = []
        prev = self.prev
        self.prev = (bid, ask)
        for al in self.alerts:
            if not al.alive:
                continue
            same_window = al.window and al.last is not None
            if same_window and math.floor(time) // al.window <= math.floor(al.last) // al.window:
                continue
            p1 = ask if al.ask else bid
            p0 = None if prev is None else (prev[1] if al.ask else prev[0])
            if _holds(al.condition, p0, p1, al.a, al.b):
                fired.append(al.alert_id)
                al.last = time
                if not al.window:
                    al.alive = False
        fired.sort()
        return fired


def _inside(p: float, lo: float, hi: float) -> bool:
    return lo <= p <= hi


def _holds(cond: str, p0: float | None, p1: float, a: float, b: float) -> bool:
    if cond == "greater_than":
        return p1 > a
    if cond == "less_than":
        return p1 < a
    if cond == "inside_channel":
        return _inside(p1, a, b)
    if cond == "outside_channel":
        return not _inside(p1, a, b)
    if p0 is None:
        return False
    if cond == "crossing_up":
        return p0 < a <= p1
    if cond == "crossing_down":
        return p0 > a >= p1
    if cond == "crossing":
        return p0 < a <= p1 or p0 > a >= p1
    if cond == "entering_channel":
        return not _inside(p0, a, b) and _inside(p1, a, b)
    if cond == "exiting_channel":
        return _inside(p0, a, b) and not _inside(p1, a, b)
    raise ValueError(cond)


def window_seconds(frequency: str, timeframe: Timeframe) -> int:
    return {"once": 0, "once_per_minute": 60}.get(frequency, timeframe.seconds)
