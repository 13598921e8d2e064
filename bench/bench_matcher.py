"""Alert matching: 1,000,000 active level/channel alerts over the 15 symbols, a replayed
(seeded random-walk) tick stream. Prints ticks/s with no alert firing, the cost per fired
alert, and the ratio to a linear scan of the same alerts (bench/baseline_matcher.py).

Mixed in (issue #15): per symbol, 1,000 more tick alerts with a cooldown and max_fires, and
500 closed-bar alerts (line_bounce, line_break / trendline_break with buffer and
confirm_bars); a closed bar with them all is timed on a series with real indicators.
Exits 1 when a target is missed."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from baseline_matcher import ScanAlert, ScanMatcher, window_seconds
from benchkit import Targets, smoke
from tradealerts.core.alerts import AlertCreate, Condition, Frequency
from tradealerts.core.bars import Bar, Bars
from tradealerts.core.indicators import IndicatorState
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.alerts import CONDITIONS, Alert, AlertBook, SymbolMatcher
from tradealerts.server.engine import MarketState, SeriesState
from tradealerts.server.feeds import BarClose, Tick

TOTAL = smoke(1_000_000, 20_000)
QUIET_TICKS = smoke(300_000, 5_000)
SCAN_TICKS = 20
T0 = 1_700_002_800
MID = {
    "AUDJPY": 97.0, "AUDUSD": 0.66, "BTCUSD": 65000.0, "ETHUSD": 3200.0, "EURUSD": 1.08,
    "GBPJPY": 190.0, "GBPUSD": 1.27, "NDX100": 18000.0, "NZDUSD": 0.61, "US30": 39000.0,
    "USDCAD": 1.36, "USDCHF": 0.88, "USDJPY": 150.0, "XAGUSD": 28.0, "XAUUSD": 2300.0,
}  # fmt: skip
BAND = 0.005  # the walk stays within mid ± 0.5 %; quiet alerts sit 1-20 % away
C = Condition
LEVELS = [C.greater_than, C.less_than, C.crossing, C.crossing_up, C.crossing_down]
CHANNELS = [C.entering_channel, C.exiting_channel, C.inside_channel, C.outside_channel]
FREQS = [(Frequency.once_per_bar, 0.6), (Frequency.once, 0.2), (Frequency.once_per_minute, 0.2)]
# per symbol: tick alerts with cooldown and max_fires (ids from TOTAL on)
MIXED_TICK = smoke(1_000, 50)
MIXED_BAR = smoke(500, 20)  # per symbol: closed-bar fractal alerts with the new options
HISTORY_BARS = 2_000


def mixed_alerts(rng: np.random.Generator, sym: str, first_id: int) -> list[Alert]:
    """The issue-15 alerts of one symbol: quiet tick alerts with cooldown/max_fires, and
    closed-bar fractal alerts (they never see ticks)."""
    mid = MID[sym]
    out = []
    for k in range(MIXED_TICK):
        above = k % 2 == 0
        level = mid * (1 + rng.uniform(0.01, 0.2)) if above else mid * (1 - rng.uniform(0.01, 0.2))
        cond = (C.greater_than if above else C.less_than) if k % 3 == 0 else C.crossing
        cooldown, max_fires = int(rng.integers(60, 7200)), int(rng.integers(1, 50))
        spec = AlertCreate(symbol=sym, timeframe=Timeframe.H1, condition=cond, level=level,
                           frequency=Frequency.once_per_minute, cooldown=cooldown,
                           max_fires=max_fires)  # fmt: skip
        out.append(Alert(first_id + k, 7, spec))
    for k in range(MIXED_BAR):
        kind = k % 3
        if kind == 0:
            spec = AlertCreate(symbol=sym, timeframe=Timeframe.H1, condition=C.line_bounce,
                               distance=mid * 0.0005, frequency=Frequency.once_per_bar,
                               cooldown=3600)  # fmt: skip
        else:
            spec = AlertCreate(symbol=sym, timeframe=Timeframe.H1,
                               condition=C.line_break if kind == 1 else C.trendline_break,
                               buffer=mid * 0.0002, confirm_bars=1 + k % 3,
                               frequency=Frequency.once_per_bar, max_fires=10)  # fmt: skip
        out.append(Alert(first_id + MIXED_TICK + k, 7, spec))
    return out


def quiet_alerts(
    rng: np.random.Generator, mid: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditions, a, b of ``n`` alerts none of which fires while the price stays in the band:
    state alerts that do not hold, crossings and channels away from the band."""
    cond = rng.choice(len(LEVELS) + len(CHANNELS), n, p=[0.14] * 5 + [0.075] * 4)
    above = rng.random(n) < 0.5
    off = rng.uniform(0.01, 0.2, n)
    a = np.where(above, mid * (1 + off), mid * (1 - off))
    width = mid * rng.uniform(0.001, 0.03, n)
    b = np.where(above, a + width, a)
    a = np.where(above, a, a - width)  # channels entirely above or below the band
    names = [*LEVELS, *CHANNELS]
    codes = np.array([CONDITIONS.index(names[i]) for i in cond], np.uint8)
    # never true in the band: greater_than above it, less_than below it
    gt, lt = codes == CONDITIONS.index(C.greater_than), codes == CONDITIONS.index(C.less_than)
    a = np.where(gt, np.maximum(a, mid * 1.01), np.where(lt, np.minimum(a, mid * 0.99), a))
    # exiting/outside: a channel around the band, which the price never leaves
    around = np.isin(
        codes, [CONDITIONS.index(C.exiting_channel), CONDITIONS.index(C.outside_channel)]
    )
    a = np.where(around, mid * (1 - off), a)
    b = np.where(around, mid * (1 + off[::-1]), b)
    return codes, a, b


def build(rng: np.random.Generator) -> tuple[AlertBook, dict[str, tuple[np.ndarray, ...]]]:
    book = AlertBook()
    per = TOTAL // len(ALL_SYMBOLS)
    kept: dict[str, tuple[np.ndarray, ...]] = {}
    next_id = 0
    mixed_id = TOTAL
    for s_i, sym in enumerate(ALL_SYMBOLS):
        n = per + (TOTAL - per * len(ALL_SYMBOLS) if s_i == 0 else 0)
        codes, a, b = quiet_alerts(rng, MID[sym], n)
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        freq = rng.choice(len(FREQS), n, p=[p for _, p in FREQS])
        ask = rng.random(n) < 0.1
        m = book.matchers[sym] = SymbolMatcher(sym)
        for alert in mixed_alerts(rng, sym, mixed_id):  # before the bulk load: one index build
            m.add(alert)
        mixed_id += MIXED_TICK + MIXED_BAR
        for f_i, (frequency, _) in enumerate(FREQS):
            for source in (0, 1):
                pick = (freq == f_i) & (ask == bool(source))
                m.load_levels(
                    ids[pick], ids[pick] % 50_000, codes[pick], a[pick], b[pick],
                    frequency=frequency, timeframe=Timeframe.H1, source=source,
                )  # fmt: skip
        kept[sym] = (ids, codes, a, b, freq, ask)
    return book, kept


def tick_stream(rng: np.random.Generator, count: int, t_start: float) -> list[Tick]:
    syms = rng.integers(0, len(ALL_SYMBOLS), count)
    steps = rng.normal(0, BAND / 40, count)
    level = {s: 0.0 for s in ALL_SYMBOLS}
    ticks = []
    for i, (s_i, step) in enumerate(zip(syms.tolist(), steps.tolist(), strict=True)):
        sym = ALL_SYMBOLS[s_i]
        x = level[sym] + step
        x = BAND * 0.9 - abs(BAND * 0.9 - x) if x > 0 else -(BAND * 0.9 - abs(BAND * 0.9 + x))
        level[sym] = x
        bid = MID[sym] * (1 + x)
        ticks.append(Tick(sym, t_start + i * 0.01, bid, bid * 1.00005))
    return ticks


def main() -> None:
    targets = Targets()
    t_begin = time.perf_counter()
    rng = np.random.default_rng(42)
    t0 = time.perf_counter()
    book, kept = build(rng)
    load_s = time.perf_counter() - t0
    market = MarketState()
    warm = time.perf_counter()
    for sym in ALL_SYMBOLS:  # first ticks: every new alert is checked once in full
        assert not book.on_tick(Tick(sym, T0, MID[sym], MID[sym] * 1.00005), market).fired
    warm_s = time.perf_counter() - warm
    ticks = tick_stream(rng, QUIET_TICKS, T0 + 1)
    fired = 0
    on_tick = book.on_tick
    t0 = time.perf_counter()
    for tick in ticks:
        fired += len(on_tick(tick, market).fired)
    quiet_s = time.perf_counter() - t0
    assert fired == 0, fired
    rate = QUIET_TICKS / quiet_s
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mixed = (MIXED_TICK + MIXED_BAR) * len(ALL_SYMBOLS)
    print(f"{len(book):,} active alerts over {len(ALL_SYMBOLS)} symbols ({mixed:,} of them with "
          f"issue-15 conditions/options): loaded in {load_s:.2f} s, "
          f"first full check {warm_s:.2f} s, peak RSS {rss:.0f} MB")  # fmt: skip
    print(f"quiet ticks (no alert firing): {rate:,.0f} ticks/s, {1e6 / rate:.2f} us/tick  "
          + targets.at_least(rate, 100_000, " ticks/s", "quiet ticks"))  # fmt: skip

    # the linear scan, on one symbol's alerts (a tick only ever concerns its own symbol)
    sym = "EURUSD"
    ids, codes, a, b, freq, ask = kept[sym]
    scan = ScanMatcher([
        ScanAlert(i, CONDITIONS[c].value, x, y, k, window_seconds(FREQS[f][0].value, Timeframe.H1))
        for i, c, x, y, f, k in zip(ids.tolist(), codes.tolist(), a.tolist(), b.tolist(),
                                    freq.tolist(), ask.tolist(), strict=True)
    ])  # fmt: skip
    mine = [t for t in ticks if t.symbol == sym][: SCAN_TICKS + 1]
    scan.on_tick(T0, MID[sym], MID[sym] * 1.00005)
    t0 = time.perf_counter()
    for t in mine[:SCAN_TICKS]:
        assert scan.on_tick(t.time, t.bid, t.ask) == []
    scan_s = (time.perf_counter() - t0) / SCAN_TICKS
    print(f"linear scan of the same alerts ({len(ids):,} on {sym}): {1 / scan_s:,.0f} ticks/s; "
          f"index {rate * scan_s:,.0f}x faster  "
          + targets.at_least(rate * scan_s, 1000, "x", "index vs scan"))  # fmt: skip
    vector_s = numpy_scan_seconds(a, b, mine)
    print(f"(for scale: the same scan vectorised in numpy: {1 / vector_s:,.0f} ticks/s; "
          f"index {rate * vector_s:,.0f}x faster)")  # fmt: skip

    firing(book, market, scan, sym, mine[-1].time + 60)
    closed_bar(book, market, rng, targets)
    print(f"total {time.perf_counter() - t_begin:.1f} s")
    targets.exit()


def numpy_scan_seconds(a: np.ndarray, b: np.ndarray, ticks: list[Tick]) -> float:
    """Per tick: every alert's condition evaluated at once (the cost of touching all of them)."""
    t0 = time.perf_counter()
    prev = ticks[0].bid
    for t in ticks[1:]:
        p = t.bid
        hits = (a > p) | (a < p) | ((prev < a) & (a <= p)) | ((a <= p) & (p <= b))
        hits.sum()
        prev = p
    return (time.perf_counter() - t0) / (len(ticks) - 1)


def firing(book: AlertBook, market: MarketState, scan: ScanMatcher, sym: str, start: float) -> None:
    """Prices swept far out of the band and back, a minute apart: thousands fire per tick."""
    mid = MID[sym]
    path = [mid * (1 + x) for x in (0.0, 0.015, 0.0, -0.012, 0.0, 0.03, -0.03, 0.0, 0.05, 0.0)]
    quiet = Tick(sym, start - 30, mid, mid * 1.00005)
    book.on_tick(quiet, market)
    scan.on_tick(quiet.time, quiet.bid, quiet.ask)
    fired = 0
    elapsed = 0.0
    for i, p in enumerate(path):
        tick = Tick(sym, start + 60 * i, p, p * 1.00005)
        t0 = time.perf_counter()
        result = book.on_tick(tick, market)
        elapsed += time.perf_counter() - t0
        fired += len(result.fired)
        # the scan fires the same alerts (it shares no code with the index); the mixed-in
        # cooldown/max_fires alerts (ids from TOTAL on) are not in the scan
        got = [f.alert_id for f in result.fired if f.alert_id < TOTAL]
        assert got == scan.on_tick(tick.time, tick.bid, tick.ask)
    per = elapsed / fired
    print(f"firing: {fired:,} fires in {len(path)} ticks (same as the scan), "
          f"{per * 1e6:.2f} us per fired alert (Fired + message + bookkeeping)")  # fmt: skip


def closed_bar(
    book: AlertBook, market: MarketState, rng: np.random.Generator, targets: Targets
) -> None:
    """A bar of EURUSD H1 closes with its 500 closed-bar fractal alerts (bounce, buffered and
    confirmed breaks) over a 2,000-bar series with its real indicators."""
    sym, tf = "EURUSD", Timeframe.H1
    close = MID[sym] * (1 + np.cumsum(rng.normal(0, 0.002, HISTORY_BARS + 50)))
    high = close * (1 + rng.uniform(0, 0.002, close.size))
    low = close * (1 - rng.uniform(0, 0.002, close.size))
    times = T0 - (HISTORY_BARS - np.arange(close.size)) * tf.seconds
    h = slice(0, HISTORY_BARS)
    bars = Bars(times[h], close[h], high[h], low[h], close[h])
    market.series[(sym, tf)] = SeriesState(
        sym, tf, bars, IndicatorState.from_arrays(high[h], low[h], close[h])
    )
    elapsed, fired = [], 0
    for i in range(HISTORY_BARS, close.size):
        event = BarClose(sym, tf, Bar(int(times[i]), close[i], high[i], low[i], close[i]))
        changes = market.apply(event)
        t0 = time.perf_counter()
        fired += len(book.on_bar(event, changes, market).fired)
        elapsed.append(time.perf_counter() - t0)
    worst = max(elapsed)
    print(f"closed bars with {MIXED_BAR} fractal alerts (bounce, buffer, confirm_bars): "
          f"median {np.median(elapsed) * 1e3:.2f} ms, worst {worst * 1e3:.2f} ms per close, "
          f"{fired} fires in {close.size - HISTORY_BARS} closes  "
          + targets.at_most(worst * 1e3, 100, " ms", "closed bar with fractal alerts"))  # fmt: skip


if __name__ == "__main__":
    main()
