"""Replays of MT5 exports, whose times are the broker's: ``TRADEALERTS_REPLAY_TZ`` converts
them once on reading and the server serves them on the New-York-close grid."""

from __future__ import annotations

import importlib
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.server.serverkit import Running, register_and_login

from tradealerts.core.timeframes import Timeframe, parse_bar_clock
from tradealerts.server.feeds.replay import load_bar_file

DATA = Path(__file__).parent.parent / "data"
STANDIN = Path(__file__).parent.parent / "mt5_standin"
NY = ZoneInfo("America/New_York")
H = 3600


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def hour(t: int) -> int:
    return datetime.fromtimestamp(t, UTC).hour


@pytest.fixture
def standin() -> Iterator[Any]:
    sys.path.insert(0, str(STANDIN))
    try:
        yield importlib.import_module("MetaTrader5")
    finally:
        sys.path.remove(str(STANDIN))
        sys.modules.pop("MetaTrader5", None)


def export(mt5: Any, path: Path, start: str, end: str) -> list[int]:
    """An MT5 export of the stand-in's H1 bars (a New-York-close broker, weekends closed):
    the terminal's own tab-separated format, times in server time. Returns the server
    stamps written."""
    mt5._configure(symbols={"EURUSD": 1.08}, start=utc(end), broker_zone="America/New_York",
                   broker_day_start=17 * H, weekends=True)  # fmt: skip
    mt5.initialize()
    rates = mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_H1, 1, 2000)
    rates = rates[rates["time"] >= utc(start)]
    lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for r in rates:
        when = datetime.fromtimestamp(int(r["time"]), UTC)
        lines.append(
            f"{when:%Y.%m.%d}\t{when:%H:%M:%S}\t{r['open']:.5f}\t{r['high']:.5f}\t"
            f"{r['low']:.5f}\t{r['close']:.5f}\t{r['tick_volume']}\t0\t{r['spread']}"
        )
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-16")  # as MT5 saves it
    return [int(t) for t in rates["time"]]


def broker_day_open(server_day: int) -> int:
    """The UTC instant of a broker's midnight (New York 17:00 the evening before)."""
    ny = datetime.fromtimestamp(server_day - 7 * H, UTC).replace(tzinfo=NY)
    return int(ny.timestamp())


def test_a_replayed_mt5_export_is_served_on_the_new_york_close_grid(
    tmp_path: Path, standin: Any, make_server: Callable[..., Running]
) -> None:
    path = tmp_path / "EURUSD_H1_export.csv"
    stamps = export(standin, path, "2025-02-23T00:00", "2025-03-29T00:00")
    days = sorted({s - s % 86_400 for s in stamps})  # the broker's dates
    want = [broker_day_open(d) for d in days]
    srv = make_server(feed=f"replay:{path}", replay_tz="bar_clock", replay_speed=0,
                      bar_clock="America/New_York@17:00", history_bars=100,
                      rate_limits_enabled=False)  # fmt: skip
    c = srv.client(register_and_login(srv, "trader@example.com")["access_token"])
    deadline = time.monotonic() + 60
    while True:  # the replay streams the rest of the file at full speed
        body = c.get("/api/indicators/EURUSD/D1", params={"bars": 100}).json()
        got = [*body["bars"]["time"], *([body["forming"]["time"]] if body["forming"] else [])]
        if got[-1:] == want[-1:] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got == want
    # 22:00 UTC before the US switch (2025-03-09), 21:00 UTC after it
    switch = utc("2025-03-09T07:00")
    assert {hour(t) for t in got if t < switch} == {22}
    assert {hour(t) for t in got if t > switch} == {21}
    # five a week: Monday to Friday, no Sunday bar
    weeks = Counter(datetime.fromtimestamp(t + 12 * H, UTC).isocalendar()[1] for t in got)
    assert set(weeks.values()) == {5}, weeks
    # H4: six bars a day from the broker's midnight
    h4 = c.get("/api/indicators/EURUSD/H4", params={"bars": 30}).json()["bars"]["time"]
    assert {hour(t) for t in h4} <= {21, 1, 5, 9, 13, 17}


def test_the_shipped_mt5_export_in_broker_time_opens_d1_at_22_utc(tmp_path: Path) -> None:
    clock = parse_bar_clock("America/New_York@17:00")
    f = load_bar_file(DATA / "XAUUSD_H4_mt5.csv", tz=clock, clock=clock)
    assert f.timeframe == Timeframe.H4
    # its first bar, 2024.11.21 00:00 server time, is 22:00 UTC the day before
    assert int(f.bars.time[0]) == int(utc("2024-11-20T22:00"))
    assert {hour(int(t)) for t in f.bars.time} == {22, 2, 6, 10, 14, 18}
    # read as UTC on the same clock, the file is off the grid: the error says what to set
    with pytest.raises(Exception, match="TRADEALERTS_REPLAY_TZ"):
        load_bar_file(DATA / "XAUUSD_H4_mt5.csv", clock=clock)
