"""The bar container and resampling."""

from __future__ import annotations

import numpy as np
import pytest

from tradealerts.core.bars import Bar, Bars, BarsError, resample
from tradealerts.core.timeframes import Timeframe

H = 3600


def hourly(count: int, start: int = 0) -> Bars:
    t = np.arange(start, start + count * H, H, dtype=np.int64)
    o = np.arange(count, dtype=float) + 100
    return Bars(t, o, o + 2, o - 1, o + 0.5, np.full(count, 10.0))


def test_append_grows_and_keeps_order() -> None:
    b = Bars()
    for i in range(100):
        b.append(Bar(i * H, 1.0, 2.0, 0.5, 1.5, 3.0))
    assert len(b) == 100 and b.time[-1] == 99 * H and b.volume.sum() == 300.0
    with pytest.raises(BarsError, match="is not after the last bar"):
        b.append(Bar(99 * H, 1.0, 2.0, 0.5, 1.5))
    assert b[-1] == Bar(99 * H, 1.0, 2.0, 0.5, 1.5, 3.0)


def test_columns_must_agree() -> None:
    with pytest.raises(BarsError, match="column high has 2 values, time has 3"):
        Bars([0, 1, 2], [1, 1, 1], [1, 1], [1, 1, 1], [1, 1, 1])
    with pytest.raises(BarsError, match="strictly increasing"):
        Bars([0, 2, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1])


def test_resample_h1_to_h4_with_a_forming_last_bucket() -> None:
    b = hourly(10)  # hours 0..9: buckets 0-3, 4-7 closed, 8-9 forming
    r = resample(b, Timeframe.H1, Timeframe.H4)
    assert r.time.tolist() == [0, 4 * H]
    assert r.open.tolist() == [100.0, 104.0]
    assert r.high.tolist() == [105.0, 109.0]
    assert r.low.tolist() == [99.0, 103.0]
    assert r.close.tolist() == [103.5, 107.5]
    assert r.volume.tolist() == [40.0, 40.0]
    assert r.forming == Bar(8 * H, 108.0, 111.0, 107.0, 109.5, 20.0)


def test_resample_complete_last_bucket_is_closed_and_gaps_are_skipped() -> None:
    b = hourly(8)
    r = resample(b, Timeframe.H1, Timeframe.H4)
    assert len(r) == 2 and r.forming is None
    # a weekend-like gap: bars 0-3 then 48-51 (hours)
    t = np.r_[np.arange(4) * H, (48 + np.arange(4)) * H]
    g = Bars(t, np.ones(8), np.ones(8) * 2, np.zeros(8), np.ones(8), np.ones(8))
    d = resample(g, Timeframe.H1, Timeframe.H4)
    assert d.time.tolist() == [0, 48 * H] and d.forming is None


def test_resample_refuses_lower_or_misaligned() -> None:
    with pytest.raises(BarsError, match="cannot build H1 bars from H4"):
        resample(hourly(4), Timeframe.H4, Timeframe.H1)
    with pytest.raises(BarsError, match="cannot build H8 bars from H12"):
        resample(hourly(4), Timeframe.H12, Timeframe.H8)


def test_resample_joins_the_sources_forming_bar() -> None:
    b = hourly(2)
    b.forming = Bar(2 * H, 102.0, 120.0, 90.0, 101.0, 5.0)
    r = resample(b, Timeframe.H1, Timeframe.H4)
    assert len(r) == 0
    assert r.forming == Bar(0, 100.0, 120.0, 90.0, 101.0, 25.0)
