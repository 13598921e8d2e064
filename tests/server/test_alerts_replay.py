"""A replay file whose crossings are known: the real feed, engine, matcher and event log
(SQLite) fire exactly the expected events, in order, and the same ones on a second run."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from tradealerts.core.alerts import AlertCreate
from tradealerts.server.accounts import create_user
from tradealerts.server.alerts import records
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.alerts.runtime import AlertRuntime
from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.models import Event
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.engine import Engine
from tradealerts.server.events import Bus
from tradealerts.server.feeds import FeedOptions, create_feed
from tradealerts.server.settings import Settings

HISTORY = 40
START = 1_767_225_600  # 2026-01-01 00:00 UTC
H1 = 3600


def make_file(path: Path, bars: int = 70) -> list[tuple[int, float, float, float, float]]:
    """A wave around 1.0900: each bar's open is the last close, ranges of 5-20 pips."""
    rows = []
    close = 1.0890
    for i in range(bars):
        o = close
        c = round(1.0900 + 0.0030 * math.sin(i / 3.0), 5)
        h = round(max(o, c) + 0.0004 + 0.0001 * (i % 3), 5)
        lo = round(min(o, c) - 0.0003 - 0.0001 * (i % 4), 5)
        rows.append((START + i * H1, o, h, lo, c))
        close = c
    path.write_text(
        "time,open,high,low,close,volume\n"
        + "".join(f"{t},{o},{h},{lo},{c},100\n" for t, o, h, lo, c in rows)
    )
    return rows


def ticks(rows: list[tuple[int, float, float, float, float]]) -> list[tuple[int, float]]:
    """The documented replay path of each streamed bar: open, nearer extreme (high on a tie),
    farther extreme, close; tagged with the bar it belongs to."""
    out = []
    for k, (_t, o, h, lo, c) in enumerate(rows[HISTORY:]):
        near, far = (h, lo) if h - o <= o - lo else (lo, h)
        out += [(k, o), (k, near), (k, far), (k, c)]
    return out


def expected_fires(
    path: list[tuple[int, float]], alerts: list[tuple[int, str, float, str]]
) -> list[tuple[int, float, float]]:
    """(alert id, level, price) of every fire, straight from the definitions."""
    out = []
    last_bar: dict[int, int] = {}
    for i in range(1, len(path)):
        (_, p0), (bar, p) = path[i - 1], path[i]
        for alert_id, cond, level, freq in alerts:
            up = p0 < level <= p
            down = p0 > level >= p
            hit = {"crossing_up": up, "crossing_down": down, "crossing": up or down}[cond]
            if not hit:
                continue
            if freq == "once_per_bar" and last_bar.get(alert_id) == bar:
                continue
            last_bar[alert_id] = bar
            out.append((alert_id, level, p))
    return out


Fire = tuple[int, float, float]
Spec = tuple[int, str, float, str]


async def run_once(tmp: Path, csv: Path) -> tuple[list[Fire], list[int], list[Spec]]:
    settings = Settings(home=tmp, secret_key="k" * 40)
    db = make_engine(f"sqlite:///{tmp / 'server.db'}")
    upgrade(db)
    sessions = make_sessionmaker(db)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    specs = [
        ("crossing_up", 1.0900, "once_per_minute"),
        ("crossing_down", 1.0880, "once_per_minute"),
        ("crossing", 1.0920, "once_per_bar"),
        ("crossing", 1.0905, "once_per_minute"),
    ]
    with sessions() as s:
        user = create_user(s, "replay@example.com", "correct horse battery", now)
        user.tier = "PRO"
        ids = []
        for cond, level, freq in specs:
            spec = AlertCreate.model_validate(
                {
                    "symbol": "EURUSD",
                    "timeframe": "H1",
                    "condition": cond,
                    "level": level,
                    "frequency": freq,
                }
            )
            ids.append(records.create_alert(s, user, spec, now, WebhookGuard()).id)
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
    with sessions() as s:
        events = s.scalars(select(Event).order_by(Event.id)).all()
        got = [(e.alert_id or 0, e.level or 0.0, e.price) for e in events]
        times = [int(e.time.timestamp()) for e in events]
    db.dispose()
    alerts = [(i, c, lv, f) for i, (c, lv, f) in zip(ids, specs, strict=True)]
    return got, times, alerts


def test_replayed_crossings_fire_exactly_the_expected_events(tmp_path: Path) -> None:
    csv = tmp_path / "EURUSD_H1.csv"
    rows = make_file(csv)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    got, times, alerts = asyncio.run(run_once(tmp_path / "a", csv))
    want = expected_fires(ticks(rows), alerts)
    assert len(want) >= 10  # the file really crosses the levels, many times
    assert {a for a, _, _ in want} == {a for a, *_ in alerts}  # every alert fires
    assert got == want
    assert times == sorted(times)
    assert all(rows[HISTORY][0] <= t < rows[-1][0] + H1 for t in times)
    again, times2, _ = asyncio.run(run_once(tmp_path / "b", csv))
    assert (again, times2) == (got, times)  # deterministic
