"""The replay feed: both file formats, timeframe detection, symbol, history, tick expansion,
bar-close order, and a line-numbered error for every kind of bad file."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tradealerts.core.bars import Bar, Bars, aggregate, resample
from tradealerts.core.symbols import TYPICAL_SPREAD
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds import (
    BarClose,
    FeedConfigError,
    FeedEvent,
    FeedOptions,
    ReplayFileError,
    Tick,
    create_feed,
)
from tradealerts.server.feeds.replay import (
    ReplayFeed,
    load_bar_file,
    symbol_from_filename,
    tick_path,
)

DATA = Path(__file__).parent.parent / "data"
MON = 1_704_067_200  # 2024-01-01T00:00:00Z, a Monday
FRI = MON + 4 * 86_400  # 2024-01-05T00:00:00Z
NEXT_MON = MON + 7 * 86_400  # 2024-01-08T00:00:00Z
H = 3600
PLAIN = "time,open,high,low,close,volume\n"
MT5_HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
COLUMNS = ("time", "open", "high", "low", "close", "volume")


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8", newline="")
    return p


def plain_rows(times: list[int], price: float = 1.1) -> str:
    """Valid bars at the given times: open p, high p+0.01, low p-0.01, close p+0.005."""
    return "".join(
        f"{t},{price + i * 0.001:.5f},{price + i * 0.001 + 0.01:.5f},"
        f"{price + i * 0.001 - 0.01:.5f},{price + i * 0.001 + 0.005:.5f},{10 + i}\n"
        for i, t in enumerate(times)
    )


async def started(path: Path, **kw: object) -> ReplayFeed:
    opts: dict[str, object] = {"replay_speed": 0}
    opts.update(kw)
    feed = create_feed(f"replay:{path}", FeedOptions(**opts))  # type: ignore[arg-type]
    assert isinstance(feed, ReplayFeed)
    await feed.start()
    return feed


async def drain(feed: ReplayFeed) -> list[FeedEvent]:
    return [ev async for ev in feed.stream()]


def same_bars(a: Bars, b: Bars) -> None:
    for col in COLUMNS:
        assert np.array_equal(getattr(a, col), getattr(b, col)), col
    assert a.forming == b.forming


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# -- the two formats -------------------------------------------------------------------------


def test_sample_file_plain_csv_with_weekend_gaps() -> None:
    f = load_bar_file(DATA / "eurusd_h1.csv")
    rows = list(csv.DictReader((DATA / "eurusd_h1.csv").open()))
    assert f.name == "eurusd_h1.csv" and f.timeframe is Timeframe.H1
    assert len(f.bars) == len(rows) == 1200
    assert f.bars.time[0] == 1_725_840_000  # 2024-09-09T00:00:00Z
    assert f.bars[0] == Bar(1_725_840_000, 1.07602, 1.07639, 1.07529, 1.07576, 651.0)
    assert f.bars.close.tolist() == [float(r["close"]) for r in rows]
    assert f.bars.volume.tolist() == [float(r["volume"]) for r in rows]
    # weekends are missing, yet the spacing that counts is one hour
    assert int(np.diff(f.bars.time).max()) == 49 * H
    assert f.bars.low.min() > 1.0 and f.bars.high.max() < 1.15  # a believable EURUSD


def test_sample_file_mt5_export() -> None:
    f = load_bar_file(DATA / "XAUUSD_H4_mt5.csv")
    assert f.timeframe is Timeframe.H4 and len(f.bars) == 60
    assert f.bars[0] == Bar(1_732_147_200, 2001.76, 2004.82, 1991.41, 2003.27, 2515.0)
    assert f.bars[1].time == 1_732_147_200 + 4 * H
    assert symbol_from_filename("XAUUSD_H4_mt5.csv") == "XAUUSD"


def test_plain_csv_columns_any_case_any_time_format(tmp_path: Path) -> None:
    text = (
        "Time,OPEN,High,low,Close,Volume\r\n"
        "2024-01-01T00:00:00Z,1.1,1.2,1.0,1.15,7\r\n"  # Z
        "2024-01-01T03:00:00+02:00,1.15,1.25,1.05,1.2,8\r\n"  # an offset: 01:00 UTC
        "2024-01-01 02:00:00,1.2,1.3,1.1,1.25,9\r\n"  # naive: UTC
        f"{MON + 3 * H},1.25,1.35,1.15,1.3,0\r\n"  # epoch seconds
        "\r\n"  # blank lines are skipped
        "2024-01-01T05:00:00.000-00:00,1.3,1.4,1.2,1.35,1\r\n"
    )
    f = load_bar_file(write(tmp_path, "eurusd.csv", text))
    assert f.bars.time.tolist() == [MON, MON + H, MON + 2 * H, MON + 3 * H, MON + 5 * H]
    assert f.bars.open.tolist() == [1.1, 1.15, 1.2, 1.25, 1.3]
    assert f.bars.high.tolist() == [1.2, 1.25, 1.3, 1.35, 1.4]
    assert f.bars.low.tolist() == [1.0, 1.05, 1.1, 1.15, 1.2]
    assert f.bars.close.tolist() == [1.15, 1.2, 1.25, 1.3, 1.35]
    assert f.bars.volume.tolist() == [7, 8, 9, 0, 1]
    assert f.bars.time.dtype == np.int64 and f.bars.close.dtype == np.float64


def test_plain_csv_without_volume_and_with_semicolons(tmp_path: Path) -> None:
    text = f"TIME;open;high;low;close\n{MON};1;2;0.5;1.5\n{MON + H};2;2;1;1\n"
    f = load_bar_file(write(tmp_path, "eurusd.csv", text))
    assert f.bars.volume.tolist() == [0.0, 0.0] and f.bars.high.tolist() == [2.0, 2.0]


def test_mt5_columns_volume_fallback_and_short_clock(tmp_path: Path) -> None:
    text = MT5_HEADER + (
        "2024.01.01\t00:00:00\t1.10\t1.20\t1.00\t1.15\t120\t5000\t12\n"
        "2024.01.01\t00:05\t1.15\t1.25\t1.05\t1.20\t0\t5000\t12\n"  # tick volume 0: <VOL>
        "2024.01.01\t00:10:00\t1.20\t1.30\t1.10\t1.25\t\t\t12\n"  # neither: 0
    )
    f = load_bar_file(write(tmp_path, "EURUSD5.csv", text))
    assert f.timeframe is Timeframe.M5
    assert f.bars.time.tolist() == [MON, MON + 300, MON + 600]
    assert f.bars.open.tolist() == [1.1, 1.15, 1.2]
    assert f.bars.high.tolist() == [1.2, 1.25, 1.3]
    assert f.bars.low.tolist() == [1.0, 1.05, 1.1]
    assert f.bars.close.tolist() == [1.15, 1.2, 1.25]
    assert f.bars.volume.tolist() == [120.0, 5000.0, 0.0]


def test_mt5_d1_export_without_time_column(tmp_path: Path) -> None:
    text = "<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n" + "".join(
        f"2024.01.{d:02d}\t1.1\t1.2\t1.0\t1.1\t{d}\t0\t10\n" for d in (1, 2, 3, 4, 5, 8, 9)
    )
    f = load_bar_file(write(tmp_path, "GBPUSD_Daily.csv", text))
    assert f.timeframe is Timeframe.D1
    days = [0, 1, 2, 3, 4, 7, 8]
    assert f.bars.time.tolist() == [MON + d * 86_400 for d in days]
    assert f.bars.volume.tolist() == [1, 2, 3, 4, 5, 8, 9]


def test_mt5_export_saved_as_utf16(tmp_path: Path) -> None:
    text = MT5_HEADER + "".join(
        f"2024.01.01\t{h:02d}:00:00\t2000.5\t2001\t1999\t2000\t{h}\t0\t25\n" for h in range(3)
    )
    p = tmp_path / "XAUUSD60.csv"
    p.write_text(text, encoding="utf-16")  # with a byte order mark, as MT5 can save it
    f = load_bar_file(p)
    assert f.timeframe is Timeframe.H1 and f.bars.time.tolist() == [MON, MON + H, MON + 2 * H]
    assert f.bars.open.tolist() == [2000.5] * 3


# -- timeframe and symbol --------------------------------------------------------------------


@pytest.mark.parametrize("tf", list(Timeframe))
def test_timeframe_is_the_most_common_spacing_weekend_or_not(tmp_path: Path, tf: Timeframe) -> None:
    # five bars up to Friday's close, a weekend, then five more from Monday
    fri_close = FRI + 86_400
    times = [fri_close - (5 - i) * tf.seconds for i in range(5)]
    times += [NEXT_MON + i * tf.seconds for i in range(5)]
    f = load_bar_file(write(tmp_path, "usdjpy.csv", PLAIN + plain_rows(times)))
    assert f.timeframe is tf


async def test_timeframes_are_the_files_and_those_it_divides(tmp_path: Path) -> None:
    feed = await started(DATA / "eurusd_h1.csv")
    assert feed.timeframes("EURUSD") == (
        Timeframe.H1, Timeframe.H2, Timeframe.H4, Timeframe.H8, Timeframe.H12, Timeframe.D1,
    )  # fmt: skip
    assert feed.timeframes("GBPUSD") == ()
    h8 = write(tmp_path, "eurusd.csv", PLAIN + plain_rows([MON + i * 8 * H for i in range(6)]))
    feed8 = await started(h8)
    assert feed8.timeframes("EURUSD") == (Timeframe.H8, Timeframe.D1)
    with pytest.raises(FeedConfigError, match=r"holds H8 bars; H12 cannot be built from it"):
        await feed8.bars("EURUSD", Timeframe.H12, 10)


def test_symbol_from_the_file_name() -> None:
    assert symbol_from_filename("eurusd_h1.csv") == "EURUSD"
    assert symbol_from_filename("EURUSD60.csv") == "EURUSD"
    assert symbol_from_filename("data/XAUUSD_M5_2024.csv") == "XAUUSD"
    assert symbol_from_filename("/x/usdjpy/prices.csv") is None  # the stem only, not folders
    assert symbol_from_filename("my_gbpjpy_and_eurusd.csv") == "GBPJPY"  # the first one
    assert symbol_from_filename("eurgbp_h1.csv") is None  # not a product symbol


async def test_symbol_from_options_wins_and_neither_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "eurusd_h1.csv", PLAIN + plain_rows([MON, MON + H]))
    feed = await started(p, replay_symbol=" usdjpy ")
    assert feed.symbols() == ("USDJPY",)
    assert len(await feed.bars("USDJPY", Timeframe.H1, 5)) == 1
    with pytest.raises(FeedConfigError, match="holds USDJPY, not EURUSD"):
        await feed.bars("EURUSD", Timeframe.H1, 5)
    assert (await started(p)).symbols() == ("EURUSD",)

    nameless = write(tmp_path, "prices.csv", PLAIN + plain_rows([MON, MON + H]))
    with pytest.raises(ReplayFileError) as err:
        create_feed(f"replay:{nameless}", FeedOptions())
    assert str(err.value).startswith(
        "prices.csv: cannot tell the symbol from the file name: pass it with --symbol"
    )
    with pytest.raises(FeedConfigError, match="unknown replay symbol 'EURGBP'"):
        create_feed(f"replay:{nameless}", FeedOptions(replay_symbol="EURGBP"))


# -- history and resampling ------------------------------------------------------------------


async def test_history_is_the_first_history_bars_of_the_file() -> None:
    whole = load_bar_file(DATA / "eurusd_h1.csv").bars
    feed = await started(DATA / "eurusd_h1.csv", history_bars=500)
    h1 = await feed.bars("EURUSD", Timeframe.H1, 10_000)
    assert len(h1) == 500 and h1.forming is None
    same_bars(h1, _head(whole, 500))
    last = await feed.bars("EURUSD", Timeframe.H1, 3)
    assert last.time.tolist() == whole.time[497:500].tolist()


def _head(bars: Bars, n: int) -> Bars:
    return Bars(*(getattr(bars, c)[:n] for c in COLUMNS))


@pytest.mark.parametrize(("history", "expected"), [(1, 1), (3, 3), (4, 3), (5000, 3)])
async def test_history_always_leaves_a_bar_to_stream(
    tmp_path: Path, history: int, expected: int
) -> None:
    p = write(tmp_path, "eurusd.csv", PLAIN + plain_rows([MON + i * H for i in range(4)]))
    feed = await started(p, history_bars=history)
    assert len(await feed.bars("EURUSD", Timeframe.H1, 100)) == expected
    closes = [e for e in await drain(feed) if isinstance(e, BarClose)]
    assert [c.bar.time for c in closes if c.timeframe is Timeframe.H1] == [
        MON + i * H for i in range(expected, 4)
    ]


async def test_history_bars_below_one_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "eurusd.csv", PLAIN + plain_rows([MON, MON + H]))
    with pytest.raises(FeedConfigError, match="history_bars must be at least 1"):
        await started(p, history_bars=0)


@pytest.mark.parametrize("tf", [Timeframe.H2, Timeframe.H4, Timeframe.H12, Timeframe.D1])
async def test_higher_timeframes_are_core_resample(tf: Timeframe) -> None:
    # 500 bars of history end on a Monday at 19:00, inside every bucket: no gap involved
    feed = await started(DATA / "eurusd_h1.csv", history_bars=500)
    h1 = await feed.bars("EURUSD", Timeframe.H1, 10_000)
    same_bars(await feed.bars("EURUSD", tf, 10_000), resample(h1, Timeframe.H1, tf))
    await drain(feed)
    # the whole file streamed: still the resample of every H1 bar (the file ends on a Friday)
    h1 = await feed.bars("EURUSD", Timeframe.H1, 10_000)
    assert len(h1) == 1200
    got = await feed.bars("EURUSD", tf, 10_000)
    same_bars(got, resample(h1, Timeframe.H1, tf))
    assert len(await feed.bars("EURUSD", tf, 7)) == 7


async def test_lower_timeframe_is_refused_with_the_files_timeframe() -> None:
    feed = await started(DATA / "eurusd_h1.csv")
    with pytest.raises(FeedConfigError) as err:
        await feed.bars("EURUSD", Timeframe.M5, 10)
    assert str(err.value) == "replay file eurusd_h1.csv holds H1 bars; M5 cannot be built from it"
    with pytest.raises(FeedConfigError, match="holds H1 bars; M30 cannot"):
        await feed.bars("EURUSD", "m30", 10)


async def test_a_bucket_cut_short_by_a_weekend_is_closed(tmp_path: Path) -> None:
    # Friday 20:00 and 21:00, then Monday 00:00 and 01:00
    times = [FRI + 20 * H, FRI + 21 * H, NEXT_MON, NEXT_MON + H]
    p = write(tmp_path, "eurusd.csv", PLAIN + plain_rows(times))

    # history ends on Friday: the file goes on next week, so Friday's D1 and H4 are closed
    feed = await started(p, history_bars=2)
    h1 = await feed.bars("EURUSD", Timeframe.H1, 10)
    d1 = await feed.bars("EURUSD", Timeframe.D1, 10)
    assert d1.time.tolist() == [FRI] and d1.forming is None
    assert resample(h1, Timeframe.H1, Timeframe.D1).forming is not None  # bare resample: not
    assert d1[0] == Bar(FRI, h1.open[0], h1.high.max(), h1.low.min(), h1.close[1], 21.0)
    h4 = await feed.bars("EURUSD", Timeframe.H4, 10)
    assert h4.time.tolist() == [FRI + 20 * H] and h4.forming is None

    # history ends mid-Friday: Friday's buckets close when its last bar does, before Monday
    feed = await started(p, history_bars=1)
    events = await drain_checking(feed)
    kinds = [(type(e).__name__, getattr(e, "timeframe", None), _time(e)) for e in events]
    first_monday_tick = next(i for i, e in enumerate(events) if _time(e) >= NEXT_MON)
    assert kinds[:first_monday_tick][-7:] == [
        ("Tick", None, FRI + 21 * H + 2700),
        ("BarClose", Timeframe.H1, FRI + 21 * H),
        ("BarClose", Timeframe.H2, FRI + 20 * H),  # complete anyway
        ("BarClose", Timeframe.H4, FRI + 20 * H),  # these four end early
        ("BarClose", Timeframe.H8, FRI + 16 * H),
        ("BarClose", Timeframe.H12, FRI + 12 * H),
        ("BarClose", Timeframe.D1, FRI),
    ]
    # and the file ends mid-Monday: Monday's D1 stays forming, no BarClose for it
    assert [k for k in kinds if k[1] is Timeframe.D1] == [("BarClose", Timeframe.D1, FRI)]
    d1 = await feed.bars("EURUSD", Timeframe.D1, 10)
    assert d1.time.tolist() == [FRI] and d1.forming is not None
    assert d1.forming.time == NEXT_MON


def _time(e: FeedEvent) -> float:
    return e.time if isinstance(e, Tick) else e.bar.time


async def drain_checking(feed: ReplayFeed) -> list[FeedEvent]:
    """Drain the stream; at every tick, bars() of the file's and the higher timeframes
    must hold the bar that tick belongs to as forming, and no bar after it."""
    out: list[FeedEvent] = []
    async for ev in feed.stream():
        out.append(ev)
        if isinstance(ev, Tick):
            for tf in (Timeframe.H1, Timeframe.H4, Timeframe.D1):
                bars = await feed.bars("EURUSD", tf, 100)
                assert bars.forming is not None and bars.forming.time == tf.bar_open(int(ev.time))
                assert bars.forming.close == ev.bid
                assert len(bars) == 0 or bars.time[-1] < bars.forming.time
    return out


# -- streaming -------------------------------------------------------------------------------


def test_tick_path_up_bar_down_bar_and_tie() -> None:
    up = Bar(0, 1.1000, 1.1030, 1.0990, 1.1020)  # the low is nearer the open
    assert tick_path(up) == [1.1000, 1.0990, 1.1030, 1.1020]
    down = Bar(0, 1.1000, 1.1005, 1.0960, 1.0970)  # the high is nearer
    assert tick_path(down) == [1.1000, 1.1005, 1.0960, 1.0970]
    tie = Bar(0, 1.0, 1.5, 0.5, 1.25)  # exact in binary: a true tie
    assert tick_path(tie) == [1.0, 1.5, 0.5, 1.25]


async def test_stream_ticks_of_an_up_bar_and_a_down_bar(tmp_path: Path) -> None:
    text = PLAIN + (
        f"{MON},1.1,1.11,1.09,1.1,1\n"
        f"{MON + H},1.1000,1.1030,1.0990,1.1020,5\n"  # up: low first
        f"{MON + 2 * H},1.1020,1.1025,1.0980,1.0990,6\n"  # down: high first
    )
    feed = await started(write(tmp_path, "eurusd.csv", text), history_bars=1)
    ticks = [(e.time, e.bid, e.ask) for e in await drain(feed) if isinstance(e, Tick)]
    s = TYPICAL_SPREAD["EURUSD"]
    want = [
        (MON + H, 1.1000), (MON + H + 900, 1.0990), (MON + H + 1800, 1.1030),
        (MON + H + 2700, 1.1020),
        (MON + 2 * H, 1.1020), (MON + 2 * H + 900, 1.1025), (MON + 2 * H + 1800, 1.0980),
        (MON + 2 * H + 2700, 1.0990),
    ]  # fmt: skip
    assert ticks == [(t, p, p + s) for t, p in want]
    assert s > 0


async def test_bar_closes_come_in_order_before_the_next_bars_first_tick(tmp_path: Path) -> None:
    # H1 bars 00:00 .. 09:00 on a Monday; history 00:00 and 01:00
    times = [MON + h * H for h in range(10)]
    p = write(tmp_path, "eurusd.csv", PLAIN + plain_rows(times))
    whole = load_bar_file(p).bars
    feed = await started(p, history_bars=2)
    events = await drain(feed)

    def label(e: FeedEvent) -> str:
        hour = int((_time(e) - MON) // H)
        return f"T{hour}" if isinstance(e, Tick) else f"{e.timeframe}@{hour}"

    want: list[str] = []
    closes_after = {
        3: ["H2@2", "H4@0"], 5: ["H2@4"], 7: ["H2@6", "H4@4", "H8@0"], 9: ["H2@8"],
    }  # fmt: skip
    for h in range(2, 10):
        want += [f"T{h}"] * 4 + [f"H1@{h}"] + closes_after.get(h, [])
    assert [label(e) for e in events] == want

    closes = {(e.timeframe, e.bar.time): e.bar for e in events if isinstance(e, BarClose)}
    for (tf, t), bar in closes.items():
        inside = (whole.time >= t) & (whole.time < t + tf.seconds)
        cols = aggregate(*(getattr(whole, c)[inside] for c in COLUMNS), tf)
        assert bar == Bar(*(x[0].item() for x in cols)), (tf, t)
    assert closes[(Timeframe.H1, MON + 2 * H)] == whole[2]
    # the buckets the file leaves partial (H4 08:00, H8 08:00, H12, D1) stay forming
    for tf in (Timeframe.H4, Timeframe.H8, Timeframe.H12, Timeframe.D1):
        bars = await feed.bars("EURUSD", tf, 10)
        assert bars.forming is not None and bars.forming.close == whole.close[-1], tf


async def test_the_stream_ends_with_the_file_and_bars_grow_as_it_goes(tmp_path: Path) -> None:
    times = [MON + h * H for h in range(6)]
    p = write(tmp_path, "eurusd.csv", PLAIN + plain_rows(times))
    whole = load_bar_file(p).bars
    feed = await started(p, history_bars=3)
    assert feed.status().connected and feed.status().last_tick == {}
    seen = 3
    prices: list[float] = []  # the bids of the bar being streamed
    events: list[FeedEvent] = []
    async for ev in feed.stream():
        events.append(ev)
        h1 = await feed.bars("EURUSD", Timeframe.H1, 100)
        if isinstance(ev, BarClose) and ev.timeframe is Timeframe.H1:
            seen += 1
            prices = []
            assert ev.bar == whole[seen - 1]
            assert len(h1) == seen and h1.last() == ev.bar and h1.forming is None
        elif isinstance(ev, Tick):
            prices.append(ev.bid)
            f = h1.forming
            assert len(h1) == seen and f is not None
            assert (f.time, f.open, f.high, f.low, f.close) == (
                whole.time[seen], whole.open[seen], max(prices), min(prices), ev.bid,
            )  # fmt: skip
            assert f.volume == whole.volume[seen] * len(prices) / 4  # the file's, by ticks seen
            assert feed.status().last_tick == {"EURUSD": ev.time}
    # the file's last bar is closed, and with it the H2 bucket it completes; H4 up stay forming
    assert seen == 6
    last_two = Bar(
        MON + 4 * H, whole.open[4], whole.high[4:].max(), whole.low[4:].min(), whole.close[5],
        whole.volume[4:].sum(),
    )  # fmt: skip
    assert events[-2:] == [
        BarClose("EURUSD", Timeframe.H1, whole[5]),
        BarClose("EURUSD", Timeframe.H2, last_two),
    ]
    assert (await feed.bars("EURUSD", Timeframe.H4, 10)).forming == last_two
    same_bars(await feed.bars("EURUSD", Timeframe.H1, 100), whole)
    assert await drain(feed) == []  # nothing left: the file is over
    last_tick = [e for e in events if isinstance(e, Tick)][-1]
    assert feed.status().last_tick["EURUSD"] == last_tick.time == MON + 5 * H + 2700


async def test_replay_speed_paces_ticks_with_the_given_sleep(tmp_path: Path) -> None:
    p = write(tmp_path, "eurusd.csv", PLAIN + plain_rows([MON + h * H for h in range(4)]))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    feed = await started(p, history_bars=1, replay_speed=2.0, sleep=sleep)
    events = await drain(feed)
    ticks = [i for i, e in enumerate(events) if isinstance(e, Tick)]
    assert len(ticks) == 12 and slept == [0.125] * 12  # 2 bars a second, 4 ticks a bar

    slept.clear()
    feed = await started(p, history_bars=1, replay_speed=0, sleep=sleep)
    assert sum(isinstance(e, Tick) for e in await drain(feed)) == 12 and slept == []  # 0: never


async def test_close_ends_the_stream(tmp_path: Path) -> None:
    p = write(tmp_path, "eurusd.csv", PLAIN + plain_rows([MON + h * H for h in range(10)]))
    feed = await started(p, history_bars=1)
    got: list[FeedEvent] = []
    async for ev in feed.stream():
        got.append(ev)
        if len(got) == 2:  # mid-bar: the rest of its ticks are not sent
            await feed.close()
    assert len(got) == 2 and not feed.status().connected
    await feed.close()  # twice is fine


async def test_unstarted_feed_says_so(tmp_path: Path) -> None:
    feed = create_feed(f"replay:{tmp_path / 'eurusd.csv'}", FeedOptions())
    assert not feed.status().connected
    with pytest.raises(FeedConfigError, match=r"start\(\) the replay feed first"):
        await feed.bars("EURUSD", Timeframe.H1, 1)


async def test_a_large_file_loads_whole(tmp_path: Path) -> None:
    # how fast is a figure for a benchmark (~0.2 s for these 100,000 rows on this machine,
    # quiet); here, every row arrives in order
    rows = [f"{MON + i * 300},1.08,1.081,1.079,1.0805,{i % 50}\n" for i in range(100_000)]
    p = write(tmp_path, "eurusd_m5.csv", PLAIN + "".join(rows))
    f = load_bar_file(p)
    assert len(f.bars) == 100_000 and f.timeframe is Timeframe.M5
    assert int(f.bars.time[0]) == MON and int(f.bars.time[-1]) == MON + 99_999 * 300
    assert int(f.bars.volume[-1]) == 99_999 % 50


# -- bad files -------------------------------------------------------------------------------

HDR = "time,open,high,low,close\n"
OK1 = f"{MON},1.1,1.2,1.0,1.1\n"  # a good bar at 00:00 (line 2 after HDR)
BAD: list[tuple[str, str, int, str]] = [
    ("empty", "", 1,
     "the file is empty: expected a header time,open,high,low,close[,volume] or an MT5 export"),
    ("blank", "  \n\n", 1,
     "the file is empty: expected a header time,open,high,low,close[,volume] or an MT5 export"),
    ("header line blank", "\ntime,open,high,low,close\n" + OK1, 1,
     "expected a header time,open,high,low,close[,volume], found an empty line"),
    ("header only", HDR, 1, "the file holds only a header: no bars follow it"),
    ("header and blank lines", HDR + "\n\n", 1, "the file holds only a header: no bars follow it"),
    ("missing column", "time,open,high,close\n" + f"{MON},1,1,1\n", 1,
     "missing column low: the header must be time,open,high,low,close[,volume] "
     "(or an MT5 export's <DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>)"),
    ("missing MT5 column", "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<CLOSE>\n2024.01.01\t00:00\t1\t2\t1\n",
     1, "missing column <LOW>: an MT5 export's header is "
     "<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>"),
    ("short row", HDR + OK1 + f"{MON + H},1.1,1.2,1.0\n", 3,
     "expected 5 columns (time,open,high,low,close), found 4"),
    ("not a number", HDR + OK1 + f"{MON + H},1.1,x,1.0,1.1\n", 3, "high 'x' is not a number"),
    ("empty number", HDR + OK1 + f"{MON + H},1.1,1.2,,1.1\n", 3, "low '' is not a number"),
    ("bad volume", "time,open,high,low,close,volume\n" + f"{MON},1.1,1.2,1.0,1.1,many\n", 2,
     "volume 'many' is not a number"),
    ("bad time", HDR + OK1 + "yesterday,1.1,1.2,1.0,1.1\n", 3,
     "time 'yesterday' is neither ISO 8601 (2024-01-02T13:00:00Z) nor epoch seconds"),
    ("bad ISO time", HDR + OK1 + "2024-01-01T25:00:00,1.1,1.2,1.0,1.1\n", 3,
     "time '2024-01-01T25:00:00' is neither ISO 8601 (2024-01-02T13:00:00Z) nor epoch seconds"),
    ("fractional epoch", HDR + OK1 + f"{MON + H}.5,1.1,1.2,1.0,1.1\n", 3,
     f"time '{MON + H}.5' is not a whole, non-negative number of epoch seconds"),
    ("epoch milliseconds", HDR + f"{MON * 1000},1.1,1.2,1.0,1.1\n", 2,
     f"time {MON * 1000} is too large for epoch seconds (milliseconds?)"),
    ("bad MT5 date", MT5_HEADER + "2024-01-01\t00:00:00\t1\t2\t0.5\t1\t1\t0\t1\n", 2,
     "date '2024-01-01' is not a date like 2024.01.02 (YYYY.MM.DD)"),
    ("bad MT5 time", MT5_HEADER + "2024.01.01\t24:00:00\t1\t2\t0.5\t1\t1\t0\t1\n", 2,
     "time '24:00:00' is not a time like 13:00:00 (HH:MM[:SS])"),
    ("high below low", HDR + OK1 + f"{MON + H},1.1,1.0,1.2,1.1\n", 3, "high 1.0 is below low 1.2"),
    ("high below open", HDR + OK1 + f"{MON + H},1.3,1.2,1.0,1.1\n", 3,
     "high 1.2 is below the open 1.3"),
    ("high below close", HDR + OK1 + f"{MON + H},1.1,1.2,1.0,1.25\n", 3,
     "high 1.2 is below the close 1.25"),
    ("low above open", HDR + OK1 + f"{MON + H},1.05,1.2,1.1,1.15\n", 3,
     "low 1.1 is above the open 1.05"),
    ("low above close", HDR + OK1 + f"{MON + H},1.15,1.2,1.1,1.05\n", 3,
     "low 1.1 is above the close 1.05"),
    ("negative price", HDR + OK1 + f"{MON + H},-1.1,1.2,-1.3,1.1\n", 3,
     "open -1.1 is not a positive price"),
    ("zero price", HDR + OK1 + f"{MON + H},1.1,1.2,0,1.1\n", 3, "low 0.0 is not a positive price"),
    ("NaN price", HDR + OK1 + f"{MON + H},1.1,1.2,1.0,nan\n", 3,
     "close nan is not a finite number"),
    ("infinite price", HDR + OK1 + f"{MON + H},1.1,inf,1.0,1.1\n", 3,
     "high inf is not a finite number"),
    ("negative volume", "time,open,high,low,close,volume\n" + f"{MON},1.1,1.2,1.0,1.1,-3\n", 2,
     "volume -3.0 is negative"),
    # the example of the issue: M15 bars from 01:30, the fifteenth (line 16) at 05:00, repeated
    ("duplicate", HDR + "".join(f"{MON + 5400 + i * 900},1.1,1.2,1.0,1.1\n" for i in range(15))
     + f"{MON + 5 * H},1.1,1.2,1.0,1.1\n", 17,
     "time 2024-01-01T05:00:00 is not after the previous bar's 2024-01-01T05:00:00 "
     "(duplicate or unsorted)"),
    ("unsorted", HDR + OK1 + f"{MON + 2 * H},1.1,1.2,1.0,1.1\n" + f"{MON + H},1.1,1.2,1.0,1.1\n",
     4, "time 2024-01-01T01:00:00 is not after the previous bar's 2024-01-01T02:00:00 "
     "(duplicate or unsorted)"),
    ("line numbers count blank lines", HDR + OK1 + "\n\n" + f"{MON + H},1.1,1.0,1.2,1.1\n", 5,
     "high 1.0 is below low 1.2"),
    ("the earliest bad line wins", HDR + OK1 + f"{MON + H},1.1,1.0,1.2,1.1\n"
     + f"{MON + 2 * H},1.1,x,1.0,1.1\n", 3, "high 1.0 is below low 1.2"),
    ("the earliest line wins over the order of checks",
     HDR + OK1 + OK1 + f"{MON + H},1.1,1.0,1.2,1.1\n", 3,
     "time 2024-01-01T00:00:00 is not after the previous bar's 2024-01-01T00:00:00 "
     "(duplicate or unsorted)"),
    ("a single bar", HDR + OK1, 2, "the file holds a single bar: a replay needs at least two "
     "(to tell the timeframe, and one to stream)"),
    ("spacing that is no timeframe", HDR + OK1 + f"{MON + 7000},1.1,1.2,1.0,1.1\n", 3,
     "bars are most often 1 h 56 min 40 s apart (as here, after the previous bar), which is "
     "none of the timeframes M5, M15, M30, H1, H2, H4, H8, H12, D1"),
    ("a stray bar among H4 bars", HDR + "".join(
        f"{MON + h * H},1.1,1.2,1.0,1.1\n" for h in (0, 4, 8, 12, 13, 16, 20)), 6,
     "time 2024-01-01T13:00:00 is off the H4 grid: H4 bars open every 4 h from 00:00 UTC "
     "(times in a broker's clock: set TRADEALERTS_REPLAY_TZ and TRADEALERTS_BAR_CLOCK, e.g. "
     "America/New_York@17:00)"),
    ("off the grid", HDR + "".join(f"{MON + 1800 + i * H},1.1,1.2,1.0,1.1\n" for i in range(3)),
     2, "time 2024-01-01T00:30:00 is off the H1 grid: H1 bars open every 1 h from 00:00 UTC "
     "(times in a broker's clock: set TRADEALERTS_REPLAY_TZ and TRADEALERTS_BAR_CLOCK, e.g. "
     "America/New_York@17:00)"),
    ("a day in broker time", HDR + "".join(
        f"2024-01-0{d}T00:00:00+02:00,1.1,1.2,1.0,1.1\n" for d in (1, 2, 3)), 2,
     "time 2023-12-31T22:00:00 is off the D1 grid: D1 bars open every 1 day from 00:00 UTC "
     "(times in a broker's clock: set TRADEALERTS_REPLAY_TZ and TRADEALERTS_BAR_CLOCK, e.g. "
     "America/New_York@17:00)"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "problem"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_files_name_the_file_the_line_and_the_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    p = write(tmp_path, "eurusd_bad.csv", text)
    with pytest.raises(ReplayFileError) as err:
        await started(p)
    assert (err.value.path, err.value.line, err.value.problem) == ("eurusd_bad.csv", line, problem)
    assert str(err.value) == f"eurusd_bad.csv, line {line}: {problem}"


async def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError) as err:
        await started(tmp_path / "nothing_eurusd.csv")
    assert str(err.value) == f"nothing_eurusd.csv: no such file ({tmp_path / 'nothing_eurusd.csv'})"
    assert err.value.line is None
    folder = tmp_path / "eurusd.csv"
    folder.mkdir()
    with pytest.raises(ReplayFileError, match=r"^eurusd\.csv: is a folder, not a file"):
        await started(folder)


async def test_bad_bytes_are_a_bad_value_on_their_line(tmp_path: Path) -> None:
    p = tmp_path / "eurusd.csv"
    p.write_bytes((HDR + OK1).encode() + f"{MON + H},1.1,1.2\xff,1.0,1.1\n".encode("latin-1"))
    with pytest.raises(ReplayFileError) as err:
        await started(p)
    assert str(err.value) == "eurusd.csv, line 3: high '1.2ÿ' is not a number"
