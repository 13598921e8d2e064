"""The replay feed: both file formats, timeframe detection, tick expansion and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tradealerts.core.bars import Bar, resample
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds import (
    BarClose,
    FeedConfigError,
    FeedOptions,
    ReplayFileError,
    Tick,
    create_feed,
)
from tradealerts.server.feeds.replay import ReplayFeed, symbol_from_filename, tick_path

DATA = Path(__file__).parent.parent / "data"


def fast(**kw) -> FeedOptions:
    return FeedOptions(replay_speed=0, **kw)


async def feed_of(path: Path, **kw) -> ReplayFeed:
    feed = create_feed(f"replay:{path}", fast(**kw))
    assert isinstance(feed, ReplayFeed)
    await feed.start()
    return feed


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


async def test_plain_csv_sample_with_weekend_gaps() -> None:
    feed = await feed_of(DATA / "eurusd_h1.csv", history_bars=500)
    assert feed.symbols() == ("EURUSD",) and feed.timeframe is Timeframe.H1
    h1 = await feed.bars("EURUSD", Timeframe.H1, 10_000)
    assert len(h1) == 500
    assert h1.time[0] == 1_725_840_000  # 2024-09-09T00:00:00Z
    assert h1.open[0] == 1.07602 and h1.volume[0] == 651
    assert feed.timeframes("EURUSD") == (
        Timeframe.H1, Timeframe.H2, Timeframe.H4, Timeframe.H8, Timeframe.H12, Timeframe.D1
    )  # fmt: skip
    d1 = await feed.bars("EURUSD", Timeframe.D1, 10_000)
    want = resample(h1, Timeframe.H1, Timeframe.D1)
    assert np.array_equal(d1.close, want.close) and d1.forming == want.forming


async def test_mt5_export_format() -> None:
    feed = await feed_of(DATA / "XAUUSD_H4_mt5.csv", history_bars=40)
    assert feed.symbols() == ("XAUUSD",) and feed.timeframe is Timeframe.H4
    bars = await feed.bars("XAUUSD", Timeframe.H4, 100)
    assert len(bars) == 40
    assert bars[0] == Bar(1_732_147_200, 2001.76, 2004.82, 1991.41, 2003.27, 2515.0)


@pytest.mark.parametrize(
    "stamp",
    ["2024-01-01T05:00:00Z", "2024-01-01T07:00:00+02:00", "2024-01-01 05:00:00", "1704085200"],
)
async def test_time_formats_all_mean_utc(tmp_path: Path, stamp: str) -> None:
    text = f"Time,Open,High,Low,Close\n{stamp},1,2,0.5,1.5\n1704088800,1.5,2,1,1.2\n"
    p = write(tmp_path, "gbpusd.csv", text)
    feed = await feed_of(p)
    # one bar of history, one to stream
    assert (await feed.bars("GBPUSD", Timeframe.H1, 5)).time.tolist() == [1_704_085_200]


def test_symbol_from_the_file_name_or_options(tmp_path: Path) -> None:
    assert symbol_from_filename("eurusd_h1.csv") == "EURUSD"
    assert symbol_from_filename("EURUSD60.csv") == "EURUSD"
    assert symbol_from_filename("data/XAUUSD_M5_2024.csv") == "XAUUSD"
    assert symbol_from_filename("prices.csv") is None
    p = write(tmp_path, "prices.csv", "time,open,high,low,close\n0,1,1,1,1\n3600,1,1,1,1\n")
    with pytest.raises(ReplayFileError, match=r"prices\.csv: cannot tell the symbol.*--symbol"):
        create_feed(f"replay:{p}")
    assert create_feed(f"replay:{p}", fast(replay_symbol="usdjpy")).symbols() == ("USDJPY",)


async def test_lower_timeframe_refused() -> None:
    feed = await feed_of(DATA / "eurusd_h1.csv")
    with pytest.raises(FeedConfigError, match=r"eurusd_h1\.csv holds H1 bars; M5 cannot be built"):
        await feed.bars("EURUSD", Timeframe.M5, 10)


def test_tick_path_visits_the_nearer_extreme_first() -> None:
    up = Bar(0, 1.10, 1.13, 1.09, 1.12)  # low is nearer the open
    assert tick_path(up) == [1.10, 1.09, 1.13, 1.12]
    down = Bar(0, 1.10, 1.11, 1.06, 1.07)  # high is nearer
    assert tick_path(down) == [1.10, 1.11, 1.06, 1.07]
    tie = Bar(0, 1.10, 1.12, 1.08, 1.10)
    assert tick_path(tie)[1] == 1.12


async def test_stream_order_and_end_of_file(tmp_path: Path) -> None:
    # H1 bars 00:00 .. 09:00, history = first 2 bars; H4 buckets end at 04:00 and 08:00
    rows = [f"{h * 3600},{1 + h},{1.5 + h},{0.5 + h},{1.2 + h},{h}" for h in range(10)]
    p = write(tmp_path, "eurusd.csv", "time,open,high,low,close,volume\n" + "\n".join(rows))
    feed = await feed_of(p, history_bars=2)
    events = [ev async for ev in feed.stream()]
    ticks = [e for e in events if isinstance(e, Tick)]
    assert len(ticks) == 8 * 4
    assert [t.bid for t in ticks[:4]] == [3.0, 3.5, 2.5, 3.2]  # bar at 02:00: a tie, high first
    assert ticks[1].time == 2 * 3600 + 900 and ticks[0].ask > ticks[0].bid
    closes = [(i, e) for i, e in enumerate(events) if isinstance(e, BarClose)]
    h1 = [e for _, e in closes if e.timeframe is Timeframe.H1]
    assert [c.bar.time // 3600 for c in h1] == list(range(2, 10))
    for i, c in closes:
        later = [e for e in events[i + 1 :] if isinstance(e, Tick)]
        if later:  # closed before the first tick of the next bar
            assert later[0].time >= c.bar.time + c.timeframe.seconds
    h4 = [e.bar for _, e in closes if e.timeframe is Timeframe.H4]
    assert h4 == [Bar(0, 1.0, 4.5, 0.5, 4.2, 6.0), Bar(4 * 3600, 5.0, 8.5, 4.5, 8.2, 22.0)]
    # hours 8-9 are a partial H4 bucket: still forming at the end of the file
    after = await feed.bars("EURUSD", Timeframe.H4, 10)
    assert after.time.tolist() == [0, 4 * 3600] and after.forming is not None
    assert len(await feed.bars("EURUSD", Timeframe.H1, 100)) == 10
    assert feed.status().last_tick["EURUSD"] == ticks[-1].time


BAD = [
    ("", 1, "the file is empty"),
    ("time,open,high,low,close\n", 2, "no bars after the header"),
    ("time,open,high,close\n0,1,1,1\n", 1, "missing column low"),
    ("time,open,high,low,close\n0,1,2,0.5,1\n3600,1,x,0.5,1\n", 3, "high 'x' is not a number"),
    ("time,open,high,low,close\n0,1,2,0.5,1\nyesterday,1,2,0.5,1\n", 3, "time 'yesterday'"),
    ("time,open,high,low,close\n0,1,0.9,0.5,1\n", 2, "do not contain open"),
    ("time,open,high,low,close\n0,1,2,0.5,1\n3600,-1,2,-2,1\n", 3, "prices must be positive"),
    ("time,open,high,low,close\n0,1,2,0.5,nan\n", 2, "close 'nan' is not a finite number"),
    ("time,open,high,low,close\n3600,1,2,0.5,1\n3600,1,2,0.5,1\n", 3,
     "time 1970-01-01T01:00:00 is not after the previous bar's 1970-01-01T01:00:00"),
    ("time,open,high,low,close\n7200,1,2,0.5,1\n3600,1,2,0.5,1\n", 3, "duplicate or unsorted"),
    ("time,open,high,low,close\n0,1,2,0.5,1\n3600,1,2,0.5\n", 3, "expected 5 columns"),
    ("<DATE>\t<OPEN>\t<HIGH>\t<CLOSE>\n2024.01.01\t1\t2\t1\n", 1, "missing column <LOW>"),
    ("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\n2024-01-01\t00:00\t1\t2\t0.5\t1\n", 2,
     "is not YYYY.MM.DD"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "problem"), BAD)
async def test_bad_files_name_the_file_line_and_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    p = write(tmp_path, "eurusd_bad.csv", text)
    with pytest.raises(ReplayFileError) as err:
        await feed_of(p)
    assert err.value.line == line
    assert str(err.value).startswith(f"eurusd_bad.csv, line {line}: ")
    assert problem in str(err.value)


async def test_missing_file_and_odd_spacing(tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError, match=r"nothing_eurusd\.csv: file not found"):
        await feed_of(tmp_path / "nothing_eurusd.csv")
    p = write(tmp_path, "eurusd.csv", "time,open,high,low,close\n0,1,1,1,1\n7000,1,1,1,1\n")
    with pytest.raises(ReplayFileError, match="7000 s apart, which is none of the timeframes"):
        await feed_of(p)
