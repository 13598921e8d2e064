"""The firing rule of every price condition, one small function each.

A hit returns the level to report (the level, the channel edge, the threshold); None is no
hit. ``p0`` is the previous price of the same source (None when there is none: transitions
cannot fire then), ``p1`` the current one. Inside a channel means ``lower <= p <= upper``.
"""

from __future__ import annotations

from collections.abc import Callable

from tradealerts.core.alerts import (
    CHANNEL_CONDITIONS,
    EDGE_CONDITIONS,
    LEVEL_CONDITIONS,
    MOVEMENT_CONDITIONS,
    Condition,
)
from tradealerts.server.alerts.model import CONDITIONS

__all__ = [
    "KIND",
    "KIND_BAR",
    "KIND_CHANNEL",
    "KIND_LEVEL",
    "KIND_MOVE",
    "KIND_TOUCH",
    "PRICE_HITS",
    "STATE",
    "move_hit",
    "move_threshold",
]

Hit = Callable[[float | None, float, float, float], float | None]


def _crossing_up(p0: float | None, p1: float, a: float, b: float) -> float | None:
    return a if p0 is not None and p0 < a <= p1 else None


def _crossing_down(p0: float | None, p1: float, a: float, b: float) -> float | None:
    return a if p0 is not None and p0 > a >= p1 else None


def _crossing(p0: float | None, p1: float, a: float, b: float) -> float | None:
    return a if p0 is not None and (p0 < a <= p1 or p0 > a >= p1) else None


def _greater(p0: float | None, p1: float, a: float, b: float) -> float | None:
    return a if p1 > a else None


def _less(p0: float | None, p1: float, a: float, b: float) -> float | None:
    return a if p1 < a else None


def _entering(p0: float | None, p1: float, a: float, b: float) -> float | None:
    # previous outside, current inside; a jump across the whole channel is neither
    if p0 is None or a <= p0 <= b or not a <= p1 <= b:
        return None
    return a if p0 < a else b


def _exiting(p0: float | None, p1: float, a: float, b: float) -> float | None:
    if p0 is None or not a <= p0 <= b or a <= p1 <= b:
        return None
    return b if p1 > b else a


def _inside(p0: float | None, p1: float, a: float, b: float) -> float | None:
    if not a <= p1 <= b:
        return None
    return a if p1 - a <= b - p1 else b  # the nearer edge, the lower on a tie


def _outside(p0: float | None, p1: float, a: float, b: float) -> float | None:
    if p1 < a:
        return a
    return b if p1 > b else None


C = Condition
_HITS: dict[Condition, Hit] = {
    C.greater_than: _greater,
    C.less_than: _less,
    C.crossing: _crossing,
    C.crossing_up: _crossing_up,
    C.crossing_down: _crossing_down,
    C.entering_channel: _entering,
    C.exiting_channel: _exiting,
    C.inside_channel: _inside,
    C.outside_channel: _outside,
}
#: Level and channel rules, indexed by condition code (None for the other conditions).
PRICE_HITS: tuple[Hit | None, ...] = tuple(_HITS.get(c) for c in CONDITIONS)

KIND_LEVEL, KIND_CHANNEL, KIND_MOVE, KIND_TOUCH, KIND_BAR = range(5)


def _kind(c: Condition) -> int:
    if c in LEVEL_CONDITIONS:
        return KIND_LEVEL
    if c in CHANNEL_CONDITIONS:
        return KIND_CHANNEL
    if c in MOVEMENT_CONDITIONS:
        return KIND_MOVE
    return KIND_TOUCH if c == C.line_touch else KIND_BAR


#: How each condition code is matched.
KIND: tuple[int, ...] = tuple(_kind(c) for c in CONDITIONS)
#: State conditions (fire while they hold) by code; the others are transitions or bar events.
STATE: tuple[bool, ...] = tuple(
    c not in EDGE_CONDITIONS and KIND[i] != KIND_BAR for i, c in enumerate(CONDITIONS)
)
_UP = frozenset({C.moving_up, C.moving_up_pct})


def move_threshold(condition: Condition, reference: float, amount: float) -> float:
    """The price a movement alert waits for, given the close N bars back.

    up: ``reference + amount``; up %: ``reference * (1 + amount / 100)``; down and down %
    mirror them. The alert holds while ``price >= threshold`` (up) or ``<=`` (down).
    """
    if condition == C.moving_up:
        return reference + amount
    if condition == C.moving_down:
        return reference - amount
    if condition == C.moving_up_pct:
        return reference * (1.0 + amount / 100.0)
    return reference * (1.0 - amount / 100.0)


def move_hit(condition: Condition, price: float, threshold: float | None) -> float | None:
    """The threshold when the movement holds at ``price``."""
    if threshold is None:
        return None
    if condition in _UP:
        return threshold if price >= threshold else None
    return threshold if price <= threshold else None
