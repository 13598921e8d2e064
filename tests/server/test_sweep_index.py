"""The matcher's price index: ``load_row`` (a group of one alert) answers what ``load`` does."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tradealerts.server.alerts.store import SweepIndex

prices = st.floats(min_value=0.5, max_value=2.0, allow_nan=False)


@given(st.lists(prices, max_size=40), st.integers(0, 1000), prices, prices)
def test_one_rows_keys_sweep_as_the_general_load(keys: list[float], row: int, a: float,
                                                 b: float) -> None:  # fmt: skip
    general, one = SweepIndex(), SweepIndex()
    general.load(np.array(keys, np.float64), np.full(len(keys), row, np.int64))
    one.load_row(keys, row)
    assert list(one.keys) == list(general.keys) and list(one.rows) == list(general.rows)
    assert (one.live, one.stale) == (general.live, general.stale) == (len(keys), 0)
    lo, hi = min(a, b), max(a, b)
    assert list(one.between(lo, hi)) == list(general.between(lo, hi))
