"""The closed-bar fractal conditions of issue #15 (line_bounce; buffer and confirm_bars on
line_break / trendline_break; cooldown and max_fires on them) against a brute force written
straight from docs/alerts-semantics.md, over random price paths (hypothesis) and over the
replay of a real data file (tests/data/eurusd_h1.csv).

The brute force recomputes every line from scratch with the batch functions over bars
0..t at each close, so it shares nothing with the matcher's incremental state.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradealerts.core.alerts import AlertStatus, Frequency, validate_alert
from tradealerts.core.bars import Bar, Bars
from tradealerts.core.indicators import (
    DiagonalLine,
    HorizontalLine,
    IndicatorState,
    diagonal_lines,
    horizontal_lines,
)
from tradealerts.core.line_ids import diagonal_line_id, horizontal_line_id
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.alerts import Alert, AlertBook, MatchResult
from tradealerts.server.engine import MarketState, SeriesState
from tradealerts.server.feeds import BarClose

SYM = "EURUSD"
H1 = Timeframe.H1
T0 = 1_700_002_800
N = 2  # the fractal window
VALIDATION_NOW = datetime(2023, 1, 1, tzinfo=UTC)
FRACTAL_CONDITIONS = ("line_break", "trendline_break", "line_bounce")


# -- the brute force ---------------------------------------------------------------------------
@dataclass
class Path_:
    time: list[int]
    high: list[float]
    low: list[float]
    close: list[float]


def value(line: HorizontalLine | DiagonalLine, j: int) -> float:
    return line.value_at(j) if isinstance(line, DiagonalLine) else line.price


def line_id(p: Path_, line: HorizontalLine | DiagonalLine) -> str:
    if isinstance(line, DiagonalLine):
        return diagonal_line_id(line.kind, p.time[line.i1], p.time[line.i2])
    return horizontal_line_id(line.kind, p.time[line.origin])


def confirmed_at(line: HorizontalLine | DiagonalLine) -> int:
    """The bar that completed the line: its (second) fractal plus the window."""
    return line.i2 + N if isinstance(line, DiagonalLine) else line.confirmed


def beyond(close: float, v: float, kind: str, buffer: float) -> bool:
    return close - v > buffer if kind == "resistance" else v - close > buffer


def kinds_of(side: str) -> tuple[str, ...]:
    return ("resistance", "support") if side == "either" else (side,)


GONE = "gone"


def brute_fractal(p: Path_, t: int, spec: Any) -> tuple[float, str] | str | None:
    """(level, line id), None, or GONE for the alert at the close of bar ``t``."""
    h, lo, c = p.high[: t + 1], p.low[: t + 1], p.close[: t + 1]
    hl = horizontal_lines(h, lo, c, N)
    dl = diagonal_lines(h, lo, c, N)
    side, chosen = spec.side.value, spec.line_id
    if spec.condition.value == "line_bounce":
        d = spec.distance
        active = [x for x in [*hl, *dl] if x.broken is None]
        if chosen is not None and all(line_id(p, x) != chosen for x in active):
            return GONE
        if t < 1:
            return None
        best: tuple[float, str] | None = None
        for x in active:
            if confirmed_at(x) > t - 1:
                continue
            lid = line_id(p, x)
            if chosen is not None and lid != chosen:
                continue
            if chosen is None and side != "either" and x.kind != side:
                continue
            if not p.low[t - 1] - d <= value(x, t - 1) <= p.high[t - 1] + d:
                continue
            v = value(x, t)
            away = c[t] - v > d if x.kind == "support" else v - c[t] > d
            if away and (best is None or abs(c[t] - v) < abs(c[t] - best[0])):
                best = (v, lid)
        return best
    diagonal = spec.condition.value == "trendline_break"
    lines: list[Any] = dl if diagonal else hl
    b, bars = spec.buffer or 0.0, spec.confirm_bars or 1
    k = t - bars + 1

    def holds(x: Any) -> bool:
        return all(beyond(c[j], value(x, j), x.kind, b) for j in range(k, t + 1))

    broke_at_k = [x for x in lines if x.broken == k and confirmed_at(x) <= k - 1] if k >= 0 else []
    if chosen is not None:
        for x in broke_at_k:
            if line_id(p, x) == chosen:
                return (value(x, t), chosen) if holds(x) else None
        for x in lines:
            if line_id(p, x) != chosen:
                continue
            if x.broken is None:
                return None
            if x.broken >= k and confirmed_at(x) <= x.broken - 1:
                return None  # still in its confirmation bars
        return GONE
    if diagonal:
        good = [x for x in broke_at_k if x.kind in kinds_of(side) and holds(x)]
        if not good:
            return None
        x = min(good, key=lambda x: abs(value(x, t) - c[t]))
        return value(x, t), line_id(p, x)
    previous = c[k - 1] if k >= 1 else c[k]
    for kind in kinds_of(side):
        # the watched line: nearest the previous close among those active before bar k
        before = [
            x
            for x in hl
            if x.kind == kind and x.confirmed <= k - 1 and (x.broken is None or x.broken >= k)
        ]
        if not before:
            continue
        watched = min(before, key=lambda x: (abs(x.price - previous), x.origin))
        if watched.broken == k and holds(watched):
            return watched.price, line_id(p, watched)
    return None


@dataclass
class BruteAlert:
    alert: Alert
    last: float | None = None
    count: int = 0
    recent: list[float] = field(default_factory=list)


def brute_run(p: Path_, history: int, alerts: list[Alert]) -> list[tuple[Any, ...]]:
    """Every alert checked at every close, straight from the semantics page."""
    live = {a.id: BruteAlert(a) for a in alerts}
    out: list[tuple[Any, ...]] = []
    for t in range(history, len(p.close)):
        now = float(p.time[t] + H1.seconds)
        fired, changed = [], []
        for i in sorted(live):
            s = live[i]
            spec = s.alert.spec
            w = 60 if spec.frequency == Frequency.once_per_minute else H1.seconds
            spent = s.last is not None and not int(now) // w > int(s.last) // w
            if spec.frequency != Frequency.once and spent:
                continue
            if spec.cooldown and s.last is not None and now - s.last < spec.cooldown:
                continue
            got = brute_fractal(p, t, spec)
            if got == GONE:
                changed.append((i, AlertStatus.expired, "line_not_active", now))
                continue
            if got is None:
                continue
            level, lid = got
            s.recent = [x for x in s.recent if x > now - 180]
            if len(s.recent) >= 15:
                changed.append((i, AlertStatus.paused, "flood", now))
                continue
            s.recent.append(now)
            s.last, s.count = now, s.count + 1
            status, reason = AlertStatus.active, ""
            if spec.frequency == Frequency.once or (
                spec.line_id and spec.condition.value != "line_bounce"
            ):
                status, reason = AlertStatus.triggered, "triggered"
            elif spec.max_fires and s.count >= spec.max_fires:
                status, reason = AlertStatus.triggered, "max_fires"
            fired.append((i, level, p.close[t], now, status, s.count, lid))
            if status == AlertStatus.triggered:
                changed.append((i, status, reason, now))
        for i, *_ in changed:
            live.pop(i, None)
        out.append((t, fired, sorted(changed)))
    return out


# -- the matcher, fed the same closes ----------------------------------------------------------
def matcher_run(p: Path_, history: int, alerts: list[Alert]) -> list[tuple[Any, ...]]:
    bars = Bars(
        p.time[:history], p.close[:history], p.high[:history], p.low[:history], p.close[:history]
    )
    ind = IndicatorState.from_arrays(p.high[:history], p.low[:history], p.close[:history], N)
    market = MarketState()
    market.series[(SYM, H1)] = SeriesState(SYM, H1, bars, ind)
    book = AlertBook()
    for a in alerts:
        book.add(a)
    out: list[tuple[Any, ...]] = []
    for t in range(history, len(p.close)):
        bar = Bar(p.time[t], p.close[t], p.high[t], p.low[t], p.close[t])
        event = BarClose(SYM, H1, bar)
        result: MatchResult = book.on_bar(event, market.apply(event), market)
        fired = [
            (f.alert_id, f.level, f.price, f.time, f.status, f.fire_count, f.line_id)
            for f in result.fired
        ]
        changed = [(c.alert_id, c.status, c.reason, c.time) for c in result.changed]
        out.append((t, fired, changed))
    return out


def make_alert(alert_id: int, data: dict[str, Any]) -> Alert:
    body = {"symbol": SYM, "timeframe": "H1"} | {k: v for k, v in data.items() if v is not None}
    return Alert(alert_id, 1, validate_alert(body, now=VALIDATION_NOW))


def all_line_ids(p: Path_) -> list[str]:
    hl = horizontal_lines(p.high, p.low, p.close, N)
    dl = diagonal_lines(p.high, p.low, p.close, N)
    return sorted({line_id(p, x) for x in [*hl, *dl]})


# -- random paths ------------------------------------------------------------------------------
@st.composite
def price_path(draw: st.DrawFn) -> Path_:
    """Closes on a 0.001 grid (ties and exact touches happen), highs and lows around them."""
    n = draw(st.integers(25, 70))
    steps = draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))
    wick_up = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    wick_down = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    k, prev = 1000, 1000
    time, high, low, close = [], [], [], []
    for i in range(n):
        k = max(900, min(1100, k + steps[i]))
        time.append(T0 + i * 3600)
        close.append(k / 1000)
        high.append((max(k, prev) + wick_up[i]) / 1000)
        low.append((min(k, prev) - wick_down[i]) / 1000)
        prev = k
    return Path_(time, high, low, close)


@st.composite
def fractal_alert(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    cond = draw(st.sampled_from(FRACTAL_CONDITIONS))
    data: dict[str, Any] = {
        "condition": cond,
        "frequency": draw(st.sampled_from(list(Frequency))).value,
        "side": draw(st.sampled_from(["support", "resistance", "either"])),
        "cooldown": draw(st.sampled_from([None, None, 3600, 7200, 3 * 3600])),
        "max_fires": draw(st.sampled_from([None, None, 1, 2, 3])),
    }
    wanted = "d" if cond == "trendline_break" else "h" if cond == "line_break" else ""
    choices = [i for i in ids if i.startswith(wanted)]
    if choices and draw(st.integers(0, 3)) == 0:
        data["line_id"] = draw(st.sampled_from(choices))
        data["side"] = "either"
    if cond == "line_bounce":
        data["distance"] = draw(st.sampled_from([0.001, 0.002, 0.004]))
    else:
        data["buffer"] = draw(st.sampled_from([None, 0.0, 0.001, 0.003]))
        data["confirm_bars"] = draw(st.sampled_from([None, 1, 2, 3]))
    return data


@st.composite
def fractal_case(draw: st.DrawFn) -> tuple[Path_, int, list[Alert]]:
    p = draw(price_path())
    ids = all_line_ids(p)
    specs = draw(st.lists(fractal_alert(ids), min_size=1, max_size=8))
    return p, draw(st.integers(6, 15)), [make_alert(i, d) for i, d in enumerate(specs)]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fractal_case())
def test_fractal_conditions_fire_exactly_what_the_semantics_say(
    case: tuple[Path_, int, list[Alert]],
) -> None:
    p, history, alerts = case
    assert matcher_run(p, history, alerts) == brute_run(p, history, alerts)


# -- a real data file --------------------------------------------------------------------------
DATA = Path(__file__).resolve().parents[1] / "data" / "eurusd_h1.csv"


def real_path(limit: int = 500) -> Path_:
    with DATA.open() as f:
        rows = list(csv.DictReader(f))[:limit]

    def col(name: str) -> list[float]:
        return [float(r[name]) for r in rows]

    times = [int(datetime.fromisoformat(r["time"]).timestamp()) for r in rows]
    return Path_(times, col("high"), col("low"), col("close"))


REAL_ALERTS = [
    {"condition": "line_bounce", "distance": 0.0002, "frequency": "once_per_bar"},
    {"condition": "line_bounce", "distance": 0.0005, "side": "support",
     "frequency": "once_per_bar"},
    {"condition": "line_bounce", "distance": 0.0003, "side": "resistance",
     "frequency": "once_per_bar", "cooldown": 4 * 3600},
    {"condition": "line_break", "frequency": "once_per_bar"},
    {"condition": "line_break", "buffer": 0.0003, "confirm_bars": 2,
     "frequency": "once_per_bar"},
    {"condition": "line_break", "buffer": 0.0005, "side": "resistance",
     "frequency": "once_per_bar", "max_fires": 3},
    {"condition": "trendline_break", "frequency": "once_per_bar"},
    {"condition": "trendline_break", "confirm_bars": 3, "buffer": 0.0002,
     "frequency": "once_per_bar"},
    {"condition": "trendline_break", "confirm_bars": 2, "side": "support",
     "frequency": "once_per_bar_close", "cooldown": 24 * 3600},
]  # fmt: skip


def test_the_real_file_replayed_fires_what_the_brute_force_fires() -> None:
    p = real_path()
    alerts = [make_alert(i, d) for i, d in enumerate(REAL_ALERTS)]
    got = matcher_run(p, 30, alerts)
    assert got == brute_run(p, 30, alerts)
    fires = {i: sum(1 for _, fired, _ in got for f in fired if f[0] == i) for i in range(9)}
    # every kind of alert fired on the real data, and the options held some back
    assert all(fires[i] > 0 for i in range(9)), fires
    assert fires[4] < fires[3] and fires[7] < fires[6]  # buffer/confirmation are stricter
    assert fires[5] == 3  # max_fires, then triggered
    assert fires[2] < fires[0] or fires[2] < fires[1]
