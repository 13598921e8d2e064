"""``LineTimeline``: the incremental state as of any bar, read from the batch columns, is
exactly what ``IndicatorState.update`` builds bar by bar (the backtest relies on it)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.core.test_indicators import bar_series

from tradealerts.core.indicators import IndicatorState
from tradealerts.core.indicators.timeline import LineTimeline


def _same(a: IndicatorState, b: IndicatorState) -> None:
    assert list(a.close) == list(b.close)
    assert (list(a.up), list(a.down)) == (list(b.up), list(b.down))
    assert (list(a.up_price), list(a.down_price)) == (list(b.up_price), list(b.down_price))
    assert (list(a._recent_high), list(a._recent_low)) == (
        list(b._recent_high),
        list(b._recent_low),
    )
    assert a.horizontal == b.horizontal
    assert a.diagonal == b.diagonal
    assert a.active_horizontal_positions() == b.active_horizontal_positions()
    assert a.active_diagonal_positions() == b.active_diagonal_positions()


@settings(max_examples=300, deadline=None)
@given(bar_series(), st.integers(1, 3), st.data())
def test_advance_and_changes_equal_update_bar_by_bar(series, n, data) -> None:
    h, lo, c = series
    timeline = LineTimeline(h, lo, c, n)
    split = data.draw(st.integers(0, len(c)))
    live = IndicatorState.from_arrays(h[:split], lo[:split], c[:split], n)
    jumped = timeline.state_before(split)
    _same(live, jumped)
    # jump to some bars only (as a backtest does), compare at each
    stops = set(data.draw(st.lists(st.integers(split, max(split, len(c) - 1)), max_size=6)))
    for t in range(split, len(c)):
        changes = live.update(h[t], lo[t], c[t])
        assert timeline.changes_at(t) == changes
        if t in stops or t == len(c) - 1:
            timeline.advance(jumped, t)
            _same(live, jumped)


@settings(max_examples=200, deadline=None)
@given(bar_series(), st.integers(1, 3), st.integers(0, 80))
def test_line_bars_are_the_bars_each_line_exists_in(series, n, first) -> None:
    h, lo, c = series
    first = min(first, len(c))
    got = LineTimeline(h, lo, c, n).line_bars(first, len(c) - 1)
    want = []
    state = IndicatorState.from_arrays(h[:0], lo[:0], c[:0], n)
    for t in range(len(c)):
        changes = state.update(h[t], lo[t], c[t])
        if t < first:
            continue
        # the lines of the state after bar t, and those bar t broke
        for k in state.active_horizontal_positions() + changes.broken_horizontal:
            want.append((t, False, k, state.horizontal[k].price))
        for k in state.active_diagonal_positions() + changes.broken_diagonal:
            want.append((t, True, k, state.diagonal[k].value_at(t)))
    # line_bars also holds lines born broken at their confirmation bar: a superset
    pairs = {
        (int(b), bool(d), int(k)): float(v)
        for b, d, k, v in zip(got.bar, got.diagonal, got.line, got.value, strict=True)
    }
    for t, d, k, v in want:
        assert np.isclose(pairs[(t, d, k)], v, rtol=0, atol=1e-9)
