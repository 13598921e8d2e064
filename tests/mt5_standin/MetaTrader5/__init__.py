"""Stand-in for the ``MetaTrader5`` package: real names and shapes, a deterministic market.

Times it returns are in the broker's *server* time (UTC + offset), as the real terminal's are.
The offset can change mid-run (a daylight-saving switch, ``_switch_offset``): like a broker's
server, the stand-in stamps every price with the server time of its moment and builds each bar
from the prices whose server time falls in that bar, so history keeps the stamps it had (the
spring switch leaves an hour of server time without bars, the autumn one repeats an hour and
its bars hold the prices of both).
"""

from __future__ import annotations

import itertools
import math
from collections import namedtuple
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

__version__ = "5.0.45"
__author__ = "stand-in"

TIMEFRAME_M1, TIMEFRAME_M2, TIMEFRAME_M3, TIMEFRAME_M4, TIMEFRAME_M5 = 1, 2, 3, 4, 5
TIMEFRAME_M6, TIMEFRAME_M10, TIMEFRAME_M12, TIMEFRAME_M15, TIMEFRAME_M20 = 6, 10, 12, 15, 20
TIMEFRAME_M30 = 30
TIMEFRAME_H1, TIMEFRAME_H2, TIMEFRAME_H3, TIMEFRAME_H4 = 16385, 16386, 16387, 16388
TIMEFRAME_H6, TIMEFRAME_H8, TIMEFRAME_H12 = 16390, 16392, 16396
TIMEFRAME_D1, TIMEFRAME_W1, TIMEFRAME_MN1 = 16408, 32769, 49153

COPY_TICKS_ALL, COPY_TICKS_INFO, COPY_TICKS_TRADE = -1, 1, 2

RES_S_OK = 1
RES_E_FAIL = -1
RES_E_INVALID_PARAMS = -2
RES_E_NOT_FOUND = -4
RES_E_AUTH_FAILED = -6
RES_E_INTERNAL_FAIL = -10000
RES_E_INTERNAL_FAIL_INIT = -10003
RES_E_INTERNAL_FAIL_CONNECT = -10004

RATES_DTYPE = np.dtype(
    [("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
     ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8")]
)  # fmt: skip

Tick = namedtuple(
    "Tick", ["time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real"]
)
TerminalInfo = namedtuple("TerminalInfo", ["connected", "trade_allowed", "name", "build"])
AccountInfo = namedtuple("AccountInfo", ["login", "server", "currency", "balance"])
SymbolInfo = namedtuple("SymbolInfo", ["name", "visible", "digits", "bid", "ask", "point"])

_SECONDS = {1: 60, 2: 120, 3: 180, 4: 240, 5: 300, 6: 360, 10: 600, 12: 720, 15: 900,
            20: 1200, 30: 1800, 16385: 3600, 16386: 7200, 16387: 10800, 16388: 14400,
            16390: 21600, 16392: 28800, 16396: 43200, 16408: 86400}  # fmt: skip

_state: dict[str, Any] = {
    "symbols": {"EURUSD": 1.08},
    "offset": 2 * 3600,  # server time = UTC + 2h
    "offset_changes": [],  # (UTC instant, offset in seconds from then on), in time order
    "closed": {},  # symbol -> UTC instant its market closed (no quote since)
    "now": 1_764_000_000.0,  # UTC
    "initialized": False,
    "connected": True,
    "error": (RES_S_OK, "Success"),
    "selected": set(),
    "password": None,
    "refuse_login": False,
    "zone": None,  # (ZoneInfo, seconds added to its local time): the broker's DST clock
    "weekends": False,  # no quotes from Friday 17:00 to Sunday 17:00 New York time
}


def _configure(
    symbols: dict[str, float] | None = None,
    server_utc_offset_hours: float = 2.0,
    start: float = 1_764_000_000.0,
    refuse_login: bool = False,
    broker_zone: str | None = None,
    broker_day_start: int = 0,
    weekends: bool = False,
) -> None:
    """Reset the stand-in's market: symbols and their price level, broker offset, UTC clock.

    ``broker_zone`` runs the server clock as a real forex broker does, through daylight-saving
    switches: the zone's local time moved so that ``broker_day_start`` (seconds) is midnight
    (``"America/New_York"``, 17 h: UTC+2 in winter, UTC+3 in summer, US dates, the
    New-York-close convention; ``"Europe/Athens"``, 0: the same offsets on EU dates).
    ``weekends``: the market closes from Friday 17:00 to Sunday 17:00 New York time."""
    zone = None if broker_zone is None else (ZoneInfo(broker_zone), -int(broker_day_start) % _DAY)
    _state.update(
        symbols=dict(symbols or {"EURUSD": 1.08}), offset=int(server_utc_offset_hours * 3600),
        offset_changes=[], closed={}, now=float(start), initialized=False, connected=True,
        error=(RES_S_OK, "Success"), selected=set(), refuse_login=refuse_login, zone=zone,
        weekends=weekends,
    )  # fmt: skip


_NEW_YORK = ZoneInfo("America/New_York")
_DAY = 86_400


def _zone_offsets(zone: ZoneInfo, utc: np.ndarray) -> np.ndarray:
    """The zone's UTC offset (seconds) at each UTC instant (read once per hour)."""
    utc = np.asarray(utc, dtype=np.int64)
    hours, where = np.unique(utc // 3600, return_inverse=True)
    offs = np.array(
        [int(datetime.fromtimestamp(int(h) * 3600, zone).utcoffset().total_seconds())
         for h in hours], dtype=np.int64,
    )  # fmt: skip
    return offs[where].reshape(utc.shape)


def _weekend(utc: np.ndarray) -> np.ndarray:
    """True where the forex market is closed: Friday 17:00 to Sunday 17:00 New York."""
    utc = np.asarray(utc, dtype=np.int64)
    if not _state["weekends"]:
        return np.zeros(utc.shape, dtype=bool)
    local = utc + _zone_offsets(_NEW_YORK, utc)
    weekday = (local // _DAY + 3) % 7  # Monday 0 (1970-01-01 was a Thursday)
    sec = local % _DAY
    five = 17 * 3600
    return ((weekday == 4) & (sec >= five)) | (weekday == 5) | ((weekday == 6) & (sec < five))


def _advance(seconds: float) -> None:
    """Move the market's clock forward."""
    _state["now"] += seconds


def _switch_offset(at: float, server_utc_offset_hours: float) -> None:
    """From the UTC instant ``at`` on, the broker's server time is UTC + the new offset (a DST
    switch: the terminal's clock jumps; bars already built keep their stamps)."""
    changes = [c for c in _state["offset_changes"] if c[0] < at]
    changes.append((float(at), int(server_utc_offset_hours * 3600)))
    _state["offset_changes"] = changes


def _close_market(symbol: str, at: float) -> None:
    """No quote for ``symbol`` from the UTC instant ``at`` on (its market closed): its last
    quote and last bar stay where they were, as a terminal's do over a weekend."""
    _state["closed"] = {**_state["closed"], symbol: float(at)}


def _quote_time(symbol: str) -> int:
    """UTC second of the symbol's last quote (over a weekend: the last one before it)."""
    at = math.floor(min(_state["now"], _state["closed"].get(symbol, math.inf)))
    if _state["weekends"] and _weekend(np.array([at]))[0]:
        lo = at - 3 * _DAY  # a weekend is two days: the close lies within three
        while at - lo > 1:  # the last second before the market closed
            mid = (lo + at) // 2
            if _weekend(np.array([mid]))[0]:
                at = mid
            else:
                lo = mid
        at = lo
    return at


def _offsets(utc: np.ndarray) -> np.ndarray:
    """The broker's offset (seconds) in force at each UTC instant."""
    if _state["zone"] is not None:
        zone, shift = _state["zone"]
        return _zone_offsets(zone, np.asarray(utc, dtype=np.int64)) + shift
    out = np.full(np.shape(utc), _state["offset"], dtype=np.int64)
    for at, offset in _state["offset_changes"]:
        out[np.asarray(utc) >= at] = offset
    return out


def _server_time(utc: int) -> int:
    return int(utc + _offsets(np.array([utc]))[0])


def _offset_range() -> tuple[int, int, int]:
    """(smallest, largest offset, total jumps) over the whole run, in seconds."""
    if _state["zone"] is not None:  # a DST clock: one hour either way, and weekends to skip
        mid = int(_offsets(np.array([int(_state["now"])]))[0])
        return mid - 3600, mid + 3600, 6 * _DAY
    offs = [_state["offset"], *(o for _, o in _state["offset_changes"])]
    jumps = sum(abs(b - a) for a, b in itertools.pairwise(offs))
    return min(offs), max(offs), jumps


def _utc_of_server(server: np.ndarray) -> np.ndarray:
    """The UTC instants of server times (the first one of a repeated hour; in a skipped
    hour, the instant of the switch)."""
    server = np.asarray(server, dtype=np.float64)
    regimes = [(-math.inf, _state["offset"]), *_state["offset_changes"]]
    out = server - regimes[-1][1]
    for i in range(len(regimes) - 1, -1, -1):  # the earliest regime that fits wins
        start, offset = regimes[i]
        end = regimes[i + 1][0] if i + 1 < len(regimes) else math.inf
        cand = server - offset
        out = np.where((cand >= start) & (cand < end), cand, out)
    return out


def _disconnect() -> None:
    """The terminal closes: every call fails until _reconnect."""
    _state["connected"] = False


def _reconnect() -> None:
    _state["connected"] = True


def _fail(code: int, text: str) -> None:
    _state["error"] = (code, text)


def _price(symbol: str, t: np.ndarray | float) -> np.ndarray | float:
    base = _state["symbols"][symbol]
    k = sum(map(ord, symbol)) % 7
    return base * (
        1 + 0.002 * np.sin(np.asarray(t) / 900.0 + k) + 0.001 * np.sin(np.asarray(t) / 97.0)
    )


def _alive() -> bool:
    if not _state["connected"]:
        _fail(RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
        return False
    if not _state["initialized"]:
        _fail(RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed, MetaTrader 5 x64 not found")
        return False
    return True


def initialize(
    path: str | None = None,
    *,
    login: int | None = None,
    password: str | None = None,
    server: str | None = None,
    timeout: int | None = None,
    portable: bool = False,
) -> bool:
    if not _state["connected"]:
        _fail(RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed, MetaTrader 5 x64 not found")
        return False
    if login is not None and _state["refuse_login"]:
        _fail(RES_E_AUTH_FAILED, "Authorization failed")
        return False
    _state["initialized"] = True
    _fail(RES_S_OK, "Success")
    return True


def login(
    login: int, password: str | None = None, server: str | None = None, timeout: int = 60000
) -> bool:
    return initialize(login=login, password=password, server=server)


def shutdown() -> None:
    _state["initialized"] = False


def last_error() -> tuple[int, str]:
    return tuple(_state["error"])  # type: ignore[return-value]


def version() -> tuple[int, int, str] | None:
    return (500, 4620, "20 Nov 2026") if _alive() else None


def terminal_info() -> TerminalInfo | None:
    return TerminalInfo(True, False, "MetaTrader 5 (stand-in)", 4620) if _alive() else None


def account_info() -> AccountInfo | None:
    return AccountInfo(1234567, "Demo-Server", "USD", 10000.0) if _alive() else None


def symbols_get(group: str | None = None) -> tuple[SymbolInfo, ...] | None:
    if not _alive():
        return None
    return tuple(
        SymbolInfo(s, s in _state["selected"], 5, 0.0, 0.0, 1e-5) for s in _state["symbols"]
    )


def symbol_info(symbol: str) -> SymbolInfo | None:
    if not _alive() or symbol not in _state["symbols"]:
        return None
    t = symbol_info_tick(symbol)
    return SymbolInfo(symbol, symbol in _state["selected"], 5, t.bid, t.ask, 1e-5)


def symbol_select(symbol: str, enable: bool = True) -> bool:
    if not _alive():
        return False
    if symbol not in _state["symbols"]:
        _fail(RES_E_NOT_FOUND, f"Terminal: Symbol {symbol} not found")
        return False
    (_state["selected"].add if enable else _state["selected"].discard)(symbol)
    return True


def symbol_info_tick(symbol: str) -> Tick | None:
    if not _alive() or symbol not in _state["symbols"]:
        return None
    # the terminal's last quote: prices move in whole seconds
    at = _quote_time(symbol)
    bid = round(float(_price(symbol, at)), 5)
    server_ms = _server_time(at) * 1000
    return Tick(int(server_ms // 1000), bid, round(bid + 0.0001, 5), 0.0, 0, int(server_ms), 6, 0.0)


def copy_rates_from_pos(
    symbol: str, timeframe: int, start_pos: int, count: int
) -> np.ndarray | None:
    if not _alive():
        return None
    if symbol not in _state["symbols"] or timeframe not in _SECONDS or count <= 0:
        _fail(RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        return None
    sec = _SECONDS[timeframe]
    _, _, jumps = _offset_range()
    quote = _quote_time(symbol)
    # enough UTC time for the bars asked for, plus the server hours a switch removed (and,
    # with weekends, the days without bars)
    span = (start_pos + count + 1) * sec * (2 if _state["weekends"] else 1)
    rates = _build(symbol, sec, quote - span - 2 * jumps, quote)
    end = len(rates) - start_pos
    return rates[max(0, end - count) : max(0, end)].copy()


def copy_rates_from(symbol: str, timeframe: int, date_from: Any, count: int) -> np.ndarray | None:
    if not _alive():
        return None
    sec = _SECONDS[timeframe]
    t = int(date_from.timestamp()) if hasattr(date_from, "timestamp") else int(date_from)
    low, high, jumps = _offset_range()
    rates = _build(symbol, sec, t - high - (count + 1) * sec - 2 * jumps, t - low + sec)
    rates = rates[rates["time"] <= t]
    return rates[-count:].copy()


def copy_rates_range(
    symbol: str, timeframe: int, date_from: Any, date_to: Any
) -> np.ndarray | None:
    if not _alive():
        return None
    sec = _SECONDS[timeframe]
    a = int(date_from.timestamp()) if hasattr(date_from, "timestamp") else int(date_from)
    b = int(date_to.timestamp()) if hasattr(date_to, "timestamp") else int(date_to)
    low, high, _ = _offset_range()
    rates = _build(symbol, sec, a - high - sec, b - low + sec)
    return rates[(rates["time"] >= a) & (rates["time"] <= b)].copy()


def copy_ticks_from(symbol: str, date_from: Any, count: int, flags: int) -> np.ndarray | None:
    if not _alive():
        return None
    dtype = np.dtype([("time", "<i8"), ("bid", "<f8"), ("ask", "<f8"), ("last", "<f8"),
                      ("volume", "<u8"), ("time_msc", "<i8"), ("flags", "<u4"),
                      ("volume_real", "<f8")])  # fmt: skip
    t = int(date_from.timestamp()) if hasattr(date_from, "timestamp") else int(date_from)
    times = t + np.arange(count, dtype=np.int64)
    out = np.zeros(count, dtype=dtype)
    out["time"] = times
    out["bid"] = np.round(_price(symbol, _utc_of_server(times)), 5)
    out["ask"] = out["bid"] + 0.0001
    out["time_msc"] = times * 1000
    return out


def _build(symbol: str, sec: int, utc_from: float, utc_to: float) -> np.ndarray:
    """The bars of ``sec`` seconds holding the prices from ``utc_from`` to ``utc_to`` (never
    past the last quote), as the broker builds them: 12 prices per bar on a fixed UTC grid,
    plus the last quote for the newest bar, each stamped in the server time of its moment and put in
    the bar of that server time. The first bar may be partial: callers ask for more."""
    step = sec // 12
    quote = _quote_time(symbol)
    last = min(math.floor(utc_to), quote)
    first = math.floor(utc_from / step) * step
    utc = np.arange(first, last + 1, step, dtype=np.int64)
    if last == quote and (len(utc) == 0 or utc[-1] != quote):
        utc = np.append(utc, quote)
    utc = utc[~_weekend(utc)]  # no prices while the market is closed
    server = utc + _offsets(utc)
    slots = server - server % sec
    order = np.lexsort((utc, slots))  # by bar, then in time order within the bar
    slots, prices = slots[order], np.round(_price(symbol, utc[order].astype(np.float64)), 5)
    starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]]) if len(slots) else slots
    ends = np.r_[starts[1:], len(slots)] - 1 if len(slots) else slots
    out = np.zeros(len(starts), dtype=RATES_DTYPE)
    if not len(starts):
        return out
    opens = slots[starts]
    out["time"] = opens
    out["open"] = prices[starts]
    out["high"] = np.maximum.reduceat(prices, starts)
    out["low"] = np.minimum.reduceat(prices, starts)
    out["close"] = prices[ends]
    out["tick_volume"] = 100 + (opens // sec) % 50
    out["spread"] = 10
    return out
