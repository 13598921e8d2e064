"""The MT5 feed against the stand-in MetaTrader5 module: loaded directly, and over a real
rpyc classic bridge served by another process on loopback."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rpyc

from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds import (
    BarClose,
    FeedConfigError,
    FeedOptions,
    FeedUnavailable,
    Tick,
    create_feed,
)
from tradealerts.server.feeds.mt5 import MT5Feed

STANDIN = Path(__file__).parent.parent / "mt5_standin"
START = 1_764_001_000.0  # UTC; the stand-in's server time runs 2 h ahead
BRIDGE = r"""
import sys
from rpyc.core.service import ClassicService
from rpyc.utils.server import ThreadedServer
server = ThreadedServer(ClassicService, hostname="127.0.0.1", port=0)
print(server.port, flush=True)
server.start()
"""


class Sleeps:
    """FeedOptions.sleep that records the waits and moves the stand-in's clock instead."""

    def __init__(self, mt5: Any) -> None:
        self.mt5 = mt5
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.mt5._advance(seconds)


@pytest.fixture(params=["direct", "rpyc"])
def terminal(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """(feed spec, the stand-in module as the test can drive it)."""
    if request.param == "direct":
        sys.path.insert(0, str(STANDIN))
        try:
            yield "mt5", importlib.import_module("MetaTrader5")
        finally:
            sys.path.remove(str(STANDIN))
            sys.modules.pop("MetaTrader5", None)
        return
    with standin_bridge() as (port, control):
        yield f"mt5-rpyc://127.0.0.1:{port}", control.modules.MetaTrader5


@contextmanager
def standin_bridge() -> Iterator[tuple[int, Any]]:
    """The stand-in MetaTrader5 served over a real rpyc classic bridge: (port, its control)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BRIDGE],
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(STANDIN), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        control = connect_when_listening(port)
        yield port, control
        control.close()
    finally:
        proc.terminate()
        proc.wait(5)


def connect_when_listening(port: int) -> Any:
    """The bridge prints its port just before it listens: retry for up to 5 s."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return rpyc.classic.connect("127.0.0.1", port)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def options(mt5: Any, offset_hours: float = 2, **kw: Any) -> FeedOptions:
    mt5._configure(
        symbols={"EURUSD": 1.08, "US30.cash": 39000.0, "XAUUSD": 2000.0},
        server_utc_offset_hours=offset_hours,
        start=START,
    )
    base: dict[str, Any] = {
        "symbols": ("EURUSD", "US30", "XAUUSD", "GBPUSD"),
        "symbol_map": {"US30": "US30.cash"},
        "clock": lambda: mt5._state["now"],
        "sleep": Sleeps(mt5),
        "mt5_poll_interval": 1.0,
    }
    base.update(kw)
    return FeedOptions(**base)


async def test_history_in_utc_with_symbol_map_and_missing_symbol(terminal, caplog) -> None:
    spec, mt5 = terminal
    feed = create_feed(spec, options(mt5))
    assert isinstance(feed, MT5Feed)
    with caplog.at_level(logging.WARNING, logger="tradealerts.feeds.mt5"):
        await feed.start()
    assert "GBPUSD (GBPUSD)" in caplog.text  # the terminal has no GBPUSD: skipped, said once
    assert feed.symbols() == ("EURUSD", "US30", "XAUUSD")
    assert feed.utc_offset_hours == 2.0  # "auto", from the newest tick against the clock
    bars = await feed.bars("US30", Timeframe.H1, 50)
    assert len(bars) == 50 and type(bars.close) is np.ndarray
    assert bars.close.mean() == pytest.approx(39000, rel=0.01)
    # the forming bar opens at the UTC hour of now; closed bars are the 50 before it
    assert bars.forming is not None and bars.forming.time == Timeframe.H1.bar_open(int(START))
    assert bars.time[-1] == bars.forming.time - 3600
    assert bars.volume[0] >= 100  # tick_volume
    await feed.close()
    await feed.close()  # twice is fine


async def test_fixed_offset_setting_is_used(terminal) -> None:
    spec, mt5 = terminal
    feed = create_feed(spec, options(mt5, mt5_utc_offset=3))
    await feed.start()
    bars = await feed.bars("EURUSD", Timeframe.M5, 3)
    # the stand-in runs at UTC+2, so a +3 setting lands one hour early: the setting wins
    assert bars.forming is not None
    assert bars.forming.time == Timeframe.M5.bar_open(int(START)) - 3600
    await feed.close()


async def test_ticks_on_change_and_bar_closes_before_the_tick(terminal) -> None:
    spec, mt5 = terminal
    feed = create_feed(spec, options(mt5, symbols=("EURUSD",), mt5_poll_interval=20.0))
    await feed.start()
    await feed.bars("EURUSD", Timeframe.M5, 10)
    events: list[Tick | BarClose] = []
    async for ev in feed.stream():
        events.append(ev)
        if len([e for e in events if isinstance(e, Tick)]) >= 40:  # 40 polls x 20 s
            break
    ticks = [e for e in events if isinstance(e, Tick)]
    m5 = [e for e in events if isinstance(e, BarClose) and e.timeframe is Timeframe.M5]
    assert [t.time for t in ticks] == sorted({t.time for t in ticks})  # no repeats
    assert all(t.ask > t.bid for t in ticks)
    assert 2 <= len(m5) <= 4
    for c in m5:
        i = events.index(c)
        nxt = next(e for e in events[i + 1 :] if isinstance(e, Tick))
        assert nxt.time >= c.bar.time + 300 > c.bar.time
        assert c.bar.time % 300 == 0
    await feed.close()


async def test_unchanged_quote_is_not_a_tick(terminal) -> None:
    spec, mt5 = terminal

    async def frozen(_: float) -> None:  # time does not move: the quote never changes
        return None

    feed = create_feed(spec, options(mt5, symbols=("EURUSD",), sleep=frozen))
    await feed.start()
    stream = feed.stream()
    first = await anext(stream)
    assert isinstance(first, Tick | BarClose)
    mt5._advance(1)
    later = await anext(stream)
    # only after the clock moved does a new tick arrive (bar events may come first)
    while not isinstance(later, Tick):
        later = await anext(stream)
    assert isinstance(later, Tick) and later.time > (first.time if isinstance(first, Tick) else 0)
    await feed.close()


async def test_terminal_lost_then_reconnects(terminal, caplog) -> None:
    spec, mt5 = terminal
    sleeps = Sleeps(mt5)
    feed = create_feed(spec, options(mt5, symbols=("EURUSD",), sleep=sleeps, mt5_poll_interval=0.5))
    await feed.start()
    stream = feed.stream()
    assert isinstance(await anext(stream), Tick | BarClose)
    mt5._disconnect()
    waits_before = len(sleeps.waits)
    with caplog.at_level(logging.WARNING, logger="tradealerts.feeds.mt5"):
        # the poll fails; the feed reports and backs off; we reconnect the terminal
        # during the third back-off
        async def reconnect_later(seconds: float) -> None:
            sleeps.waits.append(seconds)
            mt5._advance(seconds)
            if [w for w in sleeps.waits[waits_before:] if w != 0.5] == [1.0, 2.0, 4.0]:
                assert feed.status().connected is False
                assert "MT5 terminal lost" in (feed.status().error or "")
                mt5._reconnect()

        feed.options.sleep = reconnect_later
        ev = await anext(stream)
        while not isinstance(ev, Tick):
            ev = await anext(stream)
    assert "MT5 terminal lost" in caplog.text and "reconnecting in 1s" in caplog.text
    backoffs = [w for w in sleeps.waits[waits_before:] if w != 0.5]
    assert backoffs == [1.0, 2.0, 4.0]  # exponential, and back to polling once reconnected
    assert feed.status().connected is True and feed.status().error is None
    await feed.close()


async def test_initialize_failure_does_not_leak_the_password(terminal) -> None:
    spec, mt5 = terminal
    opts = options(mt5, mt5_login=1234, mt5_password="s3cret-pass", mt5_server="Demo")
    mt5._configure(refuse_login=True)
    feed = create_feed(spec, opts)
    with pytest.raises(FeedUnavailable) as err:
        await feed.start()
    assert "Authorization failed (-6)" in str(err.value)
    assert "s3cret" not in str(err.value) and "s3cret" not in repr(opts)


async def test_module_missing_says_how_to_install() -> None:
    sys.modules.pop("MetaTrader5", None)
    feed = create_feed("mt5")
    with pytest.raises(FeedConfigError, match=r"tradealerts\[mt5\].*mt5-rpyc://HOST:PORT"):
        await feed.start()


async def test_bridge_down_is_temporary() -> None:
    feed = create_feed("mt5-rpyc://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(FeedUnavailable, match=r"cannot reach the MT5 bridge at 127\.0\.0\.1:9"):
        await feed.start()


GRID = (Timeframe.M5, Timeframe.M15, Timeframe.M30, Timeframe.H1)  # whole divisors of an hour
AFTER = 2 * 3600  # the run goes on this long after the switch


async def _run_through_a_switch(
    mt5: Any, spec: str, before: float, after: float
) -> tuple[MT5Feed, int, dict[Timeframe, list[Any]], dict[Timeframe, list[Any]]]:
    """Load history, switch the broker's clock from UTC+``before`` to UTC+``after`` two hours
    into the run, and stream until ``AFTER`` seconds after the switch. Returns the feed, the switch
    (UTC), and per timeframe the history and the closed bars streamed."""
    feed = create_feed(spec, options(mt5, before, symbols=("EURUSD",), mt5_poll_interval=60.0))
    assert isinstance(feed, MT5Feed)
    await feed.start()
    assert feed.utc_offset_hours == before
    history = {tf: list(await feed.bars("EURUSD", tf, 30)) for tf in GRID}
    switch = Timeframe.H1.bar_open(int(START)) + 2 * 3600
    mt5._switch_offset(switch, after)
    closes: dict[Timeframe, list[Any]] = {tf: [] for tf in GRID}
    async for ev in feed.stream():
        if isinstance(ev, BarClose):
            if ev.timeframe in closes:
                closes[ev.timeframe].append(ev.bar)
            continue
        # every tick is on the UTC clock, before and after the switch
        assert ev.time == int(mt5._state["now"])
        if ev.time >= switch + AFTER:
            break
    assert feed.utc_offset_hours == after
    return feed, switch, history, closes


async def test_dst_switch_forward_mid_run_keeps_bars_on_the_utc_grid(terminal, caplog) -> None:
    """Spring: the broker goes from UTC+2 to UTC+3 (its clock skips an hour) while streaming.
    Every bar closes once, on the UTC grid, none missing, and the history read afterwards (old
    stamps at +2, new ones at +3) is the same bars."""
    spec, mt5 = terminal
    with caplog.at_level(logging.INFO, logger="tradealerts.feeds.mt5"):
        feed, switch, history, closes = await _run_through_a_switch(mt5, spec, 2, 3)
    assert "MT5 server time is now UTC+3 h (was UTC+2 h)" in caplog.text
    for tf in GRID:
        hist, live = history[tf], closes[tf]
        times = [b.time for b in hist] + [b.time for b in live]
        assert all(t % tf.seconds == 0 for t in times), tf
        assert np.diff(times).tolist() == [tf.seconds] * (len(times) - 1), tf  # none lost or twice
        assert live[0].time == hist[-1].time + tf.seconds
        assert live[-1].time == switch + AFTER - tf.seconds  # up to the end of the run
        again = await feed.bars("EURUSD", tf, len(live) + 5)
        rows = zip(again.time, again.open, again.close, strict=True)
        by_time = {int(t): (o, c) for t, o, c in rows}
        assert all(by_time[b.time] == (b.open, b.close) for b in live), tf
    await feed.close()


async def test_dst_switch_back_mid_run_never_repeats_a_bar(terminal, caplog) -> None:
    """Autumn: from UTC+3 to UTC+2 (the broker's clock repeats an hour). MT5 has one bar per
    server time, so the repeated hour's prices go into the bars stamped with that hour the
    first time: those bars close once, at their first UTC time, and the repeated hour has no
    bars of its own. Every other bar closes once, on the UTC grid."""
    spec, mt5 = terminal
    with caplog.at_level(logging.INFO, logger="tradealerts.feeds.mt5"):
        feed, switch, history, closes = await _run_through_a_switch(mt5, spec, 3, 2)
    assert "MT5 server time is now UTC+2 h (was UTC+3 h)" in caplog.text
    for tf in GRID:
        times = [b.time for b in history[tf]] + [b.time for b in closes[tf]]
        assert all(t % tf.seconds == 0 for t in times), tf
        assert len(set(times)) == len(times) and times == sorted(times), tf
        expected = range(times[0], switch + AFTER, tf.seconds)
        repeated = range(switch, switch + 3600, tf.seconds)
        assert sorted(set(expected) - set(times)) == list(repeated), tf
        again = await feed.bars("EURUSD", tf, len(closes[tf]) + 5)
        assert {b.time for b in closes[tf]} <= {int(t) for t in again.time}, tf
    await feed.close()


async def test_a_slow_poll_loses_no_bar(terminal) -> None:
    """Polls further apart than a bar (a busy terminal, a bridge that lags): every bar that
    closed in between is reported, oldest first, none twice."""
    spec, mt5 = terminal
    feed = create_feed(spec, options(mt5, symbols=("EURUSD",), mt5_poll_interval=700.0))
    await feed.start()
    last = (await feed.bars("EURUSD", Timeframe.M5, 10)).time[-1]
    times: list[int] = []
    polls = 0
    async for ev in feed.stream():
        if isinstance(ev, BarClose) and ev.timeframe is Timeframe.M5:
            times.append(ev.bar.time)
        elif isinstance(ev, Tick):
            polls += 1
            if polls == 12:
                break
    assert len(times) >= 2 * 11  # 700 s per poll: two or three M5 bars close each time
    assert np.diff([int(last), *times]).tolist() == [300] * len(times)
    await feed.close()


async def test_auto_offset_at_start_comes_from_the_newest_quote_of_any_symbol(
    terminal, caplog
) -> None:
    """At start one market is closed (its last quote is 10 h old, as over a weekend) and
    another trades: the offset comes from the live one, and the closed one sends no ticks."""
    spec, mt5 = terminal
    opts = options(mt5, symbols=("EURUSD", "XAUUSD"))
    mt5._close_market("EURUSD", START - 10 * 3600)
    feed = create_feed(spec, opts)
    await feed.start()
    assert feed.utc_offset_hours == 2.0
    bars = await feed.bars("XAUUSD", Timeframe.H1, 5)
    assert bars.forming is not None and bars.forming.time == Timeframe.H1.bar_open(int(START))
    stream = feed.stream()
    ticks = [ev async for ev in _first(stream, 20) if isinstance(ev, Tick)]
    assert ticks and {t.symbol for t in ticks} <= {"EURUSD", "XAUUSD"}
    assert len([t for t in ticks if t.symbol == "EURUSD"]) <= 1  # its last quote, if at all
    await feed.close()


async def _first(stream: Any, n: int) -> Any:
    for _ in range(n):
        yield await anext(stream)
