"""The firing rule of every price condition, one small function each.

A hit returns the level to report (the level, the channel edge, the threshold); None is no
hit. ``p0`` is the previous price of the same source (None when there is none: transitions
cannot fire then), ``p1`` the current one. Inside a channel means ``lower <= p <= upper``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from tradealerts.core.alerts import (
    CHANNEL_CONDITIONS,
    EDGE_CONDITIONS,
    LEVEL_CONDITIONS,
    MOVEMENT_CONDITIONS,
    Condition,
)
from tradealerts.core.vector import choose
from tradealerts.server.alerts.model import CONDITIONS

__all__ = [
    "KIND",
    "KIND_BAR",
    "KIND_CHANNEL",
    "KIND_LEVEL",
    "KIND_MOVE",
    "KIND_TOUCH",
    "PRICE_HITS",
    "RULES",
    "STATE",
    "PriceRule",
    "move_hit",
    "move_holds",
    "move_threshold",
]

Hit = Callable[[float | None, float, float, float], float | None]
#: ``(p0, p1, a, b)`` -> whether the rule holds, or what it reports: for floats or arrays
Part = Callable[[Any, Any, Any, Any], Any]


class PriceRule(NamedTuple):
    """A level or channel rule: ``holds(p0, p1, a, b)``, the ``level`` it reports when it
    does, and whether it needs a previous price (a transition). Both parts take floats or
    numpy arrays alike (``core.vector``): the live matcher asks about one tick, a backtest
    about a window's ticks at once, through the same two functions."""

    holds: Part
    level: Part
    transition: bool


def _crossing_up(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return (p0 < a) & (a <= p1)


def _crossing_down(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return (p0 > a) & (a >= p1)


def _crossing(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return ((p0 < a) & (a <= p1)) | ((p0 > a) & (a >= p1))


def _greater(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return p1 > a


def _less(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return p1 < a


def _entering(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    # previous outside, current inside; a jump across the whole channel is neither
    return ((p0 < a) | (p0 > b)) & (a <= p1) & (p1 <= b)


def _exiting(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return (a <= p0) & (p0 <= b) & ((p1 < a) | (p1 > b))


def _inside(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return (a <= p1) & (p1 <= b)


def _outside(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return (p1 < a) | (p1 > b)


def _the_level(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return a


def _edge_left_from(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return choose(p0 < a, a, b)  # the edge it came in over


def _edge_left_by(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return choose(p1 > b, b, a)  # the edge it went out over


def _nearer_edge(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return choose(p1 - a <= b - p1, a, b)  # the lower on a tie


def _edge_beyond(p0: Any, p1: Any, a: Any, b: Any) -> Any:
    return choose(p1 < a, a, b)


C = Condition
#: Level and channel rules (inside a channel means ``lower <= p <= upper``).
RULES: dict[Condition, PriceRule] = {
    C.greater_than: PriceRule(_greater, _the_level, False),
    C.less_than: PriceRule(_less, _the_level, False),
    C.crossing: PriceRule(_crossing, _the_level, True),
    C.crossing_up: PriceRule(_crossing_up, _the_level, True),
    C.crossing_down: PriceRule(_crossing_down, _the_level, True),
    C.entering_channel: PriceRule(_entering, _edge_left_from, True),
    C.exiting_channel: PriceRule(_exiting, _edge_left_by, True),
    C.inside_channel: PriceRule(_inside, _nearer_edge, False),
    C.outside_channel: PriceRule(_outside, _edge_beyond, False),
}


def _one_tick(rule: PriceRule) -> Hit:
    """The rule asked about one move ``p0`` -> ``p1`` (``p0`` None: no previous price)."""
    holds, level = rule.holds, rule.level
    if rule.transition:

        def hit(p0: float | None, p1: float, a: float, b: float) -> float | None:
            if p0 is None or not holds(p0, p1, a, b):
                return None
            return level(p0, p1, a, b)  # type: ignore[no-any-return]

    else:

        def hit(p0: float | None, p1: float, a: float, b: float) -> float | None:
            return level(p0, p1, a, b) if holds(p0, p1, a, b) else None

    return hit


#: Level and channel rules for one tick, indexed by condition code (None for the others).
PRICE_HITS: tuple[Hit | None, ...] = tuple(
    _one_tick(RULES[c]) if c in RULES else None for c in CONDITIONS
)

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


def move_holds(condition: Condition, price: Any, threshold: Any) -> Any:
    """Whether the movement holds at ``price`` (floats or arrays alike; a NaN threshold: no)."""
    if condition in _UP:
        return price >= threshold
    return price <= threshold


def move_hit(condition: Condition, price: float, threshold: float | None) -> float | None:
    """The threshold when the movement holds at ``price``."""
    if threshold is None:
        return None
    return threshold if move_holds(condition, price, threshold) else None
