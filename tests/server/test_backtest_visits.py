"""The short replay (each alert shown only the bars on which it can fire or change,
``backtest_visits``) reports exactly what the plain replay of every bar reports: the same
fires, to the tick, and the same ends (expiry, max_fires, once, a chosen line gone), for
every condition × frequency and the rules around them, over the real EURUSD H1 data."""

from __future__ import annotations

from typing import Any

import pytest
from tests.server.test_backtest_property import DATA, _spec, _specs

from tradealerts.core.alerts import AlertCreate
from tradealerts.core.indicators.timeline import LineTimeline
from tradealerts.core.line_ids import horizontal_line_id
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.alerts import backtest_visits
from tradealerts.server.alerts.backtest import (
    BacktestAlert,
    BacktestRun,
    backtest_series,
    reasons,
)
from tradealerts.server.feeds.replay import load_bar_file

WINDOW = 900  # the data's last 900 bars: every line kind appears, breaks and is touched


def _seen(run: BacktestRun, spec: AlertCreate) -> tuple[list[Any], Any]:
    """A run's fires and end, each fire with its reason in English and in German."""
    said = zip(reasons(spec, run, "en"), reasons(spec, run, "de"), strict=True)
    fires = [
        (f.time, f.bar_time, f.price, f.level, f.line_id, f.confirm_bar_time, *why)
        for f, why in zip(run.fires, said, strict=True)
    ]
    return fires, run.ended


def _both(tested: list[BacktestAlert]) -> tuple[list[BacktestRun], list[BacktestRun]]:
    bars = load_bar_file(DATA).bars
    out = []
    for every_bar in (False, True):
        window, runs = backtest_series(
            bars, WINDOW, tested, symbol="EURUSD", timeframe=Timeframe.H1, every_bar=every_bar
        )
        assert window.bars == WINDOW
        out.append(runs)
    return out[0], out[1]


def test_the_short_replay_fires_what_the_replay_of_every_bar_fires() -> None:
    specs = _specs(DATA)
    # the lives count from the window's start: some end inside it, some never
    tested = [BacktestAlert(_spec(body), life) for body, life in specs]
    tested += [
        BacktestAlert(_spec({"condition": "greater_than", "level": 1.085}), 200 * 3600.0),
        BacktestAlert(_spec({"condition": "crossing", "level": 1.085, "max_fires": 3})),
        BacktestAlert(_spec({"condition": "inside_channel", "lower": 1.08, "upper": 1.09,
                             "frequency": "once_per_minute", "cooldown": 7200})),
    ]  # fmt: skip
    short, every = _both(tested)
    for item, a, b in zip(tested, short, every, strict=True):
        assert _seen(a, item.spec) == _seen(b, item.spec), item.spec.model_dump(exclude_none=True)
    # not vacuous: most alerts fired, and some ended inside the window
    assert sum(1 for r in every if r.fires) >= 0.8 * len(tested)
    assert sum(len(r.fires) for r in every) > 1000
    assert {r.ended.status.value for r in every if r.ended} >= {"expired", "triggered"}


@pytest.mark.parametrize("condition", ["line_touch", "line_bounce", "line_break"])
def test_an_alert_on_a_chosen_line_ends_when_the_line_goes_as_in_the_full_replay(
    condition: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chosen lines that appear inside the window, are touched, then broken. The (line,
    bar) rows in small blocks, none kept: as a long window makes them."""
    monkeypatch.setattr(backtest_visits, "_BLOCK", 64)
    monkeypatch.setattr(backtest_visits, "_KEPT", 0)
    bars = load_bar_file(DATA).bars
    timeline = LineTimeline(bars.high, bars.low, bars.close, 2)
    first = len(bars) - WINDOW
    ids = [
        horizontal_line_id("support" if s else "resistance", int(bars.time[o]))
        for s, o, b in zip(timeline.h_support, timeline.h_origin, timeline.h_broken, strict=True)
        if o > first and b > o + 10
    ][:40]
    extra = {} if condition == "line_break" else {"distance": 0.0004}
    freq = "once_per_bar" if condition == "line_touch" else "once_per_bar_close"
    tested = [
        BacktestAlert(_spec({"condition": condition, "line_id": i, "frequency": freq, **extra}))
        for i in ids
    ]
    short, every = _both(tested)
    for item, a, b in zip(tested, short, every, strict=True):
        assert _seen(a, item.spec) == _seen(b, item.spec), item.spec.line_id
    assert sum(1 for r in every if r.fires) >= 5
    assert sum(1 for r in every if r.ended) >= 5


def test_a_replay_stops_at_the_cap_with_the_fires_before_it() -> None:
    """An alert's replay stops at ``max_fires`` fires (``MAX_FIRES`` in the server): its
    first fires exactly as without the cap, ``capped`` set and no end (the rest was not
    replayed); an alert under the cap, or one that ends at it, is not capped. Both paths:
    hits at once and the replay of every bar."""
    bars = load_bar_file(DATA).bars
    middle = round(float(sorted(bars.close[-WINDOW:])[WINDOW // 2]), 5)  # crossed often
    tested = [
        BacktestAlert(_spec({"condition": "line_touch", "distance": 1.0,
                             "frequency": "once_per_minute"})),
        BacktestAlert(_spec({"condition": "new_fractal", "frequency": "once_per_bar_close"})),
        BacktestAlert(_spec({"condition": "crossing", "level": middle, "max_fires": 7,
                             "frequency": "once_per_bar"})),
        BacktestAlert(_spec({"condition": "less_than", "level": 0.5})),
    ]  # fmt: skip
    for every_bar in (False, True):
        kw: dict[str, Any] = {"symbol": "EURUSD", "timeframe": Timeframe.H1}
        _, whole = backtest_series(bars, WINDOW, tested, every_bar=every_bar, **kw)
        _, capped = backtest_series(bars, WINDOW, tested, every_bar=every_bar, max_fires=7, **kw)
        touch, fractal, crossing, never = capped
        assert len(whole[0].fires) == 4 * WINDOW  # every tick of the window touches
        assert (touch.capped, touch.ended, len(touch.fires)) == (True, None, 7)
        assert (fractal.capped, len(fractal.fires)) == (True, 7)
        for a, b, item in ((touch, whole[0], tested[0]), (fractal, whole[1], tested[1])):
            assert _seen(a, item.spec)[0] == _seen(b, item.spec)[0][:7]
        assert not crossing.capped and crossing.ended is not None and len(crossing.fires) == 7
        assert crossing.ended.reason == "max_fires"
        assert not never.capped and not never.fires


def test_breaks_confirmed_across_the_windows_start_as_in_the_replay_of_every_bar() -> None:
    """line_break alerts of several ``confirm_bars`` in one call (their watched lines found
    once for the series) whose window starts just after a break: a break before the window
    confirmed inside it fires as the replay of every bar fires it."""
    bars = load_bar_file(DATA).bars
    timeline = LineTimeline(bars.high, bars.low, bars.close)
    breaks = sorted({int(k) for k in timeline.broken_active(False) if 400 < k < len(bars) - 60})
    tested = [
        BacktestAlert(_spec({"condition": "line_break", "confirm_bars": n,
                             "frequency": "once_per_bar_close"}))
        for n in (1, 2, 3, 5)
    ]  # fmt: skip
    fired = 0
    for k in breaks[:: max(1, len(breaks) // 6)]:
        window = len(bars) - (k + 1)  # the first replayed bar is the one after the break
        runs = []
        for every_bar in (False, True):
            _, got = backtest_series(
                bars, window, tested, symbol="EURUSD", timeframe=Timeframe.H1,
                every_bar=every_bar,
            )  # fmt: skip
            runs.append(got)
        for item, a, b in zip(tested, *runs, strict=True):
            assert _seen(a, item.spec) == _seen(b, item.spec), (k, item.spec.confirm_bars)
        fired += sum(1 for r in runs[1] if r.rows and r.rows[0][0] < bars.time[k + 1] + 3 * 3600)
    assert fired >= 1  # a fire confirmed in the window's first bars: the edge was crossed
