"""``replay:PATH``: bars of one symbol from a CSV file, the first part as history, the rest
streamed as ticks.

Two formats are read, told apart by the header:

* plain CSV, ``time,open,high,low,close[,volume]`` (names in any case); ``time`` is ISO 8601
  (an offset is honoured, naive times are in the replay clock, UTC by default) or epoch
  seconds (UTC);
* MetaTrader 5's own export, tab-separated ``<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE>
  <TICKVOL> <VOL> <SPREAD>`` with dates like ``2024.01.02`` (D1 exports may leave out
  ``<TIME>``). Volume is ``<TICKVOL>``, or ``<VOL>`` where the tick volume is 0 or missing.

An MT5 export's times are the broker's (server) time: with ``TRADEALERTS_REPLAY_TZ`` set to
the broker's clock (``America/New_York@17:00``, ``UTC+2``, or ``bar_clock``) they are
converted to UTC once, on reading, as the terminal stamps them: a time in an hour a
daylight-saving switch repeats is its first occurrence, one in a skipped hour the switch.
Higher timeframes are built on the bar clock (``bar_span``), the file's own bars must open on
its grid.

Each streamed bar becomes four ticks, open → nearer extreme → farther extreme → close, spread
over the bar's time, so a level inside the bar's range is crossed the way it would be live.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import math
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tradealerts.core.bars import Bar, Bars, resample
from tradealerts.core.symbols import TYPICAL_SPREAD
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import (
    UTC_CLOCK,
    BarClock,
    Timeframe,
    TimeframeError,
    bar_span,
    grid_text,
    parse_timeframe,
)
from tradealerts.server.feeds.base import (
    BarClose,
    Feed,
    FeedConfigError,
    FeedEvent,
    FeedOptions,
    FeedStatus,
    ReplayFileError,
    Tick,
    market_open,
)

__all__ = [
    "TICKS_PER_BAR",
    "ReplayFeed",
    "ReplayFile",
    "load_bar_file",
    "symbol_from_filename",
    "tick_path",
]

#: Ticks each streamed bar is expanded into (see ``tick_path``).
TICKS_PER_BAR = 4

_TF_BY_SECONDS = {tf.seconds: tf for tf in Timeframe}
_TF_NAMES = ", ".join(tf.value for tf in Timeframe)
_PLAIN_HEADER = "time,open,high,low,close[,volume]"
_MT5_HEADER = "<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>"
_PLAIN_VOLUME = ("volume", "tick_volume", "tickvol", "vol")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# 9999-12-31T23:59:59Z: the last second a datetime can show; larger numbers are not seconds
_MAX_EPOCH = 253_402_300_799

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


# -- reading the file ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayFile:
    """A checked bar file: its name, every bar in it (all closed) and its timeframe."""

    name: str
    bars: Bars
    timeframe: Timeframe


class _Bad(ValueError):
    """One bad value in a row; the reader adds the file name and the line."""


def load_bar_file(
    path: str | os.PathLike[str],
    tz: BarClock | None = None,
    clock: BarClock = UTC_CLOCK,
) -> ReplayFile:
    """Read, check and time-frame a bar file (either format).

    ``tz``: the clock of the file's naive times (None: UTC); ``clock``: the bar clock its
    bars must open on. Any problem raises ReplayFileError naming the file, the 1-based line
    (the header is line 1) and what is wrong; when a file has several, the first line with
    one is named.
    """
    p = Path(path)
    bars, lines = _parse(p.name, _read_text(p), tz)
    return ReplayFile(p.name, bars, _detect_timeframe(p.name, bars.time, lines, clock))


def local_to_utc(local: IntArray, tz: BarClock) -> IntArray:
    """Naive times of the clock ``tz`` (epoch seconds as if UTC) to UTC, as a terminal stamps
    them (``BarClock.to_utc``): one shift per hour, read once, except in an hour a switch
    cuts, where each time is converted on its own."""
    if tz.is_fixed:
        return local - tz.offset
    out = np.empty_like(local)
    shifts: dict[int, int | None] = {}
    for i, t in enumerate(local.tolist()):
        hour = t - t % 3600
        shift = shifts.get(hour, -1)
        if shift == -1:
            a, b = hour - tz.to_utc(hour), hour + 3599 - tz.to_utc(hour + 3599)
            shift = shifts[hour] = a if a == b else None
        out[i] = tz.to_utc(t) if shift is None else t - shift
    return out


def _read_text(p: Path) -> str:
    name = p.name
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ReplayFileError(name, None, f"no such file ({p.absolute()})") from None
    except IsADirectoryError:
        raise ReplayFileError(name, None, f"is a folder, not a file ({p.absolute()})") from None
    except PermissionError:
        raise ReplayFileError(name, None, "cannot be read: permission denied") from None
    except OSError as exc:
        raise ReplayFileError(name, None, f"cannot be read: {exc.strerror or exc}") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # MT5 can save its exports as UTF-16 with a byte order mark
    elif len(raw) >= 2 and raw[0] != 0 and raw[1] == 0:
        encoding = "utf-16-le"  # the same without the mark: every ASCII char is followed by NUL
    elif len(raw) >= 2 and raw[0] == 0 and raw[1] != 0:
        encoding = "utf-16-be"
    else:
        encoding = "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        # Numbers and dates are ASCII: decoded as Latin-1 (which never fails), a stray byte
        # shows up as a bad value on its own line rather than as an error about the whole file.
        return raw.decode("latin-1")


@dataclass(frozen=True)
class _Layout:
    """Where each field sits in a row, and how to read the time."""

    mt5: bool
    time: int  # plain: the time column; MT5: <TIME> or -1 (D1 exports may leave it out)
    date: int  # MT5 only: <DATE>
    open: int
    high: int
    low: int
    close: int
    volume: int  # plain: volume, MT5: <TICKVOL>; -1 when absent
    volume2: int  # MT5: <VOL>, used where <TICKVOL> is 0 or missing; -1 when absent
    width: int  # cells a row needs
    names: str  # the needed columns, for "expected ... columns"


def _layout(name: str, header: list[str]) -> _Layout:
    cells = [h.strip() for h in header]
    if cells and cells[0].startswith("<"):
        idx = {c.upper(): i for i, c in enumerate(cells)}
        need = ["<DATE>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>"]
        missing = [c for c in need if c not in idx]
        if missing:
            raise ReplayFileError(
                name,
                1,
                f"missing column {', '.join(missing)}: an MT5 export's header is {_MT5_HEADER}",
            )
        opt = {c: idx.get(c, -1) for c in ("<TIME>", "<TICKVOL>", "<VOL>")}
        used = [idx[c] for c in need] + [i for i in opt.values() if i >= 0]
        return _Layout(
            mt5=True,
            time=opt["<TIME>"],
            date=idx["<DATE>"],
            open=idx["<OPEN>"],
            high=idx["<HIGH>"],
            low=idx["<LOW>"],
            close=idx["<CLOSE>"],
            volume=opt["<TICKVOL>"],
            volume2=opt["<VOL>"],
            width=max(used) + 1,
            names=" ".join(cells[i] for i in sorted(used)),
        )
    idx = {c.lower(): i for i, c in enumerate(cells)}
    need = ["time", "open", "high", "low", "close"]
    missing = [c for c in need if c not in idx]
    if missing:
        raise ReplayFileError(
            name,
            1,
            f"missing column {', '.join(missing)}: the header must be {_PLAIN_HEADER} "
            f"(or an MT5 export's {_MT5_HEADER})",
        )
    vol = next((idx[v] for v in _PLAIN_VOLUME if v in idx), -1)
    used = [idx[c] for c in need] + ([vol] if vol >= 0 else [])
    return _Layout(
        mt5=False,
        time=idx["time"],
        date=-1,
        open=idx["open"],
        high=idx["high"],
        low=idx["low"],
        close=idx["close"],
        volume=vol,
        volume2=-1,
        width=max(used) + 1,
        names=",".join(need + (["volume"] if vol >= 0 else [])),
    )


def _parse(name: str, text: str, tz: BarClock | None = None) -> tuple[Bars, IntArray]:
    """The bars of a file and the line each came from, every row checked; naive times are
    read on ``tz`` (None: UTC)."""
    first = text.split("\n", 1)[0].rstrip("\r")
    if not text.strip():
        raise ReplayFileError(
            name, 1, f"the file is empty: expected a header {_PLAIN_HEADER} or an MT5 export"
        )
    if not first.strip():
        raise ReplayFileError(name, 1, f"expected a header {_PLAIN_HEADER}, found an empty line")
    if "\t" in first:
        delimiter = "\t"
    elif first.count(";") > first.count(","):
        delimiter = ";"
    else:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lay = _layout(name, next(reader))
    naive: list[bool] = []  # rows whose time had no offset (every row of an MT5 export)
    to_time = _row_time(lay, naive)
    times: list[int] = []
    values: list[float] = []  # o, h, l, c, v of each row, flat: one list grows fastest
    lines: list[int] = []
    # a row that cannot be read ends the loop; rows before it may still hold an earlier problem
    stop: tuple[int, str] | None = None
    key = lay.date if lay.mt5 else lay.time
    o_i, h_i, l_i, c_i, v_i, v2_i = lay.open, lay.high, lay.low, lay.close, lay.volume, lay.volume2
    try:
        for row in reader:
            if len(row) < lay.width or not row[key].strip():
                if not any(c.strip() for c in row):
                    continue  # blank lines (often trailing) carry nothing
                if len(row) < lay.width:
                    stop = (
                        reader.line_num,
                        f"expected {lay.width} columns ({lay.names}), found {len(row)}",
                    )
                    break
            try:
                t = to_time(row)
                o = _number("open", row[o_i])
                h = _number("high", row[h_i])
                lo = _number("low", row[l_i])
                c = _number("close", row[c_i])
                v = _volume("<TICKVOL>" if lay.mt5 else "volume", row[v_i]) if v_i >= 0 else 0.0
                if v == 0.0 and v2_i >= 0:
                    v = _volume("<VOL>", row[v2_i])
            except _Bad as exc:
                stop = (reader.line_num, str(exc))
                break
            times.append(t)
            values.extend((o, h, lo, c, v))
            lines.append(reader.line_num)
    except csv.Error as exc:
        stop = (reader.line_num, f"this line cannot be read as CSV: {exc}")
    t_arr = np.array(times, dtype=np.int64)
    if tz is not None and not tz.is_utc and t_arr.shape[0]:
        mask = np.array(naive[: t_arr.shape[0]], dtype=bool)
        t_arr[mask] = local_to_utc(t_arr[mask], tz)
    cols = np.array(values, dtype=np.float64).reshape(-1, 5).T
    line_arr = np.array(lines, dtype=np.int64)
    bad = _first_bad(t_arr, cols)
    if bad is not None:
        raise ReplayFileError(name, int(line_arr[bad[0]]), bad[1])
    if stop is not None:
        raise ReplayFileError(name, stop[0], stop[1])
    if not times:
        raise ReplayFileError(name, 1, "the file holds only a header: no bars follow it")
    return Bars(t_arr, cols[0], cols[1], cols[2], cols[3], cols[4]), line_arr


def _number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _Bad(f"{field} {text.strip()!r} is not a number") from None


def _volume(field: str, text: str) -> float:
    # an empty volume cell means "not recorded", which is what 0 means here too
    return _number(field, text) if text.strip() else 0.0


def _row_time(lay: _Layout, naive: list[bool]) -> Callable[[list[str]], int]:
    """Each row's time; appends to ``naive`` whether it had no offset (ISO without one)."""
    if not lay.mt5:
        i = lay.time

        def plain_time(row: list[str]) -> int:
            t, is_naive = _parse_time(row[i])
            naive.append(is_naive)
            return t

        return plain_time
    days: dict[str, int] = {}  # a file has few distinct dates: parse each once
    d_i, t_i = lay.date, lay.time

    def mt5_time(row: list[str]) -> int:
        text = row[d_i]
        day = days.get(text)
        if day is None:
            day = days[text] = _mt5_day(text)
        t = day + (_mt5_clock(row[t_i]) if t_i >= 0 else 0)
        naive.append(True)
        return t

    return mt5_time


def _parse_time(text: str) -> tuple[int, bool]:
    """(epoch seconds, naive) from epoch seconds or ISO 8601 (naive: read as UTC here, the
    caller converts it from the replay clock)."""
    s = text.strip()
    if s.isdigit():
        t = int(s)
    else:
        try:
            num = float(s)
        except ValueError:
            num = None
        if num is not None:
            if not math.isfinite(num) or num < 0 or num != int(num):
                raise _Bad(f"time {s!r} is not a whole, non-negative number of epoch seconds")
            t = int(num)
        else:
            try:
                dt = datetime.fromisoformat(s)
            except ValueError:
                raise _Bad(
                    f"time {s!r} is neither ISO 8601 (2024-01-02T13:00:00Z) nor epoch seconds"
                ) from None
            is_naive = dt.tzinfo is None
            if is_naive:
                dt = dt.replace(tzinfo=UTC)
            if dt.microsecond:
                raise _Bad(f"time {s!r} is not on a whole second")
            return int(dt.timestamp()), is_naive
    if t > _MAX_EPOCH:
        raise _Bad(f"time {s} is too large for epoch seconds (milliseconds?)")
    return t, False


def _mt5_day(text: str) -> int:
    s = text.strip()
    try:
        y, m, d = (int(part) for part in s.split("."))
        return (date(y, m, d).toordinal() - _EPOCH_ORDINAL) * 86_400
    except ValueError:
        raise _Bad(f"date {s!r} is not a date like 2024.01.02 (YYYY.MM.DD)") from None


def _mt5_clock(text: str) -> int:
    s = text.strip()
    try:
        parts = [int(p) for p in s.split(":")]
    except ValueError:
        parts = []
    if len(parts) == 2:
        parts.append(0)
    if len(parts) != 3 or not (0 <= parts[0] < 24 and 0 <= parts[1] < 60 and 0 <= parts[2] < 60):
        raise _Bad(f"time {s!r} is not a time like 13:00:00 (HH:MM[:SS])")
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def _first_bad(t: IntArray, cols: FloatArray) -> tuple[int, str] | None:
    """The first row (index) with a bad value and what is wrong with it, or None.

    Checked column-wise with numpy, then the earliest row wins; within a row, the checks
    go in the order listed below.
    """
    if t.shape[0] == 0:
        return None
    o, h, lo, c, v = cols
    names = ("open", "high", "low", "close", "volume")

    def says(name: str, col: FloatArray, what: str) -> Callable[[int], str]:
        return lambda i: f"{name} {_num(col[i])} {what}"

    checks: list[tuple[NDArray[np.bool_], Callable[[int], str]]] = [
        (~np.isfinite(col), says(name, col, "is not a finite number"))
        for name, col in zip(names, cols, strict=True)
    ]
    checks += [
        (col <= 0, says(name, col, "is not a positive price"))
        for name, col in zip(names[:4], cols[:4], strict=True)
    ]
    checks += [
        (h < lo, lambda i: f"high {_num(h[i])} is below low {_num(lo[i])}"),
        (h < o, lambda i: f"high {_num(h[i])} is below the open {_num(o[i])}"),
        (h < c, lambda i: f"high {_num(h[i])} is below the close {_num(c[i])}"),
        (lo > o, lambda i: f"low {_num(lo[i])} is above the open {_num(o[i])}"),
        (lo > c, lambda i: f"low {_num(lo[i])} is above the close {_num(c[i])}"),
        (v < 0, lambda i: f"volume {_num(v[i])} is negative"),
        (
            np.concatenate(([False], t[1:] <= t[:-1])),
            lambda i: (
                f"time {_fmt(int(t[i]))} is not after the previous bar's "
                f"{_fmt(int(t[i - 1]))} (duplicate or unsorted)"
            ),
        ),
    ]
    best: tuple[int, Callable[[int], str]] | None = None
    for mask, message in checks:
        hit = np.flatnonzero(mask)
        if hit.size and (best is None or int(hit[0]) < best[0]):
            best = (int(hit[0]), message)
    return None if best is None else (best[0], best[1](best[0]))


def _detect_timeframe(
    name: str, t: IntArray, lines: IntArray, clock: BarClock = UTC_CLOCK
) -> Timeframe:
    """The file's timeframe: the most common spacing of its bars, which must be one of ours,
    and every bar must open on that timeframe's grid of the bar clock (resampling and live
    bars rely on it).
    """
    if t.shape[0] < 2:
        raise ReplayFileError(
            name,
            int(lines[0]),
            "the file holds a single bar: a replay needs at least two "
            "(to tell the timeframe, and one to stream)",
        )
    gaps = np.diff(t)
    values, counts = np.unique(gaps, return_counts=True)
    spacing = int(values[int(np.argmax(counts))])  # ties: the smallest spacing
    tf = _TF_BY_SECONDS.get(spacing)
    if tf is None:
        k = int(np.flatnonzero(gaps == spacing)[0]) + 1
        raise ReplayFileError(
            name,
            int(lines[k]),
            f"bars are most often {_span(spacing)} apart (as here, after the previous bar), "
            f"which is none of the timeframes {_TF_NAMES}",
        )
    if clock.utc_grid(tf) or clock.is_fixed:
        off = 0 if clock.utc_grid(tf) else clock.offset
        bad = np.flatnonzero((t + off) % tf.seconds)
        k = int(bad[0]) if bad.size else -1
    else:
        k = next((i for i, x in enumerate(t.tolist()) if bar_span(tf, x, clock)[0] != x), -1)
    if k >= 0:
        raise ReplayFileError(
            name,
            int(lines[k]),
            f"time {_fmt(int(t[k]))} is off the {tf} grid: {grid_text(tf, clock)} (times in a "
            "broker's clock: set TRADEALERTS_REPLAY_TZ and TRADEALERTS_BAR_CLOCK, e.g. "
            "America/New_York@17:00)",
        )
    return tf


def _fmt(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _num(x: float) -> str:
    return repr(float(x))


def _span(seconds: int) -> str:
    """``7000`` → ``1 h 56 min 40 s``; ``86400`` → ``1 day``."""
    if seconds > 0 and seconds % 86_400 == 0:
        days = seconds // 86_400
        return f"{days} day" + ("s" if days > 1 else "")
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{s} s" if s else ""]
    return ("-" if seconds < 0 else "") + (" ".join(p for p in parts if p) or "0 s")


# -- the feed --------------------------------------------------------------------------------


def symbol_from_filename(path: str | os.PathLike[str]) -> str | None:
    """The first product symbol in a file name's upper-cased stem (``eurusd_h1.csv`` →
    EURUSD, ``EURUSD60.csv`` → EURUSD), or None."""
    stem = Path(path).stem.upper()
    # earliest position first; at the same position the longer name (none are prefixes today)
    found = [(stem.find(s), -len(s), s) for s in ALL_SYMBOLS if s in stem]
    return min(found)[2] if found else None


def tick_path(bar: Bar) -> list[float]:
    """The prices a bar is replayed through: open, the extreme nearer the open (the high on a
    tie), the other extreme, close."""
    high_first = bar.high - bar.open <= bar.open - bar.low
    first, second = (bar.high, bar.low) if high_first else (bar.low, bar.high)
    return [bar.open, first, second, bar.close]


class ReplayFeed(Feed):
    """Bars of one symbol from a file, replayed at ``options.replay_speed`` bars per second.

    The file's own timeframe and every higher one it divides are served; higher ones are
    resampled from the file's bars.
    """

    name = "replay"

    def __init__(self, path: str | os.PathLike[str], options: FeedOptions) -> None:
        self.path = Path(path)
        self.options = options
        given = options.replay_symbol
        symbol = given.strip().upper() if given else symbol_from_filename(self.path)
        if symbol is None and not self.path.exists():
            # the missing file is the fault to name, not the symbol its name does not tell
            raise ReplayFileError(self.path.name, None, f"no such file ({self.path.absolute()})")
        if symbol is None:
            raise ReplayFileError(
                self.path.name,
                None,
                "cannot tell the symbol from the file name: pass it with --symbol "
                f"(TRADEALERTS_REPLAY_SYMBOL), one of {', '.join(ALL_SYMBOLS)}",
            )
        if symbol not in ALL_SYMBOLS:
            raise FeedConfigError(
                f"unknown replay symbol {given!r}: use one of {', '.join(ALL_SYMBOLS)}"
            )
        if options.history_bars < 1:
            raise FeedConfigError(f"history_bars must be at least 1 (got {options.history_bars})")
        if not options.replay_speed >= 0:
            raise FeedConfigError(
                f"replay_speed must be 0 (as fast as possible) or more (got {options.replay_speed})"
            )
        self.symbol = symbol
        self.timeframe: Timeframe | None = None
        self._file: ReplayFile | None = None
        self._base = Bars()  # the file's bars delivered so far (history + streamed), + forming
        self._next = 0  # index in the file of the next bar to stream
        self._closed = False
        self._status = FeedStatus(connected=False)

    async def start(self) -> None:
        """Read and check the whole file and split it into history and the part to stream.

        History is the first ``options.history_bars`` bars. At least one bar is always left
        to stream, so a file with no more than ``history_bars`` bars gives all but its last
        bar as history (and a file needs two bars at least).
        """
        # ~0.3 s for 100k rows: off the event loop, so a server stays responsive meanwhile
        opts = self.options
        file = await asyncio.to_thread(load_bar_file, self.path, opts.replay_tz, self.bar_clock())
        all_ = file.bars
        k = min(self.options.history_bars, len(all_) - 1)
        origin, speed = self.options.replay_origin, self.options.replay_speed
        if origin is not None:
            # a standby taking over: the market as it is now, not the file's history again
            # (at speed 0 the first leader streamed it all at once)
            ahead = len(all_) if speed <= 0 else int((self.options.clock() - origin) * speed)
            k = min(len(all_) - 1, k + max(0, ahead))
        self._file = file
        self.timeframe = file.timeframe
        self._base = Bars(
            all_.time[:k], all_.open[:k], all_.high[:k], all_.low[:k], all_.close[:k],
            all_.volume[:k],
        )  # fmt: skip
        self._next = k
        self._closed = False
        self._status = FeedStatus(connected=True)

    async def close(self) -> None:
        """End the stream (at its next tick) and mark the feed disconnected."""
        self._closed = True
        self._status.connected = False

    def symbols(self) -> tuple[str, ...]:
        """The one symbol of the file."""
        return (self.symbol,)

    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        """The file's timeframe and every higher one it divides (H1 → H1, H2, … D1)."""
        if symbol.strip().upper() != self.symbol:
            return ()
        tf = self._loaded().timeframe
        return tuple(t for t in Timeframe if t.is_multiple_of(tf))

    async def bars(self, symbol: str, timeframe: Timeframe | str, count: int) -> Bars:
        """The last ``count`` closed bars of history plus those streamed so far, with the
        forming bar; a copy. Higher timeframes are resampled from the file's bars."""
        tf = self._loaded().timeframe
        if symbol.strip().upper() != self.symbol:
            raise FeedConfigError(
                f"replay file {self.path.name} holds {self.symbol}, not {symbol.strip()}"
            )
        try:
            want = parse_timeframe(timeframe)
        except TimeframeError as exc:
            raise FeedConfigError(str(exc)) from None
        if want == tf:
            return self._base.tail(count)
        if not want.is_multiple_of(tf):
            why = "" if want.seconds < tf.seconds else f" ({want} is no whole number of {tf} bars)"
            raise FeedConfigError(
                f"replay file {self.path.name} holds {tf} bars; {want} cannot be built from it{why}"
            )
        clock = self.bar_clock()
        out = resample(self._base, tf, want, clock)
        # resample leaves the last bucket forming until sub-bars fill it; but when the file
        # goes on in a later bucket (a weekend or other gap), the stream has already closed
        # it. Say so here too, so a market state loaded from bars() agrees with the stream.
        f = out.forming
        upcoming = self._upcoming()
        if f is not None and upcoming is not None and want.bar_open(upcoming, clock) > f.time:
            out.append(f)
            b = self._base.forming
            out.forming = None if b is None else Bar(
                want.bar_open(b.time, clock), b.open, b.high, b.low, b.close, b.volume
            )  # fmt: skip
        return out.tail(count)

    def _loaded(self) -> ReplayFile:
        """The file read by start(); FeedConfigError before that."""
        if self._file is None:
            raise FeedConfigError("start() the replay feed first")
        return self._file

    def _upcoming(self) -> int | None:
        """Open time of the file's next bar not yet closed (streaming or to stream)."""
        f = self._file
        return int(f.bars.time[self._next]) if f is not None and self._next < len(f.bars) else None

    def status(self) -> FeedStatus:
        """Connected between start() and close(); the last tick's (simulated) time."""
        s = self._status
        return FeedStatus(connected=s.connected, last_tick=dict(s.last_tick), error=s.error)

    async def stream(self) -> AsyncIterator[FeedEvent]:
        """Replay the rest of the file; the iterator ends with the file (or at ``close``).

        Each bar gives four ticks at 0, ¼, ½ and ¾ of its span, then its BarClose, then a
        BarClose for every higher timeframe whose bucket it completes: its last sub-bar has
        ended, or the next bar opens in a later bucket. Buckets still partial at the end of
        the file stay forming. At ``replay_speed`` 0 nothing sleeps, so nothing hands the
        event loop back between events either: a consumer that must stay responsive during a
        full-speed replay awaits something of its own.
        """
        loaded = self._loaded()
        file, tf = loaded.bars, loaded.timeframe
        speed = self.options.replay_speed
        pause = 1.0 / (TICKS_PER_BAR * speed) if speed > 0 else 0.0
        spread = TYPICAL_SPREAD.get(self.symbol, 0.0)
        higher = [t for t in Timeframe if t != tf and t.is_multiple_of(tf)]
        sym = self.symbol
        clock = self.bar_clock()
        is_open = market_open(self.options)
        while self._next < len(file) and not self._closed:
            bar = file[self._next]
            if is_open is not None and not is_open(sym, bar.time):
                self._next += 1  # its market was closed then: skipped (FEED_MARKET_HOURS)
                continue
            bar_end = bar_span(tf, bar.time, clock)[1]  # 3 or 5 h for an H4 bar at a switch
            for k, price in enumerate(tick_path(bar)):
                if pause:
                    await self.options.sleep(pause)
                if self._closed:
                    return
                t = bar.time + (bar_end - bar.time) * k / TICKS_PER_BAR
                f = self._base.forming
                self._base.forming = Bar(
                    bar.time,
                    bar.open,
                    price if f is None else max(f.high, price),
                    price if f is None else min(f.low, price),
                    price,
                    bar.volume * (k + 1) / TICKS_PER_BAR,  # the file's volume, by ticks seen
                )
                self._status.last_tick[sym] = t
                yield Tick(sym, t, price, price + spread)
            self._base.append(bar)  # the file's bar, exactly; clears the forming bar
            self._next += 1
            yield BarClose(sym, tf, bar)
            upcoming = self._upcoming()
            for htf in higher:
                bucket, bucket_end = bar_span(htf, bar.time, clock)
                ended = bar_end >= bucket_end
                if ended or (upcoming is not None and htf.bar_open(upcoming, clock) != bucket):
                    yield BarClose(sym, htf, _bucket_bar(self._base, bucket, bucket_end))


def _bucket_bar(bars: Bars, bucket: int, end: int) -> Bar:
    """The bar opening at ``bucket`` and ending at ``end``, from the closed bars inside it."""
    lo, hi = (int(i) for i in np.searchsorted(bars.time, [bucket, end]))
    return Bar(
        bucket,
        float(bars.open[lo]),
        float(bars.high[lo:hi].max()),
        float(bars.low[lo:hi].min()),
        float(bars.close[hi - 1]),
        float(bars.volume[lo:hi].sum()),
    )
