"""The price rules answer one tick (the live matcher) and a window of ticks (a backtest)
through the same functions: the two answers must agree element by element, edges and ties
included (prices drawn on a coarse grid so that equalities happen)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tradealerts.core.alerts import Condition, Side
from tradealerts.server.alerts.lines import fractal_pick
from tradealerts.server.alerts.model import CONDITIONS
from tradealerts.server.alerts.predicates import PRICE_HITS, RULES, move_hit, move_holds
from tradealerts.server.feeds.replay import path_of

grid = st.integers(0, 8).map(lambda k: 1.0 + k / 4)
prices = st.lists(st.tuples(grid, grid), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(moves=prices, a=grid, width=st.integers(0, 4))
def test_every_price_rule_says_the_same_for_a_tick_and_for_an_array(
    moves: list[tuple[float, float]], a: float, width: int
) -> None:
    b = a + width / 4
    p0 = np.array([m[0] for m in moves])
    p1 = np.array([m[1] for m in moves])
    for cond, rule in RULES.items():
        one = PRICE_HITS[CONDITIONS.index(cond)]
        assert one is not None
        holds = np.asarray(rule.holds(p0, p1, a, b))
        level = np.broadcast_to(rule.level(p0, p1, a, b), p0.shape)
        for i, (x, y) in enumerate(moves):
            expected = one(x, y, a, b)
            assert bool(holds[i]) == (expected is not None), (cond, x, y, a, b)
            if expected is not None:
                assert level[i] == expected, (cond, x, y, a, b)
    # no previous price: a transition cannot fire, a state can
    for cond in (Condition.crossing, Condition.entering_channel, Condition.exiting_channel):
        assert PRICE_HITS[CONDITIONS.index(cond)](None, 1.5, a, b) is None  # type: ignore[misc]


@settings(max_examples=100, deadline=None)
@given(price=st.lists(grid, min_size=1, max_size=20), threshold=grid)
def test_movement_says_the_same_for_a_tick_and_for_an_array(
    price: list[float], threshold: float
) -> None:
    for cond in (Condition.moving_up, Condition.moving_down_pct):
        holds = move_holds(cond, np.array(price), threshold)
        assert [bool(h) for h in holds] == [move_hit(cond, p, threshold) is not None for p in price]


def test_a_fractal_close_and_the_ohlc_path_say_the_same_for_one_and_for_arrays() -> None:
    up = np.array([True, True, False, False])
    down = np.array([True, False, True, False])
    for side in Side:
        fires, on_up = fractal_pick(up, down, side)
        for i in range(4):
            one = fractal_pick(bool(up[i]), bool(down[i]), side)
            assert (bool(fires[i]), bool(on_up[i])) == (bool(one[0]), bool(one[1])), side
    o, h, lo, c = (
        np.array(x) for x in ([1.0, 1.0, 1.0], [1.5, 1.2, 1.5], [0.5, 0.5, 0.9], [1.1] * 3)
    )
    rows = np.stack(path_of(o, h, lo, c), axis=1)
    for i in range(3):
        assert rows[i].tolist() == list(path_of(o[i], h[i], lo[i], c[i]))
