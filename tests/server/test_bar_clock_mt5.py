"""The bar clock with a real broker's clock: the MT5 stand-in runs its server time as forex
brokers do (UTC+2 in winter, UTC+3 in summer, daylight-saving switches on a weekend, no quotes
from Friday 17:00 to Sunday 17:00 New York), a real server on loopback follows it (bar clock
``auto``, the default with MT5) and is read over HTTP after every poll of the terminal."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from tests.server.serverkit import (
    Clock,
    Inbox,
    Running,
    register_and_login,
    server_settings,
    start_server,
)

from tradealerts.server.db.models import Event
from tradealerts.server.feeds import FeedOptions
from tradealerts.server.feeds.mt5 import MT5Feed

STANDIN = Path(__file__).parent.parent / "mt5_standin"
H = 3600
TFS = {"H1": 16385, "H4": 16388, "D1": 16408}  # MetaTrader5.TIMEFRAME_*
STEP = 20 * 60  # stand-in seconds per poll


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# (broker zone, the hour of its day start, the run's start in UTC, the offset before, after);
# the polls land 7 minutes into the hour, so a new bar already holds a few prices
SWITCHES = {
    # the New-York-close convention, US dates: spring forward on 2025-03-09
    "ny-close-march": ("America/New_York", 17, utc("2025-03-07T09:07"), 2, 3),
    # an EET broker (EU dates): back on 2025-10-26, a week before New York's own switch, so
    # the market opens at 23:00 server time that Sunday (a one-hour Sunday D1 bar)
    "eet-october": ("Europe/Athens", 0, utc("2025-10-24T09:07"), 3, 2),
    # the New-York-close convention back on 2025-11-02
    "ny-close-november": ("America/New_York", 17, utc("2025-10-31T09:07"), 3, 2),
}
RUN = 4 * 24 * H  # Friday morning to Tuesday morning


def server_to_utc(zone: ZoneInfo, day_start: int, stamp: int) -> int:
    """The UTC instant a broker stamps as ``stamp`` (the test's own reading of the zone,
    independent of the product's bar clock): the first that fits."""
    shift = (-day_start * H) % 86_400
    fits = []
    for off in range(-14 * H, 15 * H, 1800):
        u = stamp - off
        real = datetime.fromtimestamp(u, zone).utcoffset()
        assert real is not None
        if int(real.total_seconds()) + shift == off:
            fits.append(u)
    assert fits, stamp
    return min(fits)


class Stepper:
    """The feed's sleep: each poll of the terminal waits for the test to move the stand-in's
    clock, so the test reads the server between two polls, when every event of the last one
    has been applied (the feed's generator resumes only when the engine asks for more)."""

    def __init__(self, mt5: Any) -> None:
        self.mt5 = mt5
        self.idle = threading.Event()
        self.go = threading.Event()
        self.released = False  # the test is over: polls no longer wait (the server stops)

    async def __call__(self, _seconds: float) -> None:
        if self.released:
            return
        self.go.clear()
        self.idle.set()
        # short waits, so a server stopping can cancel the poll between two of them
        while not await asyncio.to_thread(self.go.wait, 0.5):
            if self.released:
                return

    def release(self) -> None:
        self.released = True
        self.go.set()

    def step(self, seconds: float) -> None:
        assert self.idle.wait(60), "the feed did not come back to poll"
        self.idle.clear()
        self.mt5._advance(seconds)
        self.go.set()
        assert self.idle.wait(60), "the poll did not finish"


@pytest.fixture
def steppers() -> Iterator[list[Stepper]]:
    """Steppers released at the end, before the server stops, whatever the test's outcome."""
    made: list[Stepper] = []
    yield made
    for s in made:
        s.release()


@pytest.fixture
def standin() -> Iterator[Any]:
    sys.path.insert(0, str(STANDIN))
    try:
        yield importlib.import_module("MetaTrader5")
    finally:
        sys.path.remove(str(STANDIN))
        sys.modules.pop("MetaTrader5", None)


@pytest.fixture
def serve(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[Callable[..., Running]]:
    inbox, port = smtp
    running: list[Running] = []

    def make(feed: MT5Feed, **overrides: Any) -> Running:
        settings = server_settings(
            tmp_path / "home", f"sqlite:///{tmp_path / 'server.db'}", port, feed="mt5",
            history_bars=60, rate_limits_enabled=False, **overrides,
        )  # fmt: skip
        srv = start_server(settings, Clock(), inbox, feed=feed)
        running.append(srv)
        return srv

    yield make
    for srv in running:
        srv.stop()


def terminal_bars(mt5: Any, tf: str, count: int, zone: ZoneInfo, day: int) -> list[list[Any]]:
    """The terminal's last ``count`` closed bars and its position-0 bar, times in UTC."""
    rates = mt5.copy_rates_from_pos("EURUSD", TFS[tf], 0, count + 1)
    return [
        [
            server_to_utc(zone, day, int(r["time"])),
            *(float(r[k]) for k in ("open", "high", "low", "close")),
        ]
        for r in rates
    ]


def served(
    c: httpx.Client, tf: str, count: int
) -> tuple[list[list[Any]], list[Any], dict[str, Any]]:
    r = c.get(f"/api/indicators/EURUSD/{tf}", params={"bars": count})
    assert r.status_code == 200, r.text
    body = r.json()
    b = body["bars"]
    rows = [
        list(x) for x in zip(b["time"], b["open"], b["high"], b["low"], b["close"], strict=True)
    ]
    f = body["forming"]
    forming = [f["time"], f["open"], f["high"], f["low"], f["close"]] if f else []
    return rows, forming, body


@pytest.mark.parametrize("case", list(SWITCHES))
def test_served_bars_forming_candle_windows_and_lines_follow_the_terminal_through_a_switch(
    case: str, standin: Any, serve: Callable[..., Running], steppers: list[Stepper]
) -> None:
    zone_name, day, start, before, after = SWITCHES[case]
    zone = ZoneInfo(zone_name)
    mt5 = standin
    mt5._configure(
        symbols={"EURUSD": 1.08}, start=start, broker_zone=zone_name,
        broker_day_start=day * H, weekends=True,
    )  # fmt: skip
    stepper = Stepper(mt5)
    steppers.append(stepper)
    opts = FeedOptions(
        symbols=("EURUSD",), clock=lambda: mt5._state["now"], sleep=stepper,
        mt5_poll_interval=STEP,
    )  # fmt: skip
    feed = MT5Feed(opts, bridge=None)
    srv = serve(feed)
    token = register_and_login(srv, "trader@example.com")["access_token"]
    c = srv.client(token)
    r = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H4",
                                    "condition": "greater_than", "level": 0.5,
                                    "frequency": "once_per_bar"})  # fmt: skip
    assert r.status_code == 201, r.text
    alert_id = r.json()["id"]
    assert stepper.idle.wait(60)
    assert feed.utc_offset_hours == before

    lines: dict[tuple[str, int, float], str] = {}  # (kind, origin, price) -> id
    last_served = {tf: served(c, tf, 20)[0][-1][0] for tf in TFS}
    switched = False
    for _ in range(RUN // STEP):
        stepper.step(STEP)
        switched = switched or feed.utc_offset_hours == after
        for tf in TFS:
            rows, forming, body = served(c, tf, 20)
            want = terminal_bars(mt5, tf, 20, zone, day)
            # the closed bars served are exactly the terminal's: times (UTC) and OHLC
            assert rows == want[:-1][-len(rows) :], (tf, case)
            assert len(rows) == 20
            newest = rows[-1][0]
            # at every poll the forming candle opened when the terminal's did
            assert forming[:1] == want[-1][:1], (tf, case)
            if last_served.get(tf) != newest:  # a bar closed in this poll
                # the forming candle is the terminal's position-0 bar: time and OHLC
                assert forming == want[-1], (tf, case)
                last_served[tf] = newest
            for line in body["horizontal_lines"]:
                key = (line["kind"], line["origin_time"], line["price"])
                # a line keeps its id through the switch (ids come from bar times)
                assert lines.setdefault(key, line["id"]) == line["id"], (key, case)
    assert switched and feed.utc_offset_hours == after
    assert len(lines) > 3

    # D1 bars open at the broker's midnight: before the switch at 24 - before, after it at
    # 24 - after (UTC); the weekend has none (an EET broker's Sunday bar when New York has
    # not switched yet is the exception the terminal itself makes)
    d1, _, _ = served(c, "D1", 20)
    hours = {datetime.fromtimestamp(t, UTC).hour for t, *_ in d1}
    assert hours == {24 - before, 24 - after}, (hours, case)

    # once_per_bar: one fire per broker H4 bar that had a quote after the alert was made
    # (the first at the first poll), none twice
    opens = [t for t, *_ in terminal_bars(mt5, "H4", 60, zone, day)]
    expected = [o for o in opens if o + 4 * H > start + STEP]
    fired = fires(srv, alert_id, len(expected))
    bars_fired = [max(o for o in opens if o <= t) for t in fired]
    assert bars_fired == expected, case


def fires(srv: Running, alert_id: int, count: int) -> list[int]:
    """The alert's fire times (UTC), once the alert log holds ``count`` (it writes in
    batches) or more; what it holds after 30 s otherwise."""
    deadline = time.monotonic() + 30
    while True:
        with srv.app.state.sessions() as s:
            rows = s.scalars(select(Event.time).where(Event.alert_id == alert_id)).all()
        got = sorted(int(t.replace(tzinfo=UTC).timestamp()) for t in rows)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)
