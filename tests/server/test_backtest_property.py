"""One matcher: a backtest reports exactly what the live path fires.

The live path is the real one: a replay feed of the real EURUSD H1 bars (tests/data) streams
each bar as its OHLC path, the engine applies it to the market state, the ``AlertRuntime``'s
matcher matches it and writes the event log (SQLite). The backtest replays the same bars with
``backtest_series``. For every condition × frequency (and the rules around them: cooldown,
max_fires, expiry, buffers, confirmation bars, chosen lines, the ask price) the fires must be
the same, to the tick. One engine run holds every alert (alerts never interact).

And a line alert on a line confirmed at bar N never fires before bar N.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from tradealerts.core.alerts import (
    BAR_CLOSE_CONDITIONS,
    EDGE_CONDITIONS,
    AlertCreate,
    Condition,
    Frequency,
)
from tradealerts.core.indicators import IndicatorState
from tradealerts.core.line_ids import diagonal_line_id, horizontal_line_id
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.accounts import create_user
from tradealerts.server.alerts import records
from tradealerts.server.alerts.backtest import BacktestAlert, backtest_series
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.alerts.runtime import AlertRuntime
from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.models import Event
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.engine import Engine
from tradealerts.server.events import Bus
from tradealerts.server.feeds import FeedOptions, create_feed
from tradealerts.server.feeds.replay import load_bar_file
from tradealerts.server.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data" / "eurusd_h1.csv"
HISTORY = 300
STREAM = 260
PER_USER = 20  # a PRO user's active alerts
LIFE = 90 * 3600.0  # the expiring alert lives 90 hours from the start of the stream
EARLY = datetime(2024, 1, 1, tzinfo=UTC)  # before the data: any expiry in it is "future"

Fire = tuple[float, float, float | None]  # (time, price, level)


def _slice(folder: Path) -> Path:
    lines = DATA.read_text().splitlines(keepends=True)
    out = folder / "EURUSD_H1.csv"
    out.write_text("".join(lines[: 1 + HISTORY + STREAM]))
    return out


def _specs(csv: Path) -> list[tuple[dict[str, Any], float | None]]:
    """Every condition × frequency the API accepts, with values the data reaches, and the
    rules around them; each with its lifetime from the stream's start (None: no expiry)."""
    bars = load_bar_file(csv).bars
    close = bars.close[HISTORY:]
    mid = round(float(sorted(close)[len(close) // 2]), 5)
    lo, hi = round(mid - 0.004, 5), round(mid + 0.003, 5)
    state = IndicatorState.from_arrays(
        bars.high[:HISTORY], bars.low[:HISTORY], bars.close[:HISTORY], 2
    )
    t = bars.time
    h = state.active_horizontal()
    support = next(x for x in h if x.kind == "support")
    resistance = next(x for x in h if x.kind == "resistance")
    d = state.active_diagonal()[0]
    values: dict[Condition, dict[str, Any]] = {
        **{c: {"level": mid} for c in ("greater_than", "less_than")},  # type: ignore[misc]
        Condition.crossing: {"level": mid},
        Condition.crossing_up: {"level": round(mid + 0.001, 5)},
        Condition.crossing_down: {"level": round(mid - 0.001, 5)},
        **{c: {"lower": lo, "upper": hi} for c in Condition if "channel" in c.value},
        Condition.moving_up: {"amount": 0.0015, "bars": 3},
        Condition.moving_down: {"amount": 0.0015, "bars": 3},
        Condition.moving_up_pct: {"amount": 0.12, "bars": 4},
        Condition.moving_down_pct: {"amount": 0.12, "bars": 4},
        Condition.new_fractal: {},
        Condition.line_break: {},
        Condition.trendline_break: {},
        Condition.line_touch: {"distance": 0.0004},
        Condition.line_bounce: {"distance": 0.0005},
    }
    out: list[tuple[dict[str, Any], float | None]] = []
    for cond, vals in values.items():
        for freq in Frequency:
            out.append(({"condition": str(cond), "frequency": freq.value, **vals}, None))
    chosen_h = horizontal_line_id(support.kind, int(t[support.origin]))
    chosen_r = horizontal_line_id(resistance.kind, int(t[resistance.origin]))
    chosen_d = diagonal_line_id(d.kind, int(t[d.i1]), int(t[d.i2]))
    extras: list[tuple[dict[str, Any], float | None]] = [
        ({"condition": "crossing", "level": mid, "frequency": "once_per_minute",
          "cooldown": 3 * 3600}, None),
        ({"condition": "greater_than", "level": lo, "frequency": "once_per_bar",
          "max_fires": 7}, None),
        ({"condition": "greater_than", "level": lo, "frequency": "once_per_bar"}, LIFE),
        ({"condition": "crossing", "level": mid, "frequency": "once_per_bar",
          "price_source": "ask"}, None),
        ({"condition": "line_break", "frequency": "once_per_bar_close", "buffer": 0.0003,
          "confirm_bars": 2}, None),
        ({"condition": "trendline_break", "frequency": "once_per_bar_close",
          "confirm_bars": 3}, None),
        ({"condition": "line_touch", "distance": 0.0006, "line_id": chosen_h,
          "frequency": "once_per_bar"}, None),
        ({"condition": "line_touch", "distance": 0.0006, "line_id": chosen_r,
          "frequency": "once_per_bar"}, None),
        ({"condition": "line_bounce", "distance": 0.0006, "line_id": chosen_r,
          "frequency": "once_per_bar_close"}, None),
        ({"condition": "trendline_break", "line_id": chosen_d,
          "frequency": "once_per_bar_close"}, None),
        ({"condition": "new_fractal", "side": "down", "frequency": "once_per_bar_close"}, None),
    ]  # fmt: skip
    out += extras
    accepted = []
    for body, life in out:
        try:
            _spec(body)
        except ValidationError:
            continue  # a pair the API refuses (a closed-bar condition on ticks' frequency)
        accepted.append((body, life))
    return accepted


def _skippable(body: dict[str, Any]) -> bool:
    """Transitions and closed-bar alerts: a bar whose path reaches none of their keys is
    skipped (``backtest_visits``)."""
    return Condition(body["condition"]) in EDGE_CONDITIONS | BAR_CLOSE_CONDITIONS


def _grouped(body: dict[str, Any]) -> bool:
    """Movement and line_touch alerts matched on ticks: their keys move at each close."""
    cond = body["condition"]
    return (cond.startswith("moving_") or cond == "line_touch") and body[
        "frequency"
    ] != "once_per_bar_close"


def _spec(body: dict[str, Any]) -> AlertCreate:
    return AlertCreate.model_validate(
        {"symbol": "EURUSD", "timeframe": "H1", **body}, context={"now": EARLY}
    )


async def _live(home: Path, csv: Path, specs: list[tuple[dict[str, Any], float | None]]) -> Any:
    """Every spec as a stored alert, then the replay through the real engine and runtime."""
    start = int(load_bar_file(csv).bars.time[HISTORY])
    settings = Settings(home=home, secret_key="k" * 40)
    db = make_engine(f"sqlite:///{home / 'server.db'}")
    upgrade(db)
    sessions = make_sessionmaker(db)
    now = EARLY
    ids: list[int] = []
    with sessions() as s:
        for k in range(0, len(specs), PER_USER):
            user = create_user(s, f"p{k}@example.com", "correct horse battery", now)
            user.tier = "PRO"
            for body, life in specs[k : k + PER_USER]:
                data = dict(body)
                if life is not None:
                    data["expires_at"] = datetime.fromtimestamp(start + life, UTC)
                row = records.create_alert(s, user, _spec(data), now, WebhookGuard())
                ids.append(row.id)
        s.commit()
    runtime = AlertRuntime(settings, sessions, Bus(), lambda: now)
    assert runtime.load() == len(specs)
    feed = create_feed(f"replay:{csv}", FeedOptions(history_bars=HISTORY, replay_speed=0))
    engine = Engine(feed, history_bars=HISTORY, stale_after=60)
    engine.listeners.append(runtime.listener(engine.market))
    await engine.start()
    await engine.wait()
    await engine.stop()
    runtime.flush()
    fires: dict[int, list[Fire]] = {i: [] for i in ids}
    with sessions() as s:
        for e in s.scalars(select(Event).order_by(Event.id)):
            fires[e.alert_id or 0].append(
                (e.time.replace(tzinfo=UTC).timestamp(), e.price, e.level)
            )
    db.dispose()
    return [fires[i] for i in ids]


def test_the_backtest_fires_exactly_what_the_live_path_fires(tmp_path: Path) -> None:
    csv = _slice(tmp_path)
    specs = _specs(csv)
    conditions = {body["condition"] for body, _ in specs}
    assert conditions == {c.value for c in Condition}  # every condition is in the test
    assert {body["frequency"] for body, _ in specs} == {f.value for f in Frequency}
    live = asyncio.run(_live(tmp_path, csv, specs))
    bars = load_bar_file(csv).bars
    tested = [BacktestAlert(_spec(body), life) for body, life in specs]
    window, runs = backtest_series(bars, STREAM, tested, symbol="EURUSD", timeframe=Timeframe.H1)
    assert window.bars == STREAM and window.start == int(bars.time[HISTORY])
    back = [[(f.time, f.price, f.level) for f in run.fires] for run in runs]
    for (body, _), want, got in zip(specs, live, back, strict=True):
        assert got == want, body
    # with crossings and closed-bar alerts alone, most bars are skipped: nothing can fire
    # on them (``backtest_visits``); movement and line_touch alerts alone are shown only
    # the bars whose path reaches their keys as the closes move them (and the close before
    # each, which sets them): the same fires again
    alone = [i for i, (body, _) in enumerate(specs) if _skippable(body)]
    grouped = [i for i, (body, _) in enumerate(specs) if _grouped(body)]
    assert len(alone) >= 20 and len(grouped) >= 8
    for subset in (alone, grouped):
        _, runs = backtest_series(
            bars, STREAM, [tested[i] for i in subset], symbol="EURUSD", timeframe=Timeframe.H1
        )
        for i, run in zip(subset, runs, strict=True):
            assert [(f.time, f.price, f.level) for f in run.fires] == live[i], specs[i][0]
    # the comparison is not vacuous: every condition fired, and most alerts did
    fired = {body["condition"] for (body, _), f in zip(specs, live, strict=True) if f}
    assert fired == conditions
    assert sum(map(bool, live)) >= 0.8 * len(specs)
    assert sum(map(len, live)) > 500


def _confirmed_line(bars: Any, after: int) -> tuple[str, int]:
    """A support line confirmed in the window (its fractal at bar > ``after``), which price
    touches later: (its id, the index of the bar that confirms it)."""
    full = IndicatorState.from_arrays(bars.high, bars.low, bars.close, 2)
    for ln in full.horizontal:
        if ln.kind != "support" or ln.origin <= after + 2:
            continue
        confirmed = ln.origin + 2
        end = ln.broken if ln.broken >= 0 else len(bars)
        later = bars.low[confirmed + 1 : end]
        if ln.broken >= 0 and len(later) > 20 and (abs(later - ln.price) <= 0.0003).sum() >= 2:
            return horizontal_line_id(ln.kind, int(bars.time[ln.origin])), confirmed
    raise AssertionError("no suitable line in the data")


@pytest.mark.parametrize("condition", ["line_touch", "line_bounce", "line_break"])
def test_a_line_confirmed_at_bar_n_never_fires_before_it(condition: str) -> None:
    bars = load_bar_file(DATA).bars
    first = len(bars) - 600
    line_id, confirmed = _confirmed_line(bars, first + 100)
    extra = {} if condition == "line_break" else {"distance": 0.0003}
    freq = "once_per_bar" if condition == "line_touch" else "once_per_bar_close"
    spec = _spec({"condition": condition, "line_id": line_id, "frequency": freq, **extra})
    _, (run,) = backtest_series(
        bars, 600, [BacktestAlert(spec)], symbol="EURUSD", timeframe=Timeframe.H1
    )
    confirm_time = int(bars.time[confirmed])
    assert run.fires, f"{condition} on {line_id} never fired: the test would prove nothing"
    assert all(f.bar_time > confirm_time for f in run.fires)
    assert all(f.line_id == line_id for f in run.fires)
