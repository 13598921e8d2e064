"""Reading bar files: plain CSV with a header, and MetaTrader 5's tab-separated export."""

from __future__ import annotations

import csv
import math
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tradealerts.core.bars import Bars
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds.base import ReplayFileError

__all__ = ["detect_timeframe", "read_bars"]

_MT5_COLUMNS = {"<DATE>", "<TIME>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>"}
_TF_BY_SECONDS = {tf.seconds: tf for tf in Timeframe}


def _parse_time(text: str) -> int:
    """Epoch seconds from epoch seconds or ISO 8601 (naive = UTC)."""
    s = text.strip()
    try:
        return int(float(s)) if s.replace(".", "", 1).isdigit() else _iso(s)
    except (ValueError, OverflowError):
        raise ValueError(f"time {text!r} is neither ISO 8601 nor epoch seconds") from None


def _iso(s: str) -> int:
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _mt5_time(date: str, clock: str | None) -> int:
    try:
        dt = datetime.strptime(
            f"{date.strip()} {(clock or '00:00:00').strip()}", "%Y.%m.%d %H:%M:%S"
        )
    except ValueError:
        try:
            dt = datetime.strptime(f"{date.strip()} {(clock or '00:00').strip()}", "%Y.%m.%d %H:%M")
        except ValueError:
            raise ValueError(f"date/time {date!r} {clock!r} is not YYYY.MM.DD HH:MM[:SS]") from None
    return int(dt.replace(tzinfo=UTC).timestamp())


def _number(name: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} {text!r} is not a finite number")
    return v


def _fmt(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def read_bars(path: str | os.PathLike[str]) -> Bars:
    """All bars of a file, checked row by row; any problem names the file and the line."""
    p = Path(path)
    name = p.name
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReplayFileError(name, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayFileError(name, None, f"cannot be read ({exc.__class__.__name__})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ReplayFileError(name, 1, "the file is empty: expected a header line")
    header_line = lines[0]
    mt5 = header_line.lstrip().startswith("<")
    delimiter = "\t" if mt5 or "\t" in header_line else ","
    rows = csv.reader(lines, delimiter=delimiter)
    header = [h.strip() for h in next(rows)]
    cols = _columns(name, header, mt5)
    times: list[int] = []
    ohlcv: list[tuple[float, ...]] = []
    for number, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            t, bar = _row(row, cols, mt5)
        except (ValueError, IndexError) as exc:
            msg = str(exc) if isinstance(exc, ValueError) else f"expected {len(header)} columns"
            raise ReplayFileError(name, number, msg) from None
        if times and t <= times[-1]:
            raise ReplayFileError(
                name,
                number,
                f"time {_fmt(t)} is not after the previous bar's {_fmt(times[-1])} "
                "(duplicate or unsorted)",
            )
        times.append(t)
        ohlcv.append(bar)
    if not times:
        raise ReplayFileError(name, 2, "no bars after the header")
    a = np.array(ohlcv, dtype=np.float64)
    return Bars(np.array(times, dtype=np.int64), a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])


def _columns(name: str, header: list[str], mt5: bool) -> dict[str, int]:
    if mt5:
        idx = {h.upper(): i for i, h in enumerate(header)}
        need = ["<DATE>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>"]
        missing = [c for c in need if c not in idx]
        if missing:
            raise ReplayFileError(name, 1, f"missing column {', '.join(missing)} in the MT5 header")
        return {
            "date": idx["<DATE>"],
            "time": idx.get("<TIME>", -1),
            "open": idx["<OPEN>"],
            "high": idx["<HIGH>"],
            "low": idx["<LOW>"],
            "close": idx["<CLOSE>"],
            "tickvol": idx.get("<TICKVOL>", -1),
            "vol": idx.get("<VOL>", -1),
        }
    idx = {h.lower(): i for i, h in enumerate(header)}
    missing = [c for c in ("time", "open", "high", "low", "close") if c not in idx]
    if missing:
        raise ReplayFileError(
            name,
            1,
            f"missing column {', '.join(missing)}: "
            "the header must be time,open,high,low,close[,volume]",
        )
    vol = next((idx[v] for v in ("volume", "tick_volume", "tickvol", "vol") if v in idx), -1)
    return {k: idx[k] for k in ("time", "open", "high", "low", "close")} | {"volume": vol}


def _row(row: list[str], cols: dict[str, int], mt5: bool) -> tuple[int, tuple[float, ...]]:
    if mt5:
        t = _mt5_time(row[cols["date"]], row[cols["time"]] if cols["time"] >= 0 else None)
        vol = _number("<TICKVOL>", row[cols["tickvol"]]) if cols["tickvol"] >= 0 else 0.0
        if vol == 0.0 and cols["vol"] >= 0:
            vol = _number("<VOL>", row[cols["vol"]])
    else:
        t = _parse_time(row[cols["time"]])
        vol = _number("volume", row[cols["volume"]]) if cols["volume"] >= 0 else 0.0
    o, h, lo, c = (_number(k, row[cols[k]]) for k in ("open", "high", "low", "close"))
    if min(o, h, lo, c) <= 0:
        raise ValueError("prices must be positive")
    if h < max(o, c) or lo > min(o, c):
        raise ValueError(f"high {h} / low {lo} do not contain open {o} and close {c}")
    if vol < 0:
        raise ValueError(f"volume {vol} is negative")
    return t, (o, h, lo, c, vol)


def detect_timeframe(name: str, bars: Bars) -> Timeframe:
    """The file's timeframe: the most common spacing of its bars, which must be one of ours."""
    if len(bars) < 2:
        raise ReplayFileError(name, None, "needs at least 2 bars to tell its timeframe")
    gaps = np.diff(bars.time)
    values, counts = np.unique(gaps, return_counts=True)
    spacing = int(values[int(np.argmax(counts))])
    tf = _TF_BY_SECONDS.get(spacing)
    if tf is None:
        raise ReplayFileError(
            name,
            None,
            f"bars are {spacing} s apart, which is none of the timeframes "
            f"{', '.join(t.value for t in Timeframe)}",
        )
    odd = np.flatnonzero(gaps < spacing)
    if odd.size:
        k = int(odd[0]) + 1
        raise ReplayFileError(
            name,
            None,
            f"bar at {_fmt(int(bars.time[k]))} is only {int(gaps[k - 1])} s after the previous "
            f"one; the file's timeframe is {tf}",
        )
    return tf
