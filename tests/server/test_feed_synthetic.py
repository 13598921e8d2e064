"""The synthetic feed: reproducible, consistent across timeframes, live bars that agree."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tradealerts.core.bars import resample
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds import BarClose, FeedConfigError, FeedOptions, Tick, create_feed
from tradealerts.server.feeds.synthetic import SYMBOL_PARAMS, SyntheticFeed

START = 1_764_001_234  # 2025-11-24 16:20:34 UTC, mid-bar on every timeframe


async def no_sleep(_: float) -> None:
    return None


def options(**kw) -> FeedOptions:
    base = {"start_time": START, "history_bars": 600, "sleep": no_sleep}
    base.update(kw)
    return FeedOptions(**base)


async def started(**kw) -> SyntheticFeed:
    feed = create_feed("synthetic", options(**kw))
    assert isinstance(feed, SyntheticFeed)
    await feed.start()
    return feed


async def test_same_seed_same_market_other_seed_other_market() -> None:
    a, b, c = await started(), await started(), await started(seed=7)
    for tf in (Timeframe.M5, Timeframe.D1):
        x, y, z = [await f.bars("EURUSD", tf, 600) for f in (a, b, c)]
        assert np.array_equal(x.close, y.close) and x.forming == y.forming
        assert not np.array_equal(x.close, z.close)
    # a symbol's prices do not depend on which other symbols are served
    only = await started(symbols=("XAUUSD",))
    assert np.array_equal(
        (await only.bars("XAUUSD", Timeframe.H1, 600)).close,
        (await a.bars("XAUUSD", Timeframe.H1, 600)).close,
    )


async def test_every_timeframe_has_aligned_sane_history() -> None:
    feed = await started()
    for sym in ("EURUSD", "USDJPY", "US30"):
        for tf in Timeframe:
            bars = await feed.bars(sym, tf, 600)
            assert len(bars) == 600
            assert np.all(np.diff(bars.time) == tf.seconds)  # the synthetic market never closes
            assert np.all(bars.time % tf.seconds == 0)
            assert np.all(bars.low <= np.minimum(bars.open, bars.close))
            assert np.all(bars.high >= np.maximum(bars.open, bars.close))
            assert bars.forming is not None and bars.forming.time == tf.bar_open(START)
            assert bars.time[-1] == tf.bar_open(START) - tf.seconds


LEVELS = [
    ("EURUSD", 0.8, 1.4),
    ("USDJPY", 110, 200),
    ("XAUUSD", 1500, 2700),
    ("US30", 29000, 52000),
]


@pytest.mark.parametrize(("sym", "lo", "hi"), LEVELS)
async def test_prices_near_realistic_levels(sym: str, lo: float, hi: float) -> None:
    feed = await started()
    h1 = await feed.bars(sym, Timeframe.H1, 600)
    assert lo < h1.close.min() and h1.close.max() < hi
    assert h1.close[-1] == pytest.approx(SYMBOL_PARAMS[sym].price, rel=0.02)


async def test_higher_timeframes_are_exactly_the_lower_resampled() -> None:
    feed = await started(history_bars=2000)
    pairs = [(a, b) for a, b in itertools.combinations(Timeframe, 2) if b.is_multiple_of(a)]
    assert len(pairs) > 20
    for lower, higher in pairs:
        low_bars = await feed.bars("GBPUSD", lower, 2000)
        high_bars = await feed.bars("GBPUSD", higher, 2000)
        built = resample(low_bars, lower, higher)
        # skip the first built bucket: the lower history may start inside it
        k = int(np.searchsorted(high_bars.time, built.time[1]))
        assert len(built) > 1 and k < len(high_bars)
        for col in ("time", "open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(high_bars, col)[k:], getattr(built, col)[1:]), (
                lower, higher, col)  # fmt: skip
        assert built.forming == high_bars.forming


async def test_live_ticks_and_bar_closes_agree() -> None:
    feed = await started(symbols=("EURUSD",), tick_rate=1.0, clock_speed=30.0)
    before = len(await feed.bars("EURUSD", Timeframe.M5, 10_000))
    ticks: list[Tick] = []
    closes: list[tuple[int, BarClose]] = []
    async for ev in feed.stream():
        if isinstance(ev, Tick):
            assert ev.ask > ev.bid
            ticks.append(ev)
        else:
            closes.append((len(ticks), ev))
        if len(ticks) >= 400:  # 400 ticks x 30 s = 3h20m simulated
            break
    await feed.close()
    m5 = [c for _, c in closes if c.timeframe is Timeframe.M5]
    h1 = [c for _, c in closes if c.timeframe is Timeframe.H1]
    assert len(m5) >= 38 and len(h1) >= 3
    for n_before, c in closes:
        # a bar closes before the first tick of the next bucket
        if n_before < len(ticks):
            assert ticks[n_before].time >= c.bar.time + c.timeframe.seconds
        inside = [
            t.bid
            for t in ticks[:n_before]
            if c.bar.time <= t.time < c.bar.time + c.timeframe.seconds
        ]
        if inside:
            assert c.bar.high >= max(inside) and c.bar.low <= min(inside)
            assert c.bar.close == inside[-1]
    # an H1 bar closes with the close of its last M5 bar
    for h in h1[1:]:
        last_m5 = [m for m in m5 if h.bar.time <= m.bar.time < h.bar.time + 3600][-1]
        assert h.bar.close == last_m5.bar.close
    after = await feed.bars("EURUSD", Timeframe.M5, 10_000)
    assert len(after) == before + len(m5)
    assert after.last() == m5[-1].bar
    assert feed.status().last_tick["EURUSD"] == ticks[-1].time


async def test_unknown_symbol_refused() -> None:
    with pytest.raises(FeedConfigError, match="no symbol DOGEUSD"):
        create_feed("synthetic", options(symbols=("DOGEUSD",)))
    feed = await started(symbols=("EURUSD",))
    with pytest.raises(FeedConfigError, match="does not serve GBPUSD"):
        await feed.bars("GBPUSD", Timeframe.H1, 10)


def test_bad_feed_spec_is_refused() -> None:
    with pytest.raises(FeedConfigError, match="unknown feed 'csv:x'"):
        create_feed("csv:x")
    with pytest.raises(FeedConfigError, match="mt5-rpyc://HOST:PORT"):
        create_feed("mt5-rpyc://nohost")
