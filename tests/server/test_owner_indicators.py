"""The buffer map's layouts turned into lines (``OwnerIndicators``), redraws when the bridge
is late, and ``compare_lines``' moved lines: no server, the real classes on small series."""

from __future__ import annotations

import numpy as np
from tests.server.bridgekit import read_bars
from tests.server.serverkit import DATA

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.indicators import IndicatorState, find_fractals
from tradealerts.core.ingest import EMPTY_VALUE, BufferMap, LinesSource
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.engine.market import MarketState, SeriesState
from tradealerts.server.engine.owner_lines import OwnerIndicators, OwnerLines, Row
from tradealerts.server.engine.payload import indicator_payload
from tradealerts.server.lines_compare import compare_lines

H1 = 3600
T0 = 1_730_000_000 - 1_730_000_000 % H1


def flat_bars(closes: list[float]) -> Bars:
    n = len(closes)
    c = np.array(closes)
    return Bars([T0 + i * H1 for i in range(n)], c, c + 0.001, c - 0.001, c, np.ones(n))


def replay_bars() -> Bars:
    b = read_bars(DATA / "eurusd_h1.csv")
    return Bars(b["time"], b["open"], b["high"], b["low"], b["close"])


def our_fractals(bars: Bars, n: int = 2) -> dict[int, Row]:
    up, down = find_fractals(bars.high, bars.low, n)
    rows: dict[int, Row] = {int(t): {0: EMPTY_VALUE, 1: None} for t in bars.time}
    for i in up:
        rows[int(bars.time[i])][0] = float(bars.high[i])
    for i in down:
        rows[int(bars.time[i])][1] = float(bars.low[i])
    return rows


def test_fed_our_own_fractals_the_owners_lines_are_our_spec_whole_and_bar_by_bar() -> None:
    bars = replay_bars()
    values = our_fractals(bars)
    ref = IndicatorState.from_arrays(bars.high, bars.low, bars.close, 2)
    whole = OwnerIndicators.build(BufferMap(), values, bars)
    assert list(whole.horizontal) == list(ref.horizontal)
    assert list(whole.diagonal) == list(ref.diagonal)
    part = Bars(bars.time[:600], bars.open[:600], bars.high[:600], bars.low[:600],
                bars.close[:600])  # fmt: skip
    grown = OwnerIndicators.build(BufferMap(), values, part)
    step = IndicatorState.from_arrays(part.high, part.low, part.close, 2)
    for i in range(600, len(bars)):
        part.append(bars[i])
        got = grown.update(bars.high[i], bars.low[i], bars.close[i])
        want = step.update(bars.high[i], bars.low[i], bars.close[i])
        assert got == want, i
    assert list(grown.diagonal) == list(ref.diagonal)


def test_a_redraw_equals_the_owners_marks_applied_bar_by_bar() -> None:
    """The fractals layout's redraw (batch functions) against ``update`` bar by bar, on marks
    of another window (1) with some prices the owner's indicator puts elsewhere."""
    bars = replay_bars()
    values = our_fractals(bars, 1)
    for k, t in enumerate(sorted(values)):
        if k % 7 == 0 and values[t][0] != EMPTY_VALUE:
            values[t][0] = float(values[t][0] or 0) + 0.0003
    bmap = BufferMap(confirm_bars=1)
    whole = OwnerIndicators.build(bmap, values, bars)
    part = Bars(bars.time[:5], bars.open[:5], bars.high[:5], bars.low[:5], bars.close[:5])
    grown = OwnerIndicators.build(bmap, values, part)
    for i in range(5, len(bars)):
        part.append(bars[i])
        grown.update(bars.high[i], bars.low[i], bars.close[i])
    assert len(whole.horizontal) > 300
    assert list(whole.horizontal) == list(grown.horizontal)
    assert list(whole.diagonal) == list(grown.diagonal)
    assert list(whole.up_price) == list(grown.up_price)
    assert whole.active_horizontal() == grown.active_horizontal()
    assert whole.active_diagonal() == grown.active_diagonal()


def test_level_buffers_draw_one_line_per_run_and_end_it_where_the_buffer_does() -> None:
    closes = [1.0] * 14
    closes[7] = 1.5  # a close far above the level: the owner's rule, not ours, ends it
    bars = flat_bars(closes)
    level = [None] * 5 + [1.10] * 5 + [1.12] + [EMPTY_VALUE] * 3
    values: dict[int, Row] = {
        int(t): {0: None, 1: None, 2: v} for t, v in zip(bars.time, level, strict=True)
    }
    del values[int(bars.time[8])]  # a bar the bridge has not sent: the line goes on
    bmap = BufferMap(resistance_levels=[2])
    ind = OwnerIndicators.build(bmap, values, bars)
    st = SeriesState("EURUSD", Timeframe.H1, bars, ind)
    lines = indicator_payload(st, 14)["horizontal_lines"]
    assert [(ln["id"], ln["price"], ln["origin_time"], ln["confirmed_time"], ln["broken_time"])
            for ln in lines] == [
        (f"hr-{T0 + 5 * H1}", 1.10, T0 + 5 * H1, T0 + 5 * H1, T0 + 10 * H1),
        (f"hr-{T0 + 10 * H1}", 1.12, T0 + 10 * H1, T0 + 10 * H1, T0 + 11 * H1),
    ]  # fmt: skip
    bars.append(Bar(T0 + 14 * H1, 1.0, 1.001, 0.999, 1.0, 1.0))
    values[T0 + 14 * H1] = {2: 1.2}
    ch = ind.update(1.001, 0.999, 1.0)
    assert ch.new_horizontal and ind.active_horizontal()[0].price == 1.2


def test_anchor_buffers_draw_trendlines_through_consecutive_anchors() -> None:
    closes = [1.0 + 0.01 * i for i in range(12)]
    closes[11] = 0.9  # closes under the support trendline: broken, by our rule
    bars = flat_bars(closes)
    anchors = {2: 1.01, 6: 1.05, 9: 1.08}
    values: dict[int, Row] = {
        int(t): {0: None, 1: None, 3: anchors.get(i)} for i, t in enumerate(bars.time)
    }
    bmap = BufferMap(support_anchors=3, confirm_bars=1)
    ind = OwnerIndicators.build(bmap, values, bars)
    assert [(d.i1, d.p1, d.i2, d.p2, d.broken) for d in ind.diagonal] == [
        (2, 1.01, 6, 1.05, 11),
        (6, 1.05, 9, 1.08, 11),
    ]
    assert len(ind.down) == 0 and len(ind.horizontal) == 0  # no fractal buffer data


def test_values_that_come_after_the_bar_closed_redraw_and_report_the_break_late() -> None:
    closes = [1.0] * 10
    bars = flat_bars(closes)
    bmap = BufferMap(support_levels=[2], up_fractal=None, down_fractal=None)
    owner = OwnerLines(bmap, LinesSource.parse("mt5"))
    market = MarketState(make_indicators=owner.indicators)
    owner.market = market
    key = ("EURUSD", Timeframe.H1)
    owner.received(*key, {int(t): {2: 0.95} for t in bars.time})  # before the feed: no redraw
    st = SeriesState("EURUSD", Timeframe.H1, bars, owner.indicators(*key, bars, 2))
    market.series[key] = st
    assert [ln.price for ln in st.indicators.active_horizontal()] == [0.95]
    # bar 10 closes in the feed before the bridge sends it
    st.on_bar(Bar(T0 + 10 * H1, 1.0, 1.001, 0.999, 1.0, 1.0))
    assert len(st.indicators.active_horizontal()) == 1
    version = st.tick_version
    assert owner.received(*key, {T0 + 10 * H1: {2: None}})  # the owner's level ended there
    assert st.tick_version == version + 1
    assert st.indicators.active_horizontal() == []
    assert st.indicators.horizontal[0].broken == 10
    assert owner.received(*key, {T0: {2: 0.95}})  # another redraw before the next close
    # the alert engine saw it active: the next bar close reports the break
    ch = st.on_bar(Bar(T0 + 11 * H1, 1.0, 1.001, 0.999, 1.0, 1.0))
    assert ch is not None and ch.broken_horizontal == [0]
    health = owner.health()
    assert health["series"]["EURUSD:H1"]["source"] == "mt5"
    assert health["status"] == "ok"


def test_compare_reports_a_line_the_owner_draws_at_another_price_as_moved() -> None:
    bars = replay_bars()
    values = our_fractals(bars)
    assert compare_lines("EURUSD", Timeframe.H1, bars, values, BufferMap())["differences"] == []
    t = next(t for t in sorted(values, reverse=True) if values[t][0] != EMPTY_VALUE)
    price = values[t][0]
    assert isinstance(price, float)
    values[t][0] = price + 0.0002  # the owner's indicator marks this fractal higher
    got = compare_lines("EURUSD", Timeframe.H1, bars, values, BufferMap())
    moved = [d for d in got["differences"] if d["status"] == "moved"]
    assert f"hr-{t}" in {d["id"] for d in moved}
    mine = next(d for d in moved if d["id"] == f"hr-{t}")
    assert mine["computed"]["price"] == price and mine["owner"]["price"] == price + 0.0002
    assert {d["status"] for d in got["differences"]} == {"moved"}


def test_lines_source_reads_a_default_and_per_series_choices() -> None:
    src = LinesSource.parse("computed, eurusd:h1=mt5, XAUUSD=mt5")
    assert src.of("EURUSD", "H1") == "mt5" and src.of("EURUSD", "H4") == "computed"
    assert src.of("XAUUSD", "D1") == "mt5" and src.uses_mt5
    assert not LinesSource.parse("computed").uses_mt5


def test_an_engine_apart_from_the_api_processes_takes_what_they_stored(db_url: str) -> None:
    """Scaled out, the bridge's posts land in an API process: the engine reads the rows
    they stored (``received_since``) and redraws, and reading them again changes nothing."""
    from datetime import UTC, datetime

    from tradealerts.server.db.migrate import upgrade
    from tradealerts.server.db.session import make_engine, make_sessionmaker
    from tradealerts.server.ingest.store import received_since, write_values

    db = make_engine(db_url)
    upgrade(db)
    sessions = make_sessionmaker(db)
    bars = flat_bars([1.0] * 10)
    owner = OwnerLines(BufferMap(support_levels=[2], up_fractal=None, down_fractal=None),
                       LinesSource.parse("computed,EURUSD=mt5"))  # fmt: skip
    market = MarketState(make_indicators=owner.indicators)
    owner.market = market
    key = ("EURUSD", Timeframe.H1)
    st = SeriesState("EURUSD", Timeframe.H1, bars, owner.indicators(*key, bars, 2))
    market.series[key] = st
    assert st.indicators.active_horizontal() == []
    now = datetime.now(UTC)
    with sessions() as s:  # what the API process's route does
        write_values(s, "EURUSD", "H1", {int(t): {2: 0.95} for t in bars.time}, now)
        write_values(s, "GBPUSD", "H1", {int(bars.time[0]): {2: 1.25}}, now)  # computed: kept out
        s.commit()
    version = st.tick_version
    with sessions() as s:
        rows = received_since(s, owner.synced_since, owner.wanted)
    assert owner.apply_stored(rows) == 1
    assert [ln.price for ln in st.indicators.active_horizontal()] == [0.95]
    assert st.tick_version == version + 1
    assert ("GBPUSD", Timeframe.H1) not in owner.values
    with sessions() as s:
        again = received_since(s, owner.synced_since, owner.wanted)
    assert again and owner.apply_stored(again) == 0  # the same rows: no redraw
    assert st.tick_version == version + 1
    assert owner.health()["series"]["EURUSD:H1"]["last_sent"] is not None
    db.dispose()
