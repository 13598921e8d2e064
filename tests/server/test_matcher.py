"""The alert matcher: every condition and frequency on hand-made ticks and bars, the fractal
conditions on a real IndicatorState, and a property holding the index to a brute-force scan."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradealerts.core.alerts import AlertStatus, Condition, Frequency, validate_alert
from tradealerts.core.bars import Bar, Bars
from tradealerts.core.indicators import IndicatorState
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.alerts import CONDITIONS, Alert, AlertBook, MatchResult, find_line
from tradealerts.server.alerts.matcher import SymbolMatcher
from tradealerts.server.engine import Engine, MarketState, SeriesState
from tradealerts.server.engine.payload import diagonal_line_id, horizontal_line_id
from tradealerts.server.feeds import BarClose, FeedOptions, Tick
from tradealerts.server.feeds.synthetic import SyntheticFeed

SYM = "EURUSD"
H1 = Timeframe.H1
T0 = 1_700_002_800  # an H1 bar open, and so a minute and an M5/M15 bar open too
VALIDATION_NOW = datetime(2023, 1, 1, tzinfo=UTC)  # before every tick below


def alert(alert_id: int, condition: str, user: int = 1, **values: Any) -> Alert:
    data = {"symbol": SYM, "timeframe": "H1", "condition": condition} | values
    return Alert(alert_id, user, validate_alert(data, now=VALIDATION_NOW))


def series(
    tf: Timeframe,
    close: list[float],
    high: list[float] | None = None,
    low: list[float] | None = None,
    symbol: str = SYM,
) -> SeriesState:
    """Closed bars ending just before T0, with the real indicators over them."""
    n = len(close)
    hi = high if high is not None else [c + 0.001 for c in close]
    lo = low if low is not None else [c - 0.001 for c in close]
    times = [T0 - (n - i) * tf.seconds for i in range(n)]
    bars = Bars(times, close, hi, lo, close)
    return SeriesState(symbol, tf, bars, IndicatorState.from_arrays(hi, lo, close, 2))


class Run:
    """Drives an AlertBook like the engine: the market takes the event, then the matcher."""

    def __init__(self, *states: SeriesState) -> None:
        self.market = MarketState()
        for s in states:
            self.market.series[(s.symbol, s.timeframe)] = s
        self.book = AlertBook()

    def add(self, *alerts: Alert) -> Run:
        for a in alerts:
            self.book.add(a)
        return self

    def tick(
        self, t: float, bid: float, ask: float | None = None, symbol: str = SYM
    ) -> MatchResult:
        tick = Tick(symbol, t, bid, bid + 0.0001 if ask is None else ask)
        self.market.apply(tick)
        return self.book.on_tick(tick, self.market)

    def close(self, tf: Timeframe = H1, bar: Bar | None = None) -> MatchResult:
        """Close the forming bar of ``tf`` (or the given bar)."""
        st_ = self.market.series[(SYM, tf)]
        closed = bar if bar is not None else st_.bars.forming
        assert closed is not None
        event = BarClose(SYM, tf, closed)
        changes = self.market.apply(event)
        return self.book.on_bar(event, changes, self.market)

    def walk(self, prices: list[float], step: float = 3600.0, start: float = T0) -> list[list[int]]:
        """Ticks ``step`` apart; the ids fired by each."""
        return [ids(self.tick(start + i * step, p)) for i, p in enumerate(prices)]


def ids(result: MatchResult) -> list[int]:
    return [f.alert_id for f in result.fired]


def fired_at(walked: list[list[int]], alert_id: int = 1) -> list[int]:
    return [i for i, got in enumerate(walked) if alert_id in got]


# -- levels (each tick in a new bar, so once_per_bar never holds a fire back) ---------------
def per_bar(alert_id: int, condition: str, **values: Any) -> Alert:
    return alert(alert_id, condition, frequency="once_per_bar", **values)


def test_crossing_up_fires_on_an_exact_touch_from_below_and_not_again_from_the_level() -> None:
    walked = (
        Run()
        .add(per_bar(1, "crossing_up", level=1.1))
        .walk([1.099, 1.1, 1.101, 1.099, 1.1, 1.1, 1.102])
    )
    # prev < level <= price: 1.099 -> 1.1 fires; 1.1 -> 1.101 does not (prev == level)
    assert fired_at(walked) == [1, 4]


def test_crossing_up_across_a_gap_fires_once_with_the_level_and_the_price() -> None:
    run = Run().add(per_bar(1, "crossing_up", level=1.1))
    run.tick(T0, 1.09)
    result = run.tick(T0 + 3600, 1.11)
    assert [(f.level, f.price, f.time) for f in result.fired] == [(1.1, 1.11, T0 + 3600)]


def test_crossing_down_mirrors_crossing_up() -> None:
    walked = (
        Run()
        .add(per_bar(1, "crossing_down", level=1.1))
        .walk([1.101, 1.1, 1.099, 1.101, 1.1, 1.12, 1.08])
    )
    assert fired_at(walked) == [1, 4, 6]


def test_crossing_fires_both_ways_and_a_touch_and_return_once() -> None:
    walked = (
        Run().add(per_bar(1, "crossing", level=1.1)).walk([1.099, 1.1, 1.099, 1.101, 1.099, 1.2])
    )
    # 1.099 -> 1.1 up; 1.1 -> 1.099 is not a crossing (prev == level); then up, down, up
    assert fired_at(walked) == [1, 3, 4, 5]


def test_greater_than_is_strict_and_fires_once_per_bar_while_it_holds() -> None:
    walked = (
        Run().add(per_bar(1, "greater_than", level=1.1)).walk([1.1, 1.1001, 1.1001, 1.0999, 1.2])
    )
    assert fired_at(walked) == [1, 2, 4]


def test_less_than_is_strict() -> None:
    walked = Run().add(per_bar(1, "less_than", level=1.1)).walk([1.1, 1.0999, 1.1, 1.05])
    assert fired_at(walked) == [1, 3]


def test_first_tick_ever_crossings_need_a_previous_price_states_do_not() -> None:
    run = Run().add(per_bar(1, "crossing_down", level=1.1), per_bar(2, "less_than", level=1.1))
    assert ids(run.tick(T0, 1.05)) == [2]


def test_alert_created_between_ticks_compares_with_the_tick_before_it() -> None:
    run = Run()
    run.tick(T0, 1.099)  # no alert exists yet
    run.add(per_bar(1, "crossing_up", level=1.1))
    assert ids(run.tick(T0 + 1, 1.101)) == [1]


def test_state_alert_fires_on_its_first_tick_when_it_already_holds() -> None:
    run = Run()
    run.tick(T0, 1.2)
    run.add(alert(1, "greater_than", level=1.1))
    result = run.tick(T0 + 1, 1.2)  # no move at all
    assert ids(result) == [1] and result.fired[0].status is AlertStatus.triggered


# -- channels --------------------------------------------------------------------------------
CHANNEL = {"lower": 1.1, "upper": 1.2}
CHANNEL_WALK = [1.05, 1.1, 1.15, 1.25, 1.2, 1.05, 1.25, 1.05, 1.15]


def test_entering_channel_edges_count_as_inside_and_a_jump_across_is_not_entering() -> None:
    run = Run().add(per_bar(1, "entering_channel", **CHANNEL))
    results = [run.tick(T0 + i * 3600, p) for i, p in enumerate(CHANNEL_WALK)]
    fired = [(i, r.fired[0].level) for i, r in enumerate(results) if r.fired]
    # enter at exactly lower, at exactly upper from above, then from below after two jumps
    assert fired == [(1, 1.1), (4, 1.2), (8, 1.1)]


def test_exiting_channel_from_inside_only() -> None:
    run = Run().add(per_bar(1, "exiting_channel", **CHANNEL))
    results = [run.tick(T0 + i * 3600, p) for i, p in enumerate(CHANNEL_WALK)]
    fired = [(i, r.fired[0].level) for i, r in enumerate(results) if r.fired]
    # 1.15 -> 1.25 leaves through upper, 1.2 -> 1.05 through lower; jumps across are neither
    assert fired == [(3, 1.2), (5, 1.1)]


def test_reaching_an_edge_from_inside_is_not_exiting() -> None:
    walked = Run().add(per_bar(1, "exiting_channel", **CHANNEL)).walk([1.15, 1.2, 1.1, 1.0999])
    assert fired_at(walked) == [3]


def test_inside_and_outside_channel_are_states() -> None:
    run = Run().add(
        per_bar(1, "inside_channel", **CHANNEL), per_bar(2, "outside_channel", **CHANNEL)
    )
    walked = run.walk([1.05, 1.1, 1.12, 1.2, 1.2001, 1.3])
    assert fired_at(walked, 1) == [1, 2, 3]
    assert fired_at(walked, 2) == [0, 4, 5]


def test_inside_channel_reports_the_nearer_edge() -> None:
    run = Run().add(per_bar(1, "inside_channel", lower=1.0, upper=2.0))
    assert run.tick(T0, 1.75).fired[0].level == 2.0
    assert run.tick(T0 + 3600, 1.25).fired[0].level == 1.0
    assert run.tick(T0 + 7200, 1.5).fired[0].level == 1.0  # a tie goes to lower


# -- frequencies -----------------------------------------------------------------------------
def test_once_fires_then_the_alert_is_triggered_and_silent() -> None:
    run = Run().add(alert(1, "crossing_up", level=1.1))
    results = [run.tick(T0 + i, p) for i, p in enumerate([1.09, 1.11, 1.09, 1.11])]
    assert [ids(r) for r in results] == [[], [1], [], []]
    change = results[1].changed
    assert [(c.alert_id, c.status, c.reason) for c in change] == [
        (1, AlertStatus.triggered, "triggered")
    ]
    assert len(run.book) == 0


def test_once_per_bar_is_one_fire_per_bar_of_the_alerts_timeframe() -> None:
    run = Run().add(per_bar(1, "greater_than", level=1.1))
    ticks = [
        (T0, 1.11, True),
        (T0 + 10, 1.12, False),
        (T0 + 3599.9, 1.13, False),
        (T0 + 3600, 1.13, True),  # the first tick of the next bar, exactly at its open
        (T0 + 3700, 1.09, False),
        (T0 + 3800, 1.11, False),  # holds again, but this bar already fired
        (T0 + 7200, 1.105, True),
    ]
    assert [bool(run.tick(t, p).fired) for t, p, _ in ticks] == [want for *_, want in ticks]


def test_once_per_bar_crossing_twice_in_a_bar_fires_once() -> None:
    run = Run().add(per_bar(1, "crossing_up", level=1.1))
    prices = [(T0, 1.09), (T0 + 1, 1.11), (T0 + 2, 1.09), (T0 + 3, 1.11), (T0 + 3600, 1.09)]
    got = [ids(run.tick(t, p)) for t, p in prices]
    assert got == [[], [1], [], [], []]
    assert ids(run.tick(T0 + 3601, 1.12)) == [1]  # a crossing in the next bar


def test_once_per_bar_follows_the_alerts_timeframe() -> None:
    run = Run().add(alert(1, "greater_than", level=1.0, timeframe="M5", frequency="once_per_bar"))
    got = [bool(run.tick(T0 + s, 1.1).fired) for s in (0, 299, 300, 599, 600)]
    assert got == [True, False, True, False, True]


def test_once_per_minute_is_per_calendar_minute() -> None:
    run = Run().add(alert(1, "greater_than", level=1.0, frequency="once_per_minute"))
    got = [bool(run.tick(T0 + s, 1.1).fired) for s in (0, 30, 59.9, 60, 119, 120.5, 179.9, 180)]
    assert got == [True, False, False, True, False, True, False, True]


def test_once_per_minute_may_fire_a_tenth_of_a_second_apart_across_a_minute() -> None:
    run = Run().add(alert(1, "greater_than", level=1.0, frequency="once_per_minute"))
    assert ids(run.tick(T0 + 59.9, 1.1)) == [1]
    assert ids(run.tick(T0 + 60.0, 1.1)) == [1]


def test_once_per_bar_close_ignores_ticks_and_uses_closes() -> None:
    run = Run(series(H1, [1.09] * 5))
    run.add(alert(1, "crossing_up", level=1.1, frequency="once_per_bar_close"))
    run.add(alert(2, "greater_than", level=1.1, frequency="once_per_bar_close"))
    for i, p in enumerate([1.095, 1.105, 1.09, 1.102]):
        assert run.tick(T0 + i, p).fired == ()  # crossings inside the bar do not count
    first = run.close()
    assert [(f.alert_id, f.price, f.time) for f in first.fired] == [
        (1, 1.102, T0 + 3600),
        (2, 1.102, T0 + 3600),
    ]
    run.tick(T0 + 3600, 1.104)
    assert ids(run.close()) == [2]  # still above: only the state alert fires again


def test_once_per_bar_close_crossing_needs_a_previous_close() -> None:
    run = Run(SeriesState(SYM, H1, Bars(), IndicatorState(2)))
    run.add(alert(1, "crossing_up", level=1.1, frequency="once_per_bar_close"))
    run.add(alert(2, "greater_than", level=1.1, frequency="once_per_bar_close"))
    run.tick(T0, 1.2)
    assert ids(run.close()) == [2]


# -- expiry ----------------------------------------------------------------------------------
def expiring(at: float, **values: Any) -> Alert:
    when = datetime.fromtimestamp(at, UTC).isoformat()
    return alert(
        1, "greater_than", level=1.0, frequency="once_per_minute", expires_at=when, **values
    )


def test_expiry_mid_stream_stops_the_alert_at_the_instant() -> None:
    run = Run().add(expiring(T0 + 150))
    assert ids(run.tick(T0, 1.1)) == [1]
    assert ids(run.tick(T0 + 60, 1.1)) == [1]
    at_expiry = run.tick(T0 + 150, 1.1)
    assert at_expiry.fired == ()
    assert [(c.alert_id, c.status, c.reason, c.time) for c in at_expiry.changed] == [
        (1, AlertStatus.expired, "expired", T0 + 150)
    ]
    assert run.tick(T0 + 240, 1.1) == MatchResult()


def test_expiry_on_a_closed_bar_event() -> None:
    run = Run(series(H1, [1.09] * 3)).add(expiring(T0 + 100))
    run.tick(T0, 0.5)  # below the level: no fire
    result = run.close()
    assert [c.status for c in result.changed] == [AlertStatus.expired]


def test_expire_due_without_ticks() -> None:
    run = Run().add(expiring(T0 + 100))
    run.tick(T0, 0.5)
    assert run.book.expire_due(T0 + 99) == []
    assert [c.alert_id for c in run.book.expire_due(T0 + 100)] == [1]
    assert run.tick(T0 + 200, 1.5) == MatchResult()


# -- changes take effect on the next tick ----------------------------------------------------
def test_changes_wait_for_the_next_event() -> None:
    run = Run()
    run.add(alert(1, "greater_than", level=1.0))
    assert len(run.book) == 0  # queued, not applied
    assert ids(run.tick(T0, 1.1)) == [1]


def test_pause_and_resume_take_effect_on_the_next_tick() -> None:
    a = per_bar(1, "crossing_up", level=1.1)
    run = Run().add(a)
    run.tick(T0, 1.09)
    run.book.update(replace(a, status=AlertStatus.paused))
    assert ids(run.tick(T0 + 1, 1.11)) == []
    run.book.update(a)
    run.tick(T0 + 2, 1.09)
    assert ids(run.tick(T0 + 3, 1.11)) == [1]


def test_remove_takes_effect_on_the_next_tick() -> None:
    run = Run().add(alert(1, "greater_than", level=1.0, frequency="once_per_minute"))
    assert ids(run.tick(T0, 1.1)) == [1]
    run.book.remove(1)
    assert ids(run.tick(T0 + 60, 1.1)) == []


def test_update_moves_the_level_and_keeps_the_bars_fire() -> None:
    a = per_bar(1, "greater_than", level=1.1)
    run = Run().add(a)
    assert ids(run.tick(T0, 1.105)) == [1]
    run.book.update(per_bar(1, "greater_than", level=1.2))  # the server has not stored the fire
    assert ids(run.tick(T0 + 1, 1.25)) == []  # same bar: the matcher remembers the fire
    assert ids(run.tick(T0 + 2, 1.15)) == []
    result = run.tick(T0 + 3600, 1.25)
    assert [(f.alert_id, f.level, f.fire_count) for f in result.fired] == [(1, 1.2, 2)]


def test_restored_last_fire_holds_the_window_after_a_restart() -> None:
    a = replace(per_bar(1, "greater_than", level=1.0), last_fired_at=T0 + 10.0, fire_count=4)
    run = Run().add(a)
    assert ids(run.tick(T0 + 20, 1.1)) == []
    result = run.tick(T0 + 3600, 1.1)
    assert [(f.alert_id, f.fire_count) for f in result.fired] == [(1, 5)]


def test_triggered_once_alert_resumed_fires_again() -> None:
    a = alert(1, "greater_than", level=1.0)
    run = Run().add(a)
    assert ids(run.tick(T0, 1.1)) == [1]
    run.book.update(replace(a, last_fired_at=float(T0), fire_count=1))
    assert ids(run.tick(T0 + 1, 1.1)) == [1]


# -- routing, sources, order, messages -------------------------------------------------------
def test_alerts_only_see_their_own_symbol() -> None:
    jpy = Alert(2, 1, validate_alert(
        {"symbol": "usdjpy", "timeframe": "H1", "condition": "greater_than", "level": 100.0},
        now=VALIDATION_NOW,
    ))  # fmt: skip
    run = Run().add(alert(1, "greater_than", level=1.0), jpy)
    assert ids(run.tick(T0, 150.0, symbol=SYM)) == [1]
    assert ids(run.tick(T0, 1.0, symbol="USDJPY")) == []
    assert ids(run.tick(T0 + 1, 150.0, symbol="USDJPY")) == [2]


def test_ask_alerts_watch_the_ask() -> None:
    run = Run().add(
        alert(1, "crossing_up", level=1.1, price_source="ask"), alert(2, "crossing_up", level=1.1)
    )
    run.tick(T0, 1.0995, ask=1.0999)
    result = run.tick(T0 + 1, 1.0998, ask=1.1002)
    assert [(f.alert_id, f.price) for f in result.fired] == [(1, 1.1002)]


def test_fires_are_ordered_by_alert_id() -> None:
    run = Run().add(*(alert(i, "greater_than", level=1.0) for i in (5, 3, 9, 1)))
    assert ids(run.tick(T0, 1.1)) == [1, 3, 5, 9]


def test_the_same_stream_fires_the_same_events() -> None:
    def once() -> list[MatchResult]:
        run = Run().add(
            per_bar(2, "crossing", level=1.1),
            per_bar(1, "inside_channel", lower=1.09, upper=1.11),
            alert(3, "less_than", level=1.095, frequency="once_per_minute"),
        )
        rng = np.random.default_rng(7)
        prices = 1.1 + np.cumsum(rng.normal(0, 0.002, 300))
        return [run.tick(T0 + 37 * i, float(p)) for i, p in enumerate(prices)]

    first = once()
    assert sum(len(r.fired) for r in first) > 20
    assert first == once()


def test_default_and_template_messages() -> None:
    run = Run().add(
        per_bar(1, "crossing_up", level=1.09),
        per_bar(
            2, "crossing_up", level=1.09, message="{{symbol}} {{condition}} {{level}} {{time}}"
        ),
    )
    run.tick(T0, 1.0899)
    fired = run.tick(T0 + 1, 1.09012).fired
    assert [f.message for f in fired] == [
        "EURUSD H1 crossed up 1.09000 at 1.09012",
        "EURUSD crossing_up 1.09000 2023-11-14T23:00:01Z",
    ]
    assert fired[0].user_id == 1 and fired[0].timeframe is H1
    assert fired[0].condition is Condition.crossing_up


# -- movement --------------------------------------------------------------------------------
def test_moving_up_compares_with_the_close_n_bars_back() -> None:
    run = Run(series(H1, [1.0, 1.0, 1.0, 1.01, 1.02]))
    run.add(per_bar(1, "moving_up", amount=0.01, bars=2))  # threshold 1.01 + 0.01
    assert ids(run.tick(T0, 1.0199)) == []
    result = run.tick(T0 + 1, 1.02)
    assert [(f.level, f.price) for f in result.fired] == [(1.01 + 0.01, 1.02)]
    assert "moved up 0.01000 within 2 bars" in result.fired[0].message


def test_a_bar_close_moves_the_reference_and_the_alert_follows_without_a_price_move() -> None:
    run = Run(series(H1, [1.05, 1.05, 1.05, 1.0]))
    run.add(per_bar(1, "moving_up", amount=0.02, bars=2))  # threshold 1.05 + 0.02
    assert ids(run.tick(T0, 1.03)) == []
    run.close()  # closes 1.05, 1.0, 1.03: now the threshold is 1.0 + 0.02
    assert ids(run.tick(T0 + 3600, 1.03)) == [1]


def test_moving_down_pct() -> None:
    run = Run(series(H1, [2.0, 2.0]))
    run.add(per_bar(1, "moving_down_pct", amount=1.0, bars=1))  # 2.0 * 0.99
    assert ids(run.tick(T0, 1.981)) == []
    fired = run.tick(T0 + 1, 1.98).fired
    assert [f.level for f in fired] == [2.0 * (1.0 - 1.0 / 100.0)]
    assert "moved down 1% within 1 bar:" in fired[0].message


def test_movement_without_enough_bars_never_fires() -> None:
    run = Run(series(H1, [1.0] * 5)).add(per_bar(1, "moving_up", amount=0.01, bars=10))
    assert ids(run.tick(T0, 5.0)) == []


def test_movement_on_closed_bars() -> None:
    run = Run(series(H1, [1.0, 1.0, 1.0]))
    run.add(alert(1, "moving_up_pct", amount=5.0, bars=2, frequency="once_per_bar_close"))
    assert ids(run.tick(T0, 1.2)) == []
    assert ids(run.close()) == [1]  # close 1.2 vs the close two bars before it (1.0)


# -- fractal conditions on a real IndicatorState ---------------------------------------------
# Up fractals at bars 2 (1.50) and 6 (1.40): resistance lines at both and a falling trendline
# through them; a down fractal at bar 4: support at 1.20.
HIGH = [1.30, 1.35, 1.50, 1.40, 1.30, 1.35, 1.40, 1.32, 1.30]
LOW = [h - 0.1 for h in HIGH]
CLOSE = [h - 0.03 for h in HIGH]


def fractal_run() -> Run:
    return Run(series(H1, CLOSE, HIGH, LOW))


def bar(i: int, high: float, low: float, close: float) -> Bar:
    return Bar(T0 + (i - len(HIGH)) * 3600, close, high, low, close)


def bar_time(i: int) -> int:
    return T0 - (len(HIGH) - i) * 3600


def test_the_test_series_has_the_lines_it_claims() -> None:
    ind = fractal_run().market.series[(SYM, H1)].indicators
    assert list(ind.up) == [2, 6] and list(ind.down) == [4]
    assert [(ln.kind, ln.price) for ln in ind.active_horizontal()] == [
        ("resistance", 1.5),
        ("support", pytest.approx(1.2)),
        ("resistance", 1.4),
    ]
    assert [(d.kind, d.i1, d.i2) for d in ind.active_diagonal()] == [("resistance", 2, 6)]


def test_line_break_follows_the_nearest_line_and_a_chosen_one() -> None:
    run = fractal_run()
    far = horizontal_line_id("resistance", bar_time(2))
    run.add(
        per_bar(1, "line_break"),
        per_bar(2, "line_break", side="support"),
        per_bar(3, "line_break", line_id=far),
        per_bar(4, "line_break", side="resistance"),
    )
    # breaks 1.40, not 1.50; 1.40 was the nearest to the previous close (1.27), though the
    # breaking close (1.49) is nearer to 1.50
    first = run.close(bar=bar(9, 1.495, 1.30, 1.49))
    assert [(f.alert_id, f.level, f.line_id) for f in first.fired] == [
        (1, 1.4, horizontal_line_id("resistance", bar_time(6))),
        (4, 1.4, horizontal_line_id("resistance", bar_time(6))),
    ]
    assert first.fired[0].message == "EURUSD H1 closed through resistance 1.40000 at 1.49000"
    second = run.close(bar=bar(10, 1.55, 1.40, 1.52))  # now the nearest is 1.50
    assert [(f.alert_id, f.level) for f in second.fired] == [(1, 1.5), (3, 1.5), (4, 1.5)]
    assert [(c.alert_id, c.status) for c in second.changed] == [(3, AlertStatus.triggered)]


def test_line_break_ignores_ticks() -> None:
    run = fractal_run().add(per_bar(1, "line_break"))
    assert ids(run.tick(T0, 1.9)) == []


def test_trendline_break() -> None:
    run = fractal_run()
    run.add(
        per_bar(1, "trendline_break"),
        per_bar(2, "trendline_break", side="support"),
        per_bar(
            3, "trendline_break", line_id=diagonal_line_id("resistance", bar_time(2), bar_time(6))
        ),
    )
    result = run.close(bar=bar(9, 1.45, 1.30, 1.42))
    value = 1.5 + (1.4 - 1.5) * 7.0 / 4.0  # the line at the breaking bar
    assert [(f.alert_id, f.level) for f in result.fired] == [(1, value), (3, value)]
    assert result.fired[0].line_id == diagonal_line_id("resistance", bar_time(2), bar_time(6))
    assert "closed through the resistance trendline" in result.fired[0].message
    assert [c.alert_id for c in result.changed] == [3]


def test_a_chosen_line_that_is_gone_ends_the_alert() -> None:
    run = fractal_run().add(per_bar(1, "line_break", line_id="hr-12345"))
    result = run.close(bar=bar(9, 1.33, 1.25, 1.30))
    assert [(c.alert_id, c.status, c.reason) for c in result.changed] == [
        (1, AlertStatus.expired, "line_not_active")
    ]


def test_new_fractal_up_down_either() -> None:
    run = fractal_run()
    run.add(
        per_bar(1, "new_fractal", side="up"),
        per_bar(2, "new_fractal", side="down"),
        per_bar(3, "new_fractal"),
    )
    assert ids(run.close(bar=bar(9, 1.45, 1.30, 1.42))) == []
    down = run.close(bar=bar(10, 1.55, 1.40, 1.52))  # confirms the down fractal at bar 8
    assert [(f.alert_id, f.level) for f in down.fired] == [(2, 1.2), (3, 1.2)]
    assert down.fired[0].message == "EURUSD H1 new down fractal at 1.20000 (close 1.52000)"
    run.close(bar=bar(11, 1.50, 1.40, 1.47))
    up = run.close(bar=bar(12, 1.45, 1.38, 1.43))  # confirms the up fractal at bar 10
    assert [(f.alert_id, f.level) for f in up.fired] == [(1, 1.55), (3, 1.55)]


def test_new_fractal_once_is_triggered() -> None:
    run = fractal_run().add(alert(1, "new_fractal"))
    run.close(bar=bar(9, 1.45, 1.30, 1.42))
    result = run.close(bar=bar(10, 1.55, 1.40, 1.52))
    assert ids(result) == [1] and [c.status for c in result.changed] == [AlertStatus.triggered]


def test_line_touch_within_distance_of_any_active_line() -> None:
    run = fractal_run().add(
        alert(1, "line_touch", distance=0.01, frequency="once_per_minute"),
        alert(2, "line_touch", distance=0.01, side="support", frequency="once_per_minute"),
    )
    diag = 1.5 + (1.4 - 1.5) * 7.0 / 4.0  # the trendline at the forming bar (index 9)
    first = run.tick(T0, diag + 0.005)
    assert [(f.alert_id, f.level, f.line_id) for f in first.fired] == [
        (1, diag, diagonal_line_id("resistance", bar_time(2), bar_time(6)))
    ]
    assert run.tick(T0 + 60, 1.36).fired == ()
    assert [(f.alert_id, f.level) for f in run.tick(T0 + 120, 1.395).fired] == [(1, 1.4)]
    edge = run.tick(T0 + 180, 1.2 + 0.01)  # exactly at the distance counts
    assert [(f.alert_id, f.level) for f in edge.fired] == [
        (1, pytest.approx(1.2)),
        (2, pytest.approx(1.2)),
    ]
    assert "touched support" in edge.fired[1].message


def test_line_touch_follows_a_trendline_as_bars_close() -> None:
    run = fractal_run().add(per_bar(1, "line_touch", distance=0.004, side="resistance"))
    assert ids(run.tick(T0, 1.30)) == []  # the trendline is at 1.325 on bar 9
    run.close()  # bar 9 closes at 1.30, below the line: it is not broken
    result = run.tick(T0 + 3600, 1.30)  # no move, but the line came down to 1.30
    assert [(f.alert_id, f.level) for f in result.fired] == [(1, pytest.approx(1.3))]


def test_line_touch_on_a_chosen_line_that_breaks_expires() -> None:
    chosen = horizontal_line_id("resistance", bar_time(6))
    run = fractal_run().add(per_bar(1, "line_touch", distance=0.001, line_id=chosen))
    assert ids(run.tick(T0, 1.4005)) == [1]
    run.tick(T0 + 1, 1.42)
    result = run.close()  # closes at 1.42: the line is broken
    assert [(c.alert_id, c.reason) for c in result.changed] == [(1, "line_not_active")]


def test_find_line_for_the_api() -> None:
    st_ = fractal_run().market.series[(SYM, H1)]
    line = find_line(st_, horizontal_line_id("support", bar_time(4)))
    assert line is not None and line.kind == "support" and line.value == pytest.approx(1.2)
    assert find_line(st_, "hr-1") is None


# -- wiring and bulk loading -----------------------------------------------------------------
def test_engine_listener_hands_results_to_the_sink() -> None:
    engine = Engine(SyntheticFeed(FeedOptions(symbols=(SYM,))), history_bars=10, stale_after=5)
    book = AlertBook()
    got: list[MatchResult] = []
    engine.listeners.append(book.listener(engine.market, got.append))
    book.add(alert(1, "crossing_up", level=1.1))
    engine.process(Tick(SYM, T0, 1.09, 1.0901))
    engine.process(Tick(SYM, T0 + 1, 1.095, 1.0951))
    engine.process(Tick(SYM, T0 + 2, 1.11, 1.1101))
    assert [ids(r) for r in got] == [[1]]  # quiet ticks reach no sink


def test_bulk_loaded_alerts_fire_like_added_ones() -> None:
    rng = np.random.default_rng(3)
    n = 400
    conds = rng.choice(
        [CONDITIONS.index(c) for c in (Condition.crossing, Condition.greater_than,
                                       Condition.entering_channel, Condition.outside_channel)],
        n,
    ).astype(np.uint8)  # fmt: skip
    a = np.round(rng.uniform(1.0, 1.2, n), 3)
    b = a + np.round(rng.uniform(0.001, 0.05, n), 3)
    bulk = SymbolMatcher(SYM)
    bulk.load_levels(
        np.arange(n), np.full(n, 9), conds, a, b, frequency=Frequency.once_per_bar, timeframe=H1
    )
    single = SymbolMatcher(SYM)
    for i in range(n):
        cond = CONDITIONS[conds[i]]
        values = {"level": a[i]} if "channel" not in cond else {"lower": a[i], "upper": b[i]}
        single.add(Alert(i, 9, validate_alert(
            {"symbol": SYM, "timeframe": "H1", "condition": cond, "frequency": "once_per_bar"}
            | values, now=VALIDATION_NOW)))  # fmt: skip
    prices = np.round(1.1 + np.cumsum(rng.normal(0, 0.01, 200)), 3)
    total = 0
    for i, p in enumerate(prices.tolist()):
        tick = Tick(SYM, T0 + 900 * i, p, p)
        x, y = bulk.on_tick(tick), single.on_tick(tick)
        assert x == y
        total += len(x.fired)
    assert total > 100


def test_bulk_loaded_alerts_can_be_removed_and_replaced() -> None:
    m = SymbolMatcher(SYM)
    code = CONDITIONS.index(Condition.greater_than)
    m.load_levels(
        np.array([10, 11, 12]), np.array([1, 1, 1]), np.full(3, code, np.uint8),
        np.array([1.0, 1.0, 1.0]), np.zeros(3), frequency=Frequency.once_per_minute, timeframe=H1,
    )  # fmt: skip
    m.remove(11)
    m.add(alert(12, "greater_than", level=5.0))  # replaces the bulk-loaded 12
    assert len(m) == 2
    assert ids(m.on_tick(Tick(SYM, T0, 1.1, 1.1))) == [10]


def test_many_removals_rebuild_the_index_and_reused_rows_fire_right() -> None:
    m = SymbolMatcher(SYM)
    for i in range(300):
        m.add(alert(i, "crossing_up", level=1.0 + i / 1000, frequency="once_per_bar"))
    for i in range(0, 300, 4):  # keep every fourth
        for j in range(i + 1, i + 4):
            m.remove(j)
    assert len(m) == 75
    assert m._static[0].stale <= 64 or m._static[0].stale <= m._static[0].live
    # reused rows: new alerts far above every old level
    for i in range(1000, 1010):
        m.add(alert(i, "crossing_up", level=2.0 + i / 1e6, frequency="once_per_bar"))
    m.on_tick(Tick(SYM, T0, 0.9, 0.9))
    result = m.on_tick(Tick(SYM, T0 + 1, 1.5, 1.5))
    assert ids(result) == list(range(0, 300, 4))


# -- the index against a brute-force scan ----------------------------------------------------
TICK_CONDITIONS = [
    c for c in Condition if c not in (
        Condition.new_fractal, Condition.line_break, Condition.trendline_break,
        Condition.line_touch, Condition.line_bounce,
    )
]  # fmt: skip
MOVES = {
    Condition.moving_up: lambda ref, amt: ref + amt,
    Condition.moving_down: lambda ref, amt: ref - amt,
    Condition.moving_up_pct: lambda ref, amt: ref * (1.0 + amt / 100.0),
    Condition.moving_down_pct: lambda ref, amt: ref * (1.0 - amt / 100.0),
}


def grid(k: int) -> float:
    return 1.0 + k / 1000


def inside(p: float, lo: float, hi: float) -> bool:
    return lo <= p <= hi


def brute_level(
    cond: Condition, p0: float | None, p1: float, spec: Any, ref: float | None
) -> float | None:
    """Each condition straight from docs/alerts-semantics.md."""
    L, lo, hi = spec.level, spec.lower, spec.upper
    if cond == Condition.greater_than:
        return L if p1 > L else None
    if cond == Condition.less_than:
        return L if p1 < L else None
    if cond in (Condition.crossing_up, Condition.crossing_down, Condition.crossing):
        if p0 is None:
            return None
        up = p0 < L and p1 >= L
        down = p0 > L and p1 <= L
        ok = {Condition.crossing_up: up, Condition.crossing_down: down}.get(cond, up or down)
        return L if ok else None
    if cond == Condition.entering_channel:
        if p0 is None or inside(p0, lo, hi) or not inside(p1, lo, hi):
            return None
        return lo if p0 < lo else hi
    if cond == Condition.exiting_channel:
        if p0 is None or not inside(p0, lo, hi) or inside(p1, lo, hi):
            return None
        return hi if p1 > hi else lo
    if cond == Condition.inside_channel:
        if not inside(p1, lo, hi):
            return None
        return lo if p1 - lo <= hi - p1 else hi
    if cond == Condition.outside_channel:
        return lo if p1 < lo else hi if p1 > hi else None
    if ref is None:
        return None
    threshold = MOVES[cond](ref, spec.amount)
    up = cond in (Condition.moving_up, Condition.moving_up_pct)
    return threshold if (p1 >= threshold if up else p1 <= threshold) else None


class Brute:
    """Every alert checked on every event: the definition, not the index."""

    def __init__(self, market: MarketState) -> None:
        self.market = market
        self.alerts: dict[int, dict[str, Any]] = {}
        self.queue: list[Alert | int] = []
        self.prev: tuple[float, float] | None = None
        self.recent: dict[int, list[float]] = {}  # fire times per alert id (flood guard)

    def _apply(self) -> None:
        for op in self.queue:
            if isinstance(op, int):
                self.alerts.pop(op, None)
                continue
            old = self.alerts.pop(op.id, None)
            if op.status != AlertStatus.active:
                continue
            last, count = op.last_fired_at, op.fire_count
            if old is not None:
                if old["last"] is not None and (last is None or old["last"] > last):
                    last = old["last"]
                count = max(count, old["count"])
            exp = op.spec.expires_at
            self.alerts[op.id] = {
                "a": op, "last": last, "count": count, "exp": exp.timestamp() if exp else None,
                "armed": op.fires_at_arm,
            }  # fmt: skip
        self.queue.clear()

    def _may(self, s: dict[str, Any], now: float) -> bool:
        spec = s["a"].spec
        if spec.cooldown and s["last"] is not None and now - s["last"] < spec.cooldown:
            return False  # the cooldown, then the window
        if spec.frequency == Frequency.once or s["last"] is None:
            return True
        w = 60 if spec.frequency == Frequency.once_per_minute else spec.timeframe.seconds
        return math.floor(now) // w > math.floor(s["last"]) // w

    def _event(self, now: float, pick: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        self._apply()
        changed: list[tuple[Any, ...]] = []
        for i in sorted(self.alerts):
            exp = self.alerts[i]["exp"]
            if exp is not None and now >= exp:
                changed.append((i, AlertStatus.expired, "expired", exp))
                del self.alerts[i]
        fired = []
        for i in sorted(self.alerts):
            s = self.alerts[i]
            got = pick(s["a"].spec)
            if got is None or not self._may(s, now):
                continue
            level, price = got
            if level is None:
                continue
            recent = [x for x in self.recent.get(i, []) if x > now - 180]
            if len(recent) >= 15:  # a 16th fire within 3 minutes: paused instead
                changed.append((i, AlertStatus.paused, "flood", now))
                del self.alerts[i]
                continue
            self.recent[i] = [*recent, now]
            s["last"], s["count"] = now, s["count"] + 1
            spec = s["a"].spec
            status, reason = AlertStatus.active, ""
            if spec.frequency == Frequency.once:
                status, reason = AlertStatus.triggered, "triggered"
            elif spec.max_fires and s["count"] - s["armed"] >= spec.max_fires:
                status, reason = AlertStatus.triggered, "max_fires"
            fired.append((i, level, price, now, status, s["count"]))
            if status == AlertStatus.triggered:
                changed.append((i, status, reason, now))
                del self.alerts[i]
        return fired, sorted(changed)

    def on_tick(self, tick: Tick) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        prev = self.prev
        self.prev = (tick.bid, tick.ask)

        def pick(spec: Any) -> tuple[float | None, float] | None:
            if spec.frequency == Frequency.once_per_bar_close:
                return None
            ask = spec.price_source.value == "ask"
            p1 = tick.ask if ask else tick.bid
            p0 = None if prev is None else prev[1 if ask else 0]
            closes = self.market.series[(SYM, spec.timeframe)].indicators.close
            back = len(closes) - (spec.bars or 0)  # N bars before the forming bar
            ref = closes[back] if spec.bars and back >= 0 else None
            return brute_level(spec.condition, p0, p1, spec, ref), p1

        return self._event(tick.time, pick)

    def on_bar(self, event: BarClose) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        closes = self.market.series[(SYM, event.timeframe)].indicators.close
        t = len(closes) - 1

        def pick(spec: Any) -> tuple[float | None, float] | None:
            if spec.frequency != Frequency.once_per_bar_close or spec.timeframe != event.timeframe:
                return None
            p0 = closes[t - 1] if t >= 1 else None
            back = t - (spec.bars or 0)
            ref = closes[back] if spec.bars and back >= 0 else None
            return brute_level(spec.condition, p0, closes[t], spec, ref), closes[t]

        return self._event(float(event.bar.time + event.timeframe.seconds), pick)


def flat(result: MatchResult) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return (
        [(f.alert_id, f.level, f.price, f.time, f.status, f.fire_count) for f in result.fired],
        [(c.alert_id, c.status, c.reason, c.time) for c in result.changed],
    )


@st.composite
def random_alert(draw: st.DrawFn, alert_id: int) -> Alert:
    cond = draw(st.sampled_from(TICK_CONDITIONS))
    freq = draw(st.sampled_from(list(Frequency)))
    on_closes = freq == Frequency.once_per_bar_close
    data: dict[str, Any] = {
        "symbol": SYM,
        "timeframe": draw(st.sampled_from(["M5", "M15"])),
        "condition": cond.value,
        "frequency": freq.value,
        "price_source": "bid" if on_closes else draw(st.sampled_from(["bid", "ask"])),
    }
    if cond in MOVES:
        pct = cond in (Condition.moving_up_pct, Condition.moving_down_pct)
        data["amount"] = draw(st.sampled_from([0.1, 0.5, 1.0] if pct else [0.001, 0.002, 0.005]))
        data["bars"] = draw(st.integers(1, 4))
    elif "channel" in cond.value:
        lo = draw(st.integers(0, 28))
        data["lower"], data["upper"] = grid(lo), grid(draw(st.integers(lo + 1, 30)))
    else:
        data["level"] = grid(draw(st.integers(0, 30)))
    if draw(st.booleans()):
        data["expires_at"] = datetime.fromtimestamp(T0 + draw(st.integers(1, 4000)), UTC)
    data["cooldown"] = draw(st.sampled_from([None, None, 1, 30, 61, 300, 900]))
    data["max_fires"] = draw(st.sampled_from([None, None, 1, 2, 4]))
    data = {k: v for k, v in data.items() if v is not None}
    return Alert(alert_id, alert_id % 3, validate_alert(data, now=VALIDATION_NOW))


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[Alert], list[tuple[Any, ...]]]:
    alerts = [draw(random_alert(i)) for i in range(draw(st.integers(1, 10)))]
    step = st.sampled_from([0, 1, 20, 59, 60, 61, 150, 299, 300, 600, 1800])
    tick = st.tuples(st.just("tick"), step, st.integers(0, 30), st.integers(0, 2))
    change = st.tuples(
        st.sampled_from(["add", "add", "remove", "pause", "resume"]),
        st.integers(0, len(alerts) - 1),
    )
    events = [("add", i) for i in range(len(alerts)) if draw(st.booleans())]
    events += draw(st.lists(st.one_of(tick, tick, tick, change), min_size=30, max_size=120))
    return alerts, events


def history() -> MarketState:
    market = MarketState()
    for tf in (Timeframe.M5, Timeframe.M15):
        market.series[(SYM, tf)] = series(tf, [grid(k) for k in (10, 12, 9, 15, 11, 14)])
    return market


def drive(alerts: list[Alert], events: list[tuple[Any, ...]]) -> int:
    """Feed the same events to an AlertBook and the brute force; they must agree on every
    event. Returns how many alerts fired."""
    market = history()
    book, brute = AlertBook(), Brute(market)
    stored: dict[int, tuple[float, int]] = {}  # what the server would persist from fires
    armed: dict[int, int] = {}  # fires_at_arm: a resume arms the alert again
    total = 0

    def matched(result: MatchResult) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        nonlocal total
        total += len(result.fired)
        for f in result.fired:
            stored[f.alert_id] = (f.time, f.fire_count)
        return flat(result)

    t = float(T0)
    for ev in events:
        if ev[0] == "tick":
            _, dt, k, spread = ev
            t += dt
            for tf in (Timeframe.M5, Timeframe.M15):
                forming = market.series[(SYM, tf)].bars.forming
                if forming is not None and tf.bar_open(int(t)) > forming.time:
                    close = BarClose(SYM, tf, forming)
                    changes = market.apply(close)
                    assert matched(book.on_bar(close, changes, market)) == brute.on_bar(close)
            tick = Tick(SYM, t, grid(k), grid(k + spread))
            market.apply(tick)
            assert matched(book.on_tick(tick, market)) == brute.on_tick(tick)
            continue
        kind, i = ev
        a = alerts[i]
        if kind == "remove":
            book.remove(a.id)
            brute.queue.append(a.id)
            continue
        last, count = stored.get(a.id, (None, 0))
        if kind == "resume":
            armed[a.id] = count
        status = AlertStatus.paused if kind == "pause" else AlertStatus.active
        changed = replace(
            a, status=status, last_fired_at=last, fire_count=count, fires_at_arm=armed.get(a.id, 0)
        )
        book.update(changed)
        brute.queue.append(changed)
    return total


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_index_fires_exactly_what_a_scan_fires(
    case: tuple[list[Alert], list[tuple[Any, ...]]],
) -> None:
    drive(*case)


@st.composite
def rearm_loop(draw: st.DrawFn) -> tuple[list[Alert], list[tuple[Any, ...]]]:
    """Few alerts, re-armed again and again between quick ticks: the flood guard's ground."""
    alerts = [draw(random_alert(i)) for i in range(draw(st.integers(1, 3)))]
    tick = st.tuples(st.just("tick"), st.sampled_from([0, 1, 5, 10, 30]), st.integers(0, 30),
                     st.just(1))  # fmt: skip
    change = st.tuples(st.sampled_from(["resume", "add"]), st.integers(0, len(alerts) - 1))
    events = [("add", i) for i in range(len(alerts))]
    events += draw(st.lists(st.one_of(tick, change), min_size=60, max_size=160))
    return alerts, events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rearm_loop())
def test_rearmed_alerts_cooldowns_and_the_flood_guard_agree_with_the_scan(
    case: tuple[list[Alert], list[tuple[Any, ...]]],
) -> None:
    drive(*case)


# -- cooldown, max_fires, flood guard on hand-made ticks -----------------------------------------
def test_cooldown_holds_fires_back_and_a_state_alert_returns_when_it_ends() -> None:
    run = Run().add(alert(1, "greater_than", level=1.1, frequency="once_per_minute", cooldown=300))
    fired = [bool(run.tick(T0 + s, 1.2).fired) for s in (0, 60, 120, 299)]
    assert fired == [True, False, False, False]
    # no price move at all: the re-arm heap brings it back at last fire + cooldown
    assert ids(run.tick(T0 + 300, 1.2)) == [1]


def test_max_fires_ends_the_alert_as_triggered_and_a_resume_counts_again() -> None:
    a = alert(1, "greater_than", level=1.1, frequency="once_per_minute", max_fires=2)
    run = Run().add(a)
    first, second = run.tick(T0, 1.2), run.tick(T0 + 60, 1.2)
    assert ids(first) == [1] and ids(second) == [1]
    assert [(c.status, c.reason) for c in second.changed] == [(AlertStatus.triggered, "max_fires")]
    assert second.fired[0].status is AlertStatus.triggered and second.fired[0].fire_count == 2
    assert ids(run.tick(T0 + 120, 1.2)) == []
    run.add(replace(a, last_fired_at=T0 + 60, fire_count=2, fires_at_arm=2))  # resumed
    assert ids(run.tick(T0 + 180, 1.2)) == [1] and ids(run.tick(T0 + 240, 1.2)) == [1]
    assert ids(run.tick(T0 + 300, 1.2)) == []


def test_a_once_alert_rearmed_in_a_loop_is_paused_for_flooding() -> None:
    a = alert(1, "greater_than", level=1.1)  # once
    run = Run().add(a)
    results = []
    for i in range(17):
        results.append(run.tick(T0 + 10 * i, 1.2))
        run.add(replace(a, last_fired_at=T0 + 10 * i, fire_count=i + 1))  # resumed at once
    assert [len(r.fired) for r in results[:15]] == [1] * 15
    assert results[15].fired == ()
    assert [(c.alert_id, c.status, c.reason) for c in results[15].changed] == [
        (1, AlertStatus.paused, "flood")
    ]
    # later, slower, it is fine again: the window has moved on
    run.add(replace(a, last_fired_at=T0 + 140, fire_count=15))
    assert ids(run.tick(T0 + 330, 1.2)) == [1]


SCRIPT = [  # (seconds later, price grid step): touches, gaps, minutes, M5 bars
    (0, 15), (20, 16), (40, 14), (1, 15), (300, 20), (30, 25), (900, 18), (60, 12), (1, 10),
    (0, 15), (600, 15), (59, 22), (61, 8), (1800, 15), (5, 17), (300, 13), (299, 16), (1, 14),
    (300, 10), (300, 8), (300, 12),
]  # fmt: skip
VALUES = {
    **{c: {"level": grid(15)} for c in TICK_CONDITIONS if "channel" not in c.value},
    **{c: {"lower": grid(12), "upper": grid(16)} for c in TICK_CONDITIONS if "channel" in c.value},
    Condition.moving_up: {"amount": 0.002, "bars": 2},
    Condition.moving_down: {"amount": 0.002, "bars": 2},
    Condition.moving_up_pct: {"amount": 0.2, "bars": 2},
    Condition.moving_down_pct: {"amount": 0.2, "bars": 2},
}


@pytest.mark.parametrize("frequency", list(Frequency))
@pytest.mark.parametrize("condition", TICK_CONDITIONS)
def test_every_price_condition_with_every_frequency(
    condition: Condition, frequency: Frequency
) -> None:
    data = {"symbol": SYM, "timeframe": "M5", "condition": condition, "frequency": frequency}
    a = Alert(1, 1, validate_alert(data | VALUES[condition], now=VALIDATION_NOW))
    fired = drive([a], [("add", 0)] + [("tick", dt, k, 1) for dt, k in SCRIPT])
    if frequency == Frequency.once:
        assert fired == 1
    else:
        assert fired >= 2


FRACTAL_BARS = [
    (9, 1.45, 1.30, 1.42),
    (10, 1.55, 1.40, 1.52),
    (11, 1.50, 1.40, 1.47),
    (12, 1.45, 1.38, 1.43),
]


@pytest.mark.parametrize(
    ("condition", "frequency", "fires_at_bars"),
    [
        *[("new_fractal", f, [10] if f == "once" else [10, 12]) for f in Frequency],
        *[("line_break", f, [9] if f == "once" else [9, 10]) for f in Frequency],
        *[("trendline_break", f, [9]) for f in Frequency],
    ],
)
def test_bar_conditions_with_every_frequency(
    condition: str, frequency: str, fires_at_bars: list[int]
) -> None:
    run = fractal_run().add(alert(1, condition, frequency=frequency))
    got = [i for i, h, lo, c in FRACTAL_BARS if ids(run.close(bar=bar(i, h, lo, c)))]
    assert got == fires_at_bars


@pytest.mark.parametrize(
    ("frequency", "fires"),
    [
        ("once", [0]),
        ("once_per_bar", [0, 4]),
        ("once_per_minute", [0, 2, 4]),
        ("once_per_bar_close", [3]),
    ],
)
def test_line_touch_with_every_frequency(frequency: str, fires: list[int]) -> None:
    run = fractal_run().add(alert(1, "line_touch", distance=0.01, frequency=frequency))
    events = [
        lambda: run.tick(T0, 1.395),  # within 0.01 of the 1.40 resistance
        lambda: run.tick(T0 + 30, 1.396),
        lambda: run.tick(T0 + 90, 1.397),
        lambda: run.close(),  # closes at 1.397: 1.40 holds
        lambda: run.tick(T0 + 3600, 1.398),
    ]
    assert [i for i, event in enumerate(events) if event().fired] == fires
