"""The indicator spec, rule by rule, plus hypothesis properties on random bars."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradealerts.core.indicators import (
    DiagonalLine,
    HorizontalLine,
    IndicatorState,
    diagonal_lines,
    find_fractals,
    horizontal_lines,
    nearest_active,
)


def hlc(high: list[float], low: list[float] | None = None, close: list[float] | None = None):
    h = np.array(high, dtype=float)
    lo = np.array(low, dtype=float) if low is not None else h - 10.0
    c = np.array(close, dtype=float) if close is not None else (h + lo) / 2
    return h, lo, c


# -- fractals ------------------------------------------------------------------------------
def test_up_fractal_tie_on_older_side_is_allowed() -> None:
    h, lo, _ = hlc([1, 2, 3, 3, 2, 1])
    up, _ = find_fractals(h, lo)
    # bar 3 equals bar 2 (older side): allowed; bar 2 equals bar 3 (newer side): refused
    assert up.tolist() == [3]


def test_up_fractal_tie_on_newer_side_is_refused() -> None:
    h, lo, _ = hlc([1, 2, 3, 3, 1, 0])
    up, _ = find_fractals(h, lo)
    assert up.tolist() == [3]
    h2, lo2, _ = hlc([1, 2, 5, 5, 5, 1, 0])
    # only the newest of three equal highs qualifies, and only if its newer side is lower
    assert find_fractals(h2, lo2)[0].tolist() == [4]


def test_down_fractal_mirrors_ties() -> None:
    low = [5, 4, 3, 3, 4, 5]
    h = np.array(low, dtype=float) + 10
    _, down = find_fractals(h, np.array(low, dtype=float))
    assert down.tolist() == [3]


def test_window_n_changes_the_rule() -> None:
    h, lo, _ = hlc([1, 3, 2, 4, 3, 5, 4, 6, 1, 0, 0])
    assert find_fractals(h, lo, n=1)[0].tolist() == [1, 3, 5, 7]
    assert find_fractals(h, lo, n=2)[0].tolist() == [7]


def test_a_bar_may_be_both_fractals() -> None:
    high = [5, 6, 9, 6, 5]
    low = [3, 2, 0, 2, 3]
    up, down = find_fractals(np.array(high, float), np.array(low, float))
    assert up.tolist() == [2]
    assert down.tolist() == [2]


def test_fractal_needs_n_closed_bars_to_its_right() -> None:
    h, lo, _ = hlc([1, 2, 9, 3, 2])
    assert find_fractals(h, lo)[0].tolist() == [2]
    # with the last bar still forming (not passed), bar 2 is not yet a fractal
    assert find_fractals(h[:-1], lo[:-1])[0].tolist() == []


def test_short_series_have_no_fractals() -> None:
    up, down = find_fractals([1.0, 2.0], [0.0, 1.0])
    assert up.size == 0 and down.size == 0
    assert up.dtype == np.int64


@pytest.mark.parametrize(
    ("high", "low", "n", "message"),
    [
        ([[1.0, 2.0]], [[1.0, 2.0]], 2, "must be 1-D"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], 2, "equal lengths"),
        ([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0], 2, "high[1] is not a finite number"),
        ([1.0, 2.0], [1.0, 2.0], 0, "n must be a whole number"),
        (["a", "b"], [1.0, 2.0], 2, "high must be a 1-D array of numbers"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(high, low, n, message) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        find_fractals(high, low, n)


# -- horizontal lines ----------------------------------------------------------------------
def test_resistance_line_broken_only_by_a_close_strictly_above() -> None:
    high = [1, 2, 5, 3, 2, 4.9, 5.5, 6]
    close = [0.5, 1.5, 4.0, 2.5, 1.5, 5.0, 5.0, 5.5]  # bar 5 and 6 close exactly at 5.0
    h, lo, c = hlc(high, [x - 1 for x in high], close)
    res = [ln for ln in horizontal_lines(h, lo, c) if ln.kind == "resistance"]
    assert res == [HorizontalLine("resistance", 5.0, 2, 4, 7)]


def test_support_line_broken_only_by_a_close_strictly_below() -> None:
    low = [5, 4, 1, 3, 4, 2, 1.5, 0]
    close = [5.5, 4.5, 2, 3.5, 4.5, 1.0, 1.0, 0.5]
    h, lo, c = hlc([x + 1 for x in low], low, close)
    sup = [ln for ln in horizontal_lines(h, lo, c) if ln.kind == "support"]
    assert sup[0] == HorizontalLine("support", 1.0, 2, 4, 7)


def test_equal_fractal_prices_give_two_lines_and_no_trendline() -> None:
    high = [1, 2, 5, 2, 1, 2, 5, 2, 1]
    h, lo, c = hlc(high, [x - 0.5 for x in high], [x - 0.2 for x in high])
    res = [ln for ln in horizontal_lines(h, lo, c) if ln.kind == "resistance"]
    assert [(ln.price, ln.origin, ln.broken) for ln in res] == [(5.0, 2, None), (5.0, 6, None)]
    assert [d for d in diagonal_lines(h, lo, c) if d.kind == "resistance"] == []


def test_max_active_keeps_the_nearest_lines_per_side() -> None:
    # three resistance levels at 10, 8, 6 stepping down, last close near 5
    high = [1, 2, 10, 2, 1, 2, 8, 2, 1, 2, 6, 2, 1, 2, 5, 5]
    h, lo, c = hlc(high, [x - 0.5 for x in high], [x - 0.25 for x in high])
    every = [ln for ln in horizontal_lines(h, lo, c) if ln.kind == "resistance"]
    assert [ln.price for ln in every] == [10.0, 8.0, 6.0]
    kept = [ln for ln in horizontal_lines(h, lo, c, max_active=2) if ln.kind == "resistance"]
    assert [ln.price for ln in kept] == [8.0, 6.0]
    assert nearest_active(every, 5.0, "resistance") == every[2]


# -- diagonal lines ------------------------------------------------------------------------
def test_descending_resistance_trendline_in_bar_index_space() -> None:
    high = [1, 2, 10, 2, 1, 2, 8, 2, 1, 1, 1, 1]
    close = [0.5, 1.5, 9, 1.5, 0.5, 1.5, 7, 1.5, 0.5, 0.5, 0.5, 0.5]
    h, lo, c = hlc(high, [x - 0.5 for x in high], close)
    (line,) = [d for d in diagonal_lines(h, lo, c) if d.kind == "resistance"]
    assert (line.i1, line.p1, line.i2, line.p2) == (2, 10.0, 6, 8.0)
    assert line.slope == pytest.approx(-0.5)
    assert line.value_at(10) == pytest.approx(6.0)
    assert line.broken is None


def test_trendline_broken_at_first_close_strictly_beyond() -> None:
    high = [1, 2, 10, 2, 1, 2, 8, 2, 1, 1, 6.5, 7]
    close = [0.5, 1.5, 9, 1.5, 0.5, 1.5, 7, 1.5, 0.5, 0.5, 6.0, 6.5]
    # value at bar 10 = 6.0 (close equal: not broken); at bar 11 = 5.5 (close 6.5: broken)
    h, lo, c = hlc(high, [x - 0.5 for x in high], close)
    (line,) = [d for d in diagonal_lines(h, lo, c) if d.kind == "resistance"]
    assert line.broken == 11


def test_ascending_support_trendline() -> None:
    low = [9, 8, 1, 8, 9, 8, 3, 8, 9, 9, 9, 4]
    close = [x + 0.5 for x in low[:-1]] + [5.9]
    h, lo, c = hlc([x + 1 for x in low], low, close)
    (line,) = [d for d in diagonal_lines(h, lo, c) if d.kind == "support"]
    assert (line.i1, line.p1, line.i2, line.p2) == (2, 1.0, 6, 3.0)
    # value at bar 11 = 1 + 2 * 9 / 4 = 5.5; close 5.9 is above it
    assert line.broken is None
    c2 = c.copy()
    c2[11] = 5.4
    (line2,) = [d for d in diagonal_lines(h, lo, c2) if d.kind == "support"]
    assert line2.broken == 11


def test_trendline_broken_before_second_fractal_confirmed_is_reported_broken() -> None:
    # line 10 -> 8 through bars 2 and 5: value at bar 6 = 7.33; bar 6 closes at 7.5, before
    # bar 7 confirms the second fractal
    high = [1, 2, 10, 3, 2, 8, 7.9, 2, 1]
    close = [0.5, 1.5, 9, 2.5, 1.5, 7, 7.5, 1.5, 0.5]
    h, lo, c = hlc(high, [x - 0.5 for x in high], close)
    (line,) = [d for d in diagonal_lines(h, lo, c) if d.kind == "resistance"]
    assert (line.i1, line.i2, line.broken) == (2, 5, 6)
    st_ = IndicatorState(2)
    for i in range(len(high)):
        st_.update(h[i], lo[i], c[i])
    assert st_.diagonal == [line]
    assert st_.active_diagonal() == []


# -- incremental -------------------------------------------------------------------------------
def test_incremental_reports_changes_of_each_bar() -> None:
    high = [1, 2, 5, 3, 2, 6]
    h, lo, c = hlc(high, [x - 1 for x in high], [x - 0.5 for x in high])
    st_ = IndicatorState(2)
    changes = [st_.update(h[i], lo[i], c[i]) for i in range(len(high))]
    assert changes[4].up_fractal == 2
    assert changes[4].new_horizontal == [0]
    assert changes[5].broken_horizontal == [0]  # close 5.5 > 5
    assert all(ch.empty for ch in changes[:4])


def test_incremental_refuses_non_finite() -> None:
    with pytest.raises(ValueError, match="close is not a finite number"):
        IndicatorState().update(1.0, 0.5, float("inf"))


# -- properties ----------------------------------------------------------------------------
@st.composite
def bar_series(draw: st.DrawFn, max_size: int = 80):
    size = draw(st.integers(0, max_size))
    # a small integer grid makes ties and exact touches common
    closes = draw(st.lists(st.integers(0, 12), min_size=size, max_size=size))
    ups = draw(st.lists(st.integers(0, 3), min_size=size, max_size=size))
    downs = draw(st.lists(st.integers(0, 3), min_size=size, max_size=size))
    c = np.array(closes, dtype=float)
    o = np.r_[c[:1], c[:-1]] if size else c
    h = np.maximum(o, c) + np.array(ups, dtype=float)
    lo = np.minimum(o, c) - np.array(downs, dtype=float)
    return h, lo, c


def brute_breaks(c: np.ndarray, start: int, level, above: bool) -> int | None:
    for j in range(start, len(c)):
        v = level(j)
        if (c[j] > v) if above else (c[j] < v):
            return j
    return None


@settings(max_examples=300, deadline=None)
@given(bar_series(), st.integers(1, 3))
def test_fractals_are_exactly_the_bars_meeting_the_definition(series, n) -> None:
    h, lo, _ = series
    up, down = find_fractals(h, lo, n)
    size = len(h)
    want_up = [
        i for i in range(n, size - n)
        if all(h[i] >= h[i - k] and h[i] > h[i + k] for k in range(1, n + 1))
    ]  # fmt: skip
    want_down = [
        i for i in range(n, size - n)
        if all(lo[i] <= lo[i - k] and lo[i] < lo[i + k] for k in range(1, n + 1))
    ]  # fmt: skip
    assert up.tolist() == want_up
    assert down.tolist() == want_down


@settings(max_examples=300, deadline=None)
@given(bar_series(), st.integers(1, 3))
def test_every_line_obeys_its_definition(series, n) -> None:
    h, lo, c = series
    up, down = find_fractals(h, lo, n)
    hl = horizontal_lines(h, lo, c, n)
    assert len(hl) == len(up) + len(down)
    for ln in hl:
        above = ln.kind == "resistance"
        assert ln.price == (h[ln.origin] if above else lo[ln.origin])
        assert ln.confirmed == ln.origin + n
        assert ln.broken == brute_breaks(c, ln.origin + 1, lambda _j, p=ln.price: p, above)
    dl = diagonal_lines(h, lo, c, n)
    ups, downs = up.tolist(), down.tolist()
    expected_pairs = [(a, b) for a, b in itertools.pairwise(ups) if h[b] < h[a]]
    expected_pairs += [(a, b) for a, b in itertools.pairwise(downs) if lo[b] > lo[a]]
    assert sorted((d.i1, d.i2) for d in dl) == sorted(expected_pairs)
    for d in dl:
        above = d.kind == "resistance"
        assert d.broken == brute_breaks(c, d.i2 + 1, d.value_at, above)


@settings(max_examples=300, deadline=None)
@given(bar_series(), st.integers(1, 3), st.data())
def test_incremental_equals_batch(series, n, data) -> None:
    h, lo, c = series
    split = data.draw(st.integers(0, len(c)))
    state = IndicatorState.from_arrays(h[:split], lo[:split], c[:split], n)
    for i in range(split, len(c)):
        state.update(h[i], lo[i], c[i])
    assert list(state.up) == find_fractals(h, lo, n)[0].tolist()
    assert list(state.down) == find_fractals(h, lo, n)[1].tolist()
    up, down = find_fractals(h, lo, n)
    assert list(state.up_price) == h[up].tolist()
    assert list(state.down_price) == lo[down].tolist()
    for i in range(len(c)):
        for is_up, marks, prices in ((True, up, h), (False, down, lo)):
            if i in marks:
                assert state.fractal_price(i, up=is_up) == prices[i]
            else:
                with pytest.raises(KeyError):
                    state.fractal_price(i, up=is_up)
    assert state.horizontal == horizontal_lines(h, lo, c, n)
    assert state.diagonal == diagonal_lines(h, lo, c, n)
    assert state.active_horizontal() == [x for x in state.horizontal if x.active]
    assert state.active_diagonal() == [x for x in state.diagonal if x.active]
    for m in (0, 1, 3):
        assert state.horizontal_lines(max_active=m) == horizontal_lines(h, lo, c, n, max_active=m)


@settings(max_examples=200, deadline=None)
@given(bar_series(), st.integers(1, 3), st.data())
def test_line_columns_read_as_the_line_lists(series, n, data) -> None:
    """The state keeps lines in columns; every way of reading them gives the batch lines."""
    h, lo, c = series
    split = data.draw(st.integers(0, len(c)))
    state = IndicatorState.from_arrays(h[:split], lo[:split], c[:split], n)
    for i in range(split, len(c)):
        state.update(h[i], lo[i], c[i])
    for cols, want in (
        (state.horizontal, horizontal_lines(h, lo, c, n)),
        (state.diagonal, diagonal_lines(h, lo, c, n)),
    ):
        assert len(cols) == len(want)
        assert list(cols) == want
        assert [cols[k] for k in range(-len(want), len(want))] == want + want
        assert cols[1:-1:2] == want[1:-1:2]
        assert all(type(a) is type(b) for a, b in zip(cols, want, strict=True))
        start = data.draw(st.integers(0, len(c) + 1))
        assert [cols.line(k) for k in cols.since(start)] == [
            ln for ln in want if ln.broken is None or ln.broken >= start
        ]
        if want:
            assert cols != want[:-1]
            assert cols != [*want[:-1], want[-1]._replace(broken=-7)]
    with pytest.raises(TypeError):
        hash(state.horizontal)


def test_real_looking_series() -> None:
    """A seeded random walk with realistic EURUSD scale: the lines behave like a trader expects."""
    rng = np.random.default_rng(7)
    size = 5_000
    c = 1.08 * np.exp(np.cumsum(rng.normal(0, 0.0015, size)))
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) + np.abs(rng.normal(0, 0.0008, size))
    lo = np.minimum(o, c) - np.abs(rng.normal(0, 0.0008, size))
    up, down = find_fractals(h, lo)
    # roughly one fractal per ~5 bars on each side for a random walk
    assert 0.1 < len(up) / size < 0.35 and 0.1 < len(down) / size < 0.35
    lines = horizontal_lines(h, lo, c)
    last = c[-1]
    for ln in lines:
        if ln.active:
            # an active resistance has never been closed above since its fractal
            if ln.kind == "resistance":
                assert c[ln.origin + 1 :].max() <= ln.price and ln.price >= last
            else:
                assert c[ln.origin + 1 :].min() >= ln.price and ln.price <= last
    diag = diagonal_lines(h, lo, c)
    assert all(d.slope < 0 for d in diag if d.kind == "resistance")
    assert all(d.slope > 0 for d in diag if d.kind == "support")
    assert any(d.broken is None for d in diag) or len(diag) > 100
    assert isinstance(diag[0], DiagonalLine)
