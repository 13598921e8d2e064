"""The synthetic feed: reproducible, consistent across timeframes, live bars that agree."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tradealerts.core.bars import Bars, resample
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds import (
    BarClose,
    FeedConfigError,
    FeedEvent,
    FeedOptions,
    Tick,
    create_feed,
)
from tradealerts.server.feeds.synthetic import SYMBOL_PARAMS, SyntheticFeed

START = 1_764_001_234  # 2025-11-24 16:20:34 UTC, mid-bar on every timeframe
FINEST_FIRST = sorted(Timeframe, key=lambda tf: tf.seconds)
COLUMNS = ("time", "open", "high", "low", "close", "volume")
MULTIPLE_PAIRS = [(a, b) for a, b in itertools.combinations(FINEST_FIRST, 2) if b.is_multiple_of(a)]


async def no_sleep(_: float) -> None:
    return None


def options(**kw: object) -> FeedOptions:
    base: dict[str, object] = {"start_time": START, "history_bars": 600, "sleep": no_sleep}
    base.update(kw)
    return FeedOptions(**base)  # type: ignore[arg-type]


async def started(**kw: object) -> SyntheticFeed:
    feed = create_feed("synthetic", options(**kw))
    assert isinstance(feed, SyntheticFeed)
    await feed.start()
    return feed


async def take(feed: SyntheticFeed, ticks: int) -> list[FeedEvent]:
    """Events of the stream up to and including the ``ticks``-th tick."""
    events: list[FeedEvent] = []
    n = 0
    async for ev in feed.stream():
        events.append(ev)
        n += isinstance(ev, Tick)
        if n >= ticks:
            break
    return events


def same_bars(a: Bars, b: Bars) -> bool:
    return all(np.array_equal(getattr(a, c), getattr(b, c)) for c in COLUMNS) and (
        a.forming == b.forming
    )


def assert_consistent(bars: dict[Timeframe, Bars]) -> None:
    """Wherever two timeframes overlap, the higher is exactly the lower resampled."""
    for lower, higher in MULTIPLE_PAIRS:
        built = resample(bars[lower], lower, higher)
        high = bars[higher]
        # skip the first built bucket: the lower history may start inside it
        assert len(built) > 1
        k = int(np.searchsorted(high.time, built.time[1]))
        assert k < len(high)
        for col in COLUMNS:
            assert np.array_equal(getattr(high, col)[k:], getattr(built, col)[1:]), (
                lower, higher, col)  # fmt: skip
        assert built.forming == high.forming, (lower, higher)


# -- the parameter table --------------------------------------------------------------------


def test_parameter_table_covers_every_product_symbol() -> None:
    assert sorted(SYMBOL_PARAMS) == list(ALL_SYMBOLS)
    for sym, p in SYMBOL_PARAMS.items():
        # a spread of at least one point, so ask > bid survives rounding
        assert p.spread >= 10.0**-p.digits, sym
        assert 0.001 <= p.daily_vol <= 0.05, sym
        assert round(p.price, p.digits) == p.price, sym


# -- history --------------------------------------------------------------------------------


async def test_same_seed_same_history_other_seed_other_history() -> None:
    a, b, c = await started(), await started(), await started(seed=7)
    for sym in ("EURUSD", "BTCUSD"):
        for tf in Timeframe:
            x, y, z = [await f.bars(sym, tf, 600) for f in (a, b, c)]
            assert same_bars(x, y)
            assert not np.array_equal(x.close, z.close)
    # a symbol's prices do not depend on which other symbols are served
    only = await started(symbols=("XAUUSD",))
    for tf in Timeframe:
        assert same_bars(await only.bars("XAUUSD", tf, 600), await a.bars("XAUUSD", tf, 600))


async def test_every_timeframe_has_aligned_sane_rounded_history() -> None:
    feed = await started()
    assert feed.symbols() == ALL_SYMBOLS
    for sym in ALL_SYMBOLS:
        digits = SYMBOL_PARAMS[sym].digits
        for tf in Timeframe:
            bars = await feed.bars(sym, tf, 10_000)
            assert len(bars) == 600
            assert np.all(np.diff(bars.time) == tf.seconds)  # the synthetic market never closes
            assert np.all(bars.time % tf.seconds == 0)
            assert bars.time[-1] == tf.bar_open(START) - tf.seconds
            assert np.all(bars.low <= np.minimum(bars.open, bars.close))
            assert np.all(bars.high >= np.maximum(bars.open, bars.close))
            assert np.array_equal(bars.open[1:], bars.close[:-1])  # no gaps
            for col in ("open", "high", "low", "close"):
                values = getattr(bars, col)
                assert np.array_equal(np.round(values, digits), values), (sym, tf, col)
            f = bars.forming
            assert f is not None and f.time == tf.bar_open(START)
            assert f.open == bars.close[-1]
            assert f.low <= min(f.open, f.close) and f.high >= max(f.open, f.close)


async def test_now_defaults_to_the_clock() -> None:
    feed = await started(start_time=None, clock=lambda: START + 0.9, tick_rate=2.0)
    for tf in Timeframe:
        bars = await feed.bars("EURUSD", tf, 5)
        assert bars.forming is not None and bars.forming.time == tf.bar_open(START)
    first = next(ev for ev in await take(feed, 1) if isinstance(ev, Tick))
    # live ticks carry the wall clock (at stream start, then 0.5 s per tick), not the
    # floored start the history ends at
    assert first.time == START + 0.9 + 0.5


async def test_live_pacing_does_not_drift_behind_the_clock() -> None:
    """Each step sleeps to its deadline: a slow consumer does not push every later tick
    further behind (sleeping a fixed interval fell ~4 % behind under load)."""
    now = [START + 0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds + 0.1  # every wake-up comes 0.1 s late

    feed = await started(start_time=None, clock=lambda: now[0], tick_rate=2.0, sleep=sleep)
    ticks = [ev for ev in await take(feed, 15 * 4) if isinstance(ev, Tick)]
    times = sorted({t.time for t in ticks})
    assert times == [START + 0.5 * k for k in range(1, 5)]
    assert slept[0] == 0.5 and all(abs(s - 0.4) < 1e-6 for s in slept[1:])


LEVELS = [
    ("EURUSD", 0.95, 1.2),
    ("USDJPY", 130, 170),
    ("XAUUSD", 1700, 2300),
    ("US30", 33000, 45000),
    ("BTCUSD", 40000, 90000),
]


@pytest.mark.parametrize(("sym", "lo", "hi"), LEVELS)
async def test_recent_prices_near_realistic_levels(sym: str, lo: float, hi: float) -> None:
    feed = await started()
    h1 = await feed.bars(sym, Timeframe.H1, 600)  # the last 25 days
    assert lo < h1.low.min() and h1.high.max() < hi


async def test_years_of_history_stay_around_the_level() -> None:
    feed = await started(history_bars=5000)  # 13.7 years of D1
    for sym, p in SYMBOL_PARAMS.items():
        d1 = await feed.bars(sym, Timeframe.D1, 5000)
        assert d1.forming is not None and d1.forming.close == p.price  # "now" is at the level
        # A pure random walk leaves this band for most of the 15 symbols over 5000 days
        # (its typical reach is 70 daily deviations); the mean-reverting walk stays inside.
        reach = max(math.log(d1.high.max() / p.price), -math.log(d1.low.min() / p.price))
        assert reach < 100 * p.daily_vol, sym


async def test_higher_timeframes_are_exactly_the_lower_resampled() -> None:
    assert len(MULTIPLE_PAIRS) > 20
    feed = await started(history_bars=2000)
    for sym in ("GBPUSD", "BTCUSD", "US30"):
        assert_consistent({tf: await feed.bars(sym, tf, 2000) for tf in Timeframe})


async def test_every_bar_holds_its_whole_timeframe() -> None:
    """Volume adds up over time, so it shows whether bars hold the time they claim: every
    bar's mean volume is 100 per 5 minutes, all through the history, whatever the resolution
    of the data underneath, and H12 bars at 00:00 and 12:00 are alike (no bar straddles)."""
    feed = await started()
    for tf in Timeframe:
        bars = await feed.bars("AUDUSD", tf, 600)
        per_m5 = bars.volume / (tf.seconds / 300)
        for third in np.array_split(per_m5, 3):
            assert third.mean() == pytest.approx(100, rel=0.1), tf
    # long bars sum many small volumes, so each one is close to its mean; a bar whose data
    # overlapped the next (or missed a piece) would be far off
    for sym in ALL_SYMBOLS:
        for tf in (Timeframe.H12, Timeframe.D1):
            per_m5 = (await feed.bars(sym, tf, 600)).volume / (tf.seconds / 300)
            assert np.all(np.abs(per_m5 / 100 - 1) < 0.4), (sym, tf)
    h12 = await feed.bars("AUDUSD", Timeframe.H12, 600)
    midnight = h12.time % 86_400 == 0
    assert h12.volume[midnight].mean() == pytest.approx(h12.volume[~midnight].mean(), rel=0.05)
    # the same for ranges: a 16-hour "H12" bar would be far wider than an 8-hour one
    rng = np.log(h12.high / h12.low)
    assert rng[midnight].mean() == pytest.approx(rng[~midnight].mean(), rel=0.15)


# -- live -----------------------------------------------------------------------------------


async def test_same_seed_same_ticks() -> None:
    syms = ("EURUSD", "US30")
    a = await take(await started(symbols=syms, clock_speed=60.0), 300)
    b = await take(await started(symbols=syms, clock_speed=60.0), 300)
    c = await take(await started(symbols=syms, clock_speed=60.0, seed=7), 300)
    assert a == b
    assert [e.bid for e in a if isinstance(e, Tick)] != [e.bid for e in c if isinstance(e, Tick)]


async def test_live_ticks_and_bar_closes_agree() -> None:
    syms = ("EURUSD", "XAUUSD")
    # 1 tick per second at 60x: a tick every simulated minute; 1500 of them cross 00:00 UTC
    feed = await started(symbols=syms, history_bars=400, tick_rate=1.0, clock_speed=60.0)
    before = {(s, tf): await feed.bars(s, tf, 10_000) for s in syms for tf in Timeframe}
    events = await take(feed, 1500 * len(syms))
    assert feed.status().connected

    for sym in syms:
        p = SYMBOL_PARAMS[sym]
        mine = [ev for ev in events if ev.symbol == sym]
        ticks = [ev for ev in mine if isinstance(ev, Tick)]
        assert len(ticks) == 1500
        assert [t.time for t in ticks] == [START + 60.0 * (i + 1) for i in range(1500)]
        assert abs(math.log(ticks[0].bid / p.price)) < 0.01  # continues from the last close
        for t in ticks:
            assert t.ask > t.bid and t.ask == round(t.bid + p.spread, p.digits)
            assert t.bid == round(t.bid, p.digits)

        # Before each tick come exactly the closes of the timeframes whose bucket it leaves,
        # shortest first; each closed bar is exactly the ticks of its bucket.
        prev_time = float(START)
        pending: list[BarClose] = []
        closed: dict[Timeframe, list[BarClose]] = {tf: [] for tf in Timeframe}
        for ev in mine:
            if isinstance(ev, BarClose):
                pending.append(ev)
                continue
            left = [
                tf
                for tf in FINEST_FIRST
                if tf.bar_open(int(ev.time)) != tf.bar_open(int(prev_time))
            ]
            assert [c.timeframe for c in pending] == left
            for c in pending:
                assert c.bar.time == c.timeframe.bar_open(int(prev_time))
                assert ev.time >= c.bar.time + c.timeframe.seconds
                inside = [
                    t.bid for t in ticks if c.bar.time <= t.time < c.bar.time + c.timeframe.seconds
                ]
                history = before[sym, c.timeframe].forming
                assert history is not None
                if c.bar.time == history.time:  # the bar that began in history
                    assert c.bar.open == history.open
                    assert c.bar.high == max(history.high, *inside)
                    assert c.bar.low == min(history.low, *inside)
                    assert c.bar.volume == history.volume + len(inside)
                else:
                    assert c.bar.open == inside[0]
                    assert (c.bar.high, c.bar.low) == (max(inside), min(inside))
                    assert c.bar.volume == len(inside)
                assert c.bar.close == inside[-1]
                closed[c.timeframe].append(c)
            pending = []
            prev_time = ev.time
        assert all(closed[tf] for tf in Timeframe), "every timeframe closed a bar, D1 too"
        assert len(closed[Timeframe.M5]) == 300

        # bars() holds the live-closed bars after the history, and the tick's forming bars
        after = {tf: await feed.bars(sym, tf, 10_000) for tf in Timeframe}
        for tf in Timeframe:
            n = len(before[sym, tf])
            assert len(after[tf]) == n + len(closed[tf])
            assert [after[tf][n + i] for i in range(len(closed[tf]))] == [c.bar for c in closed[tf]]
            f = after[tf].forming
            assert f is not None and f.close == ticks[-1].bid
            assert f.time == tf.bar_open(int(ticks[-1].time))
        # ... and history plus live bars are still exactly consistent across timeframes
        assert_consistent(after)
        assert feed.status().last_tick[sym] == ticks[-1].time


async def test_close_ends_the_stream_and_sleep_paces_it() -> None:
    naps: list[float] = []

    now = [float(START)]

    async def recording_sleep(seconds: float) -> None:
        naps.append(seconds)
        now[0] += seconds  # the clock moves as the feed sleeps

    feed = await started(
        symbols=("USDJPY", "ETHUSD"), tick_rate=4.0, sleep=recording_sleep, clock=lambda: now[0]
    )
    ticks = 0
    after_close = 0
    async for ev in feed.stream():  # no break: close() must end the loop by itself
        if feed.status().connected:
            ticks += isinstance(ev, Tick)
            if ticks == 9:  # USDJPY's tick of the 5th step: ETHUSD's must not follow
                await feed.close()
        else:
            after_close += 1
    assert ticks == 9 and after_close == 0
    assert naps == [0.25] * 5  # paced through options.sleep, 1/tick_rate per step
    assert not feed.status().connected
    assert [ev async for ev in feed.stream()] == []
    await feed.close()  # twice is fine


async def test_live_history_stays_bounded() -> None:
    # every tick is a new M5 bar here; the kept history must not grow without end
    feed = await started(symbols=("ETHUSD",), history_bars=20, clock_speed=300.0, tick_rate=1.0)
    events = await take(feed, 200)
    m5 = await feed.bars("ETHUSD", Timeframe.M5, 10_000)
    assert 20 <= len(m5) < 40
    last_close = [e for e in events if isinstance(e, BarClose) and e.timeframe is Timeframe.M5]
    assert m5.last() == last_close[-1].bar
    assert np.all(np.diff(m5.time) == 300)


# -- errors and the factory -----------------------------------------------------------------


async def test_bad_requests_are_feed_config_errors() -> None:
    for bad, match in [
        ({"symbols": ("DOGEUSD",)}, "no symbol DOGEUSD: use some of AUDJPY"),
        ({"symbols": ()}, "at least one symbol"),
        ({"history_bars": 0}, "history_bars must be at least 1"),
        ({"tick_rate": 0.0}, "tick_rate and clock_speed must be positive"),
        ({"clock_speed": -1.0}, "tick_rate and clock_speed must be positive"),
    ]:
        with pytest.raises(FeedConfigError, match=match):
            create_feed("synthetic", options(**bad))

    feed = create_feed("synthetic", options(symbols=("eurusd", "EURUSD")))
    with pytest.raises(FeedConfigError, match="start"):
        await feed.bars("EURUSD", Timeframe.H1, 10)
    with pytest.raises(FeedConfigError, match="start"):
        await anext(aiter(feed.stream()))
    await feed.start()
    assert feed.symbols() == ("EURUSD",)  # normalised, without repeats
    assert feed.timeframes("EURUSD") == tuple(FINEST_FIRST)
    with pytest.raises(FeedConfigError, match="does not serve 'GBPUSD': it serves EURUSD"):
        await feed.bars("GBPUSD", Timeframe.H1, 10)
    with pytest.raises(FeedConfigError, match="Unknown timeframe 'H3'"):
        await feed.bars("EURUSD", "H3", 10)  # type: ignore[arg-type]
    assert same_bars(
        await feed.bars("eurusd", "h4", 10),  # type: ignore[arg-type]
        await feed.bars("EURUSD", Timeframe.H4, 10),
    )
    assert len(await feed.bars("EURUSD", Timeframe.H4, 10)) == 10


def test_create_feed_builds_the_synthetic_feed() -> None:
    feed = create_feed("synthetic")
    assert isinstance(feed, SyntheticFeed) and feed.name == "synthetic"
    assert feed.symbols() == ALL_SYMBOLS


def test_bad_feed_spec_is_refused() -> None:
    with pytest.raises(FeedConfigError, match="unknown feed 'csv:x'"):
        create_feed("csv:x")
    with pytest.raises(FeedConfigError, match="mt5-rpyc://HOST:PORT"):
        create_feed("mt5-rpyc://nohost")
