"""Bar files: the CSV a replay feed streams, read and checked whole before anything is served.

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
The file's own bars must open on the bar clock's grid. Any problem is a ``ReplayFileError``
naming the file, the line and what is wrong.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tradealerts.core.bars import Bars, FloatArray, IntArray
from tradealerts.core.timeframes import (
    UTC_CLOCK,
    BarClock,
    Timeframe,
    bar_span,
    grid_text,
)
from tradealerts.server.feeds.base import ReplayFileError

__all__ = ["ReplayFile", "load_bar_file", "local_to_utc"]

_TF_BY_SECONDS = {tf.seconds: tf for tf in Timeframe}
_TF_NAMES = ", ".join(tf.value for tf in Timeframe)
_PLAIN_HEADER = "time,open,high,low,close[,volume]"
_MT5_HEADER = "<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>"
_PLAIN_VOLUME = ("volume", "tick_volume", "tickvol", "vol")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# 9999-12-31T23:59:59Z: the last second a datetime can show; larger numbers are not seconds
_MAX_EPOCH = 253_402_300_799


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


def _require(name: str, idx: dict[str, int], need: list[str], header: str) -> None:
    """The header names every column of ``need``, or the file is refused at its line 1."""
    missing = [c for c in need if c not in idx]
    if missing:
        raise ReplayFileError(name, 1, f"missing column {', '.join(missing)}: {header}")


def _layout(name: str, header: list[str]) -> _Layout:
    cells = [h.strip() for h in header]
    if cells and cells[0].startswith("<"):
        idx = {c.upper(): i for i, c in enumerate(cells)}
        need = ["<DATE>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>"]
        _require(name, idx, need, f"an MT5 export's header is {_MT5_HEADER}")
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
    _require(
        name, idx, need, f"the header must be {_PLAIN_HEADER} (or an MT5 export's {_MT5_HEADER})"
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
