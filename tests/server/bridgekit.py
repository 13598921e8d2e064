"""A stand-in for the MT5 bridge EA (mql5/TradeAlertsBridge.mq5), which cannot run here.

Written from the wire format in docs/api.md and the EA's source, never from the server's own
models (nothing here imports ``tradealerts.core.ingest`` or the server): a body the server's
schema would refuse is posted as the EA would post it, and the test sees the refusal.

Two parts:

* ``EA``: the EA's logic as written, function for function (``Plan``, ``SendBatch``,
  ``ReadRange``, ``Body``, ``Retry``, ``BrokerToUtc``, ``Number``, ``JsonEscape`` ...), run
  against a ``Terminal`` (bars in the broker's time, indicator buffers, the
  ``SERIES_SYNCHRONIZED`` flag) with a millisecond clock the test moves (``GetTickCount64``).
  Its constants are the EA's ``#define``s and defaults; a test reads them from the source.
* ``StandInBridge`` and ``batch``: plain bodies for tests about the server's side of the
  lines (Bill Williams' fractals with a window of the owner's, 1 where our spec uses 2: buffer
  0 holds the up fractal's high or EMPTY_VALUE, buffer 1 the down fractal's low).
"""

from __future__ import annotations

import calendar
import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tradealerts.core.indicators import find_fractals

OWNER_WINDOW = 1  # the owner's fractal window; ours is 2
#: MQL5's EMPTY_VALUE (DBL_MAX), as docs/api.md gives it
EMPTY_VALUE = 1.7976931348623157e308

# the EA's #defines (tests/server/test_bridge_ea.py holds them to the source)
MAX_BARS_PER_REQUEST = 5000
BACKOFF_FIRST_MS = 1000
BACKOFF_MAX_MS = 60000
RETRY_AFTER_MAX_MS = 600000
WORK_BUDGET_MS = 2000
HUGE_VALUE = 1e100
TIMEFRAMES = {"M5": 300, "M15": 900, "M30": 1800, "H1": 3600, "H2": 7200, "H4": 14400,
              "H8": 28800, "H12": 43200, "D1": 86400}  # fmt: skip


# -- plain bodies for the server-side tests ---------------------------------------------------


def read_bars(path: Path) -> dict[str, np.ndarray]:
    """A plain replay CSV (ISO times) as columns."""
    rows = list(csv.DictReader(path.open()))
    cols: dict[str, np.ndarray] = {
        "time": np.array(
            [
                int(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp())
                for r in rows
            ]
        )
    }
    for k in ("open", "high", "low", "close"):
        cols[k] = np.array([float(r[k]) for r in rows])
    return cols


def fractal_buffers(bars: dict[str, np.ndarray], n: int = OWNER_WINDOW) -> list[list[float]]:
    """The two buffers of a fractal indicator with window ``n``, one row per bar."""
    up, down = find_fractals(bars["high"], bars["low"], n)
    rows = [[EMPTY_VALUE, EMPTY_VALUE] for _ in range(len(bars["time"]))]
    for i in up:
        rows[i][0] = float(bars["high"][i])
    for i in down:
        rows[i][1] = float(bars["low"][i])
    return rows


def batch(
    symbol: str, timeframe: str, times: list[int], rows: list[list[float]], buffers: list[int]
) -> dict[str, Any]:
    """One request body as the wire format of docs/api.md lays it out (a plain dict)."""
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "indicator": "Fractals(1)",
        "buffers": list(buffers),
        "bars": [{"time": int(t), "values": list(v)} for t, v in zip(times, rows, strict=True)],
    }


class StandInBridge:
    """Posts to ``POST /api/ingest/indicators`` with the ingest token, like the EA."""

    def __init__(self, url: str, token: str, symbol: str = "EURUSD", timeframe: str = "H1"):
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.symbol, self.timeframe = symbol, timeframe
        self.sent: list[dict[str, Any]] = []

    def post(self, body: dict[str, Any]) -> httpx.Response:
        self.sent.append(body)
        return self.client.post("/api/ingest/indicators", json=body)

    def start(
        self, times: list[int], rows: list[list[float]], buffers: tuple[int, ...] = (0, 1)
    ) -> None:
        """The EA's history: every bar given (the last N), in the EA's batches."""
        step = 500  # InpBatchBars' default
        for k in range(0, len(times), step):
            r = self.post(
                batch(self.symbol, self.timeframe, times[k : k + step], rows[k : k + step],
                      list(buffers))
            )  # fmt: skip
            assert r.status_code == 200, r.text

    def closed(
        self, times: list[int], rows: list[list[float]], upto: int, resend: int = 10
    ) -> dict[str, Any]:
        """The EA on a newly closed bar ``upto``: it and the ``resend`` - 1 bars before it."""
        lo = max(0, upto - resend + 1)
        r = self.post(batch(self.symbol, self.timeframe, times[lo : upto + 1],
                            rows[lo : upto + 1], [0, 1]))  # fmt: skip
        assert r.status_code == 200, r.text
        return dict(r.json())

    def close(self) -> None:
        self.client.close()


# -- the terminal the EA reads ----------------------------------------------------------------


@dataclass
class TerminalSeries:
    """One (symbol, period) as the terminal holds it: bar open times in broker time, oldest
    first, the last one forming; ``values[j][b]``: buffer b of the indicator on bar j."""

    times: list[int]
    values: list[list[float]]
    synchronized: bool = True
    calculated: int | None = None  # BarsCalculated; None: all

    def copy(self, start: int, stop: int) -> list[int]:
        return [j for j, t in enumerate(self.times) if start <= t <= stop]


@dataclass
class Terminal:
    """The MT5 functions the EA calls, over series the test builds."""

    series: dict[tuple[str, str], TerminalSeries]
    server_time: int = 0  # TimeTradeServer()
    gmt: int = 0  # TimeGMT()
    reads: int = 0  # CopyTime/CopyBuffer calls
    on_read: Callable[[Terminal], None] | None = None  # a hook between reads (a bar opening)

    def symbol_select(self, symbol: str) -> bool:
        return any(s == symbol for s, _ in self.series)

    def bars(self, symbol: str, tf: str) -> int:
        return len(self.series[(symbol, tf)].times)

    def itime(self, symbol: str, tf: str, shift: int) -> int:
        times = self.series[(symbol, tf)].times
        return times[len(times) - 1 - shift] if 0 <= shift < len(times) else 0

    def copy_time(self, symbol: str, tf: str, start: int, stop: int) -> list[int]:
        self._read()
        s = self.series[(symbol, tf)]
        return [s.times[j] for j in s.copy(start, stop)]

    def copy_buffer(self, symbol: str, tf: str, buffer: int, start: int, stop: int) -> list[float]:
        self._read()
        s = self.series[(symbol, tf)]
        return [s.values[j][buffer] for j in s.copy(start, stop)]

    def _read(self) -> None:
        self.reads += 1
        if self.on_read is not None:
            self.on_read(self)


# -- the EA -------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """The EA's inputs, with its defaults."""

    server_url: str
    token: str
    symbols: str = "EURUSD"
    timeframes: str = "H1,H4,D1"
    indicator: str = "Examples\\Fractals"
    indicator_args: str = ""  # the terminal's indicator here takes none
    buffers: str = "0,1"
    history_bars: int = 1000
    resend_bars: int = 10
    batch_bars: int = 500
    broker_offset: str = "auto"
    broker_dst: str = "US"
    timeout_ms: int = 5000
    uplink_kbps: int = 16


@dataclass
class Series:
    symbol: str
    tf: str
    sent_upto: int = 0
    cursor: int = 0
    target: int = 0
    chunk: int = 500
    next_try: int = 0
    delay: int = 0
    failures: int = 0
    refused: bool = False
    last_note: str = ""


@dataclass
class Sent:
    """One WebRequest the EA made: its series, bars, body, timeout and the outcome."""

    symbol: str
    tf: str
    bars: int
    body: str
    timeout_ms: int
    at_ms: int
    status: int  # -1: WebRequest failed, ``error`` says why
    error: int = 0


class WebRequestFailed(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@dataclass
class EA:
    """TradeAlertsBridge.mq5, line for line where it matters."""

    terminal: Terminal
    inputs: Inputs
    now_ms: Callable[[], int]  # GetTickCount64
    log: list[str] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.Client()
        self.reset_state()

    def close(self) -> None:
        self.http.close()

    # OnInit / OnDeinit
    def reset_state(self) -> None:
        self.series: list[Series] = []
        self.buffers: list[int] = []
        self.buffers_json = ""
        self.url = ""
        self.stopped = False
        self.winter_offset = 0
        self.offset_auto = True
        self.offset_known = False
        self.dst = 1

    def on_init(self, inputs: Inputs | None = None) -> str:
        """OnInit (with new inputs: MT5's re-initialisation, globals kept, then reset)."""
        if inputs is not None:
            self.inputs = inputs
        self.reset_state()
        i = self.inputs
        if not i.token:
            return self._print("set InpToken", "INIT_PARAMETERS_INCORRECT")
        if not (1 <= i.batch_bars <= MAX_BARS_PER_REQUEST) or i.history_bars < 1:
            return self._print("bad numbers", "INIT_PARAMETERS_INCORRECT")
        if not self.parse_buffers() or not self.parse_clock():
            return "INIT_PARAMETERS_INCORRECT"
        if self.offset_auto:
            self.auto_offset()
        self.url = i.server_url.strip().rstrip("/")
        tfs = [t.strip().upper() for t in i.timeframes.split(",")]
        for t in tfs:
            if t not in TIMEFRAMES:
                return self._print(f"unknown timeframe '{t}'", "INIT_PARAMETERS_INCORRECT")
        for sym in (s.strip() for s in i.symbols.split(",")):
            if not sym:
                continue
            if not self.terminal.symbol_select(sym):
                self._print(f"{sym} skipped: the terminal has no such symbol (error 4301)")
                continue
            for t in tfs:
                if (sym, t) not in self.terminal.series:
                    self._print(f"{sym} {t} skipped: cannot load {i.indicator} (error 4802)")
                    continue
                self.series.append(Series(sym, t, chunk=i.batch_bars))
        if not self.series:
            return self._print("no series to serve", "INIT_FAILED")
        return "INIT_SUCCEEDED"

    # OnTimer
    def on_timer(self) -> None:
        start = self.now_ms()
        worked = True
        while worked and not self.stopped and self.now_ms() - start < WORK_BUDGET_MS:
            worked = False
            for x in self.series:
                if self.stopped:
                    break
                if self.step(x):
                    worked = True

    def step(self, x: Series) -> bool:
        if x.refused or self.now_ms() < x.next_try:
            return False
        if x.cursor == 0 and not self.plan(x):
            return False
        return self.send_batch(x)

    def plan(self, x: Series) -> bool:
        s = self.terminal.series[(x.symbol, x.tf)]
        if not s.synchronized:
            return self.wait(x, "the terminal is still loading its history")
        bars = len(s.times)
        calculated = bars if s.calculated is None else s.calculated
        if bars < 2 or calculated < bars:
            return self.wait(x, "the indicator is still calculating")
        if self.offset_auto and not self.auto_offset():
            return self.wait(x, "the terminal does not know the trade server's time yet")
        last_closed = self.terminal.itime(x.symbol, x.tf, 1)
        if last_closed == 0 or last_closed <= x.sent_upto:
            return False
        back = min(bars - 1, self.inputs.history_bars if x.sent_upto == 0
                   else self.inputs.resend_bars)  # fmt: skip
        start = self.terminal.itime(x.symbol, x.tf, back)
        if x.sent_upto != 0 and x.sent_upto + 1 < start:
            start = x.sent_upto + 1
        x.cursor, x.target = start, last_closed
        return True

    def send_batch(self, x: Series) -> bool:
        times = self.terminal.copy_time(x.symbol, x.tf, x.cursor, x.target)
        n = len(times)
        if n <= 0:
            return self.retry(x, "CopyTime found no bars", 0)
        n = min(n, x.chunk)
        times = times[:n]
        cols = self.read_range(x, times[0], times[-1], n, times)
        if cols is None:
            return self.retry(x, "the series changed while it was read (history update)", 0)
        body = self.body(x, times, cols, n)
        data = body.encode("utf-8")
        size = len(data)
        timeout = self.inputs.timeout_ms + size * 1000 // (self.inputs.uplink_kbps * 1024)
        headers = {"Content-Type": "application/json",
                   "Authorization": f"Bearer {self.inputs.token}"}  # fmt: skip
        record = Sent(x.symbol, x.tf, n, body, timeout, self.now_ms(), -1)
        self.sent.append(record)
        try:
            status, answer, answer_headers = self.web_request(data, headers, timeout)
        except WebRequestFailed as exc:
            record.error = exc.code
            return self.retry(x, self.web_request_error(exc.code, timeout),
                              BACKOFF_MAX_MS if exc.code == 4014 else 0)  # fmt: skip
        record.status = status
        if status == 200:
            if x.failures > 0:
                self._print(f"{x.symbol} {x.tf} sending again after {x.failures} failure(s)")
            x.failures, x.delay, x.last_note = 0, 0, ""
            x.cursor = times[-1] + 1
            if x.cursor > x.target:
                x.sent_upto, x.cursor = x.target, 0
            return True
        if status == 413 and n > 1:
            x.chunk = max(1, n // 2)
            self._print(f"{x.symbol} {x.tf}: {n} bars ({size} bytes) are too large for the "
                        f"server: batches of {x.chunk} from now on")  # fmt: skip
            return True
        if status == 401:
            self.stopped = True
            self._print(f"the server refuses the token (401 {json_field(answer, 'code')}): "
                        f"{json_field(answer, 'message')} Nothing is sent until InpToken is "
                        "changed.")  # fmt: skip
            return False
        if status in (408, 429) or status >= 500:
            return self.retry(
                x,
                f"the server answered {status} {json_field(answer, 'code')}: "
                f"{json_field(answer, 'message')}",
                retry_after_ms(answer_headers),
            )
        x.refused = True
        self._print(f"{x.symbol} {x.tf} refused by the server ({status} "
                    f"{json_field(answer, 'code')}): {json_field(answer, 'message')} Not sent "
                    "again until the EA's inputs change.")  # fmt: skip
        return False

    def read_range(
        self, x: Series, first: int, last: int, n: int, times: list[int]
    ) -> list[list[float]] | None:
        check = self.terminal.copy_time(x.symbol, x.tf, first, last)
        if len(check) != n or check != times:
            return None
        cols = []
        for b in self.buffers:
            col = self.terminal.copy_buffer(x.symbol, x.tf, b, first, last)
            if len(col) != n:
                return None
            cols.append(col)
        check = self.terminal.copy_time(x.symbol, x.tf, first, last)
        if len(check) != n or check[0] != first or check[-1] != last:
            return None
        return cols

    def body(self, x: Series, times: list[int], cols: list[list[float]], n: int) -> str:
        # built by hand, as the EA concatenates it
        out = (
            '{"symbol":"' + json_escape(x.symbol) + '","timeframe":"' + x.tf
            + '","indicator":"' + json_escape(self.inputs.indicator) + '","buffers":'
            + self.buffers_json + ',"bars":['
        )  # fmt: skip
        for j in range(n):
            out += ("," if j else "") + '{"time":' + str(self.broker_to_utc(times[j]))
            out += ',"values":[' + ",".join(number(col[j]) for col in cols) + "]}"
        return out + "]}"

    def retry(self, x: Series, why: str, at_least_ms: int) -> bool:
        x.failures += 1
        x.delay = BACKOFF_FIRST_MS if x.delay == 0 else min(x.delay * 2, BACKOFF_MAX_MS)
        if at_least_ms > x.delay:
            x.delay = min(at_least_ms, RETRY_AFTER_MAX_MS)
        x.next_try = self.now_ms() + x.delay
        if why != x.last_note:
            self._print(f"{x.symbol} {x.tf}: {why}; retrying in {x.delay // 1000} s")
        x.last_note = why
        return False

    def wait(self, x: Series, why: str) -> bool:
        if why != x.last_note:
            self._print(f"{x.symbol} {x.tf} waits: {why}")
        x.last_note = why
        return False

    def web_request(
        self, data: bytes, headers: dict[str, str], timeout_ms: int
    ) -> tuple[int, str, str]:
        """WebRequest: (status, answer, answer headers) or WebRequestFailed(GetLastError())."""
        url = self.url + "/api/ingest/indicators"
        if not url.startswith(("http://", "https://")):
            raise WebRequestFailed(5200)
        try:
            r = self.http.post(url, content=data, headers=headers, timeout=timeout_ms / 1000)
        except httpx.ConnectError:
            raise WebRequestFailed(5201) from None
        except httpx.TimeoutException:
            raise WebRequestFailed(5202) from None
        except httpx.TransportError:
            raise WebRequestFailed(5203) from None
        head = "".join(f"{k}: {v}\r\n" for k, v in r.headers.items())
        return r.status_code, r.text, head

    def web_request_error(self, err: int, timeout: int) -> str:
        return {
            4014: f"error 4014: WebRequest is not allowed for {self.url}",
            5200: "error 5200: the URL is invalid: check InpServerUrl",
            5201: f"error 5201: cannot connect to {self.url}",
            5202: f"error 5202: no answer within {timeout} ms",
            5203: "error 5203: the HTTP request failed",
        }.get(err, f"WebRequest error {err}")

    # the broker's clock
    def parse_clock(self) -> bool:
        rule = self.inputs.broker_dst.strip().upper()
        if rule not in ("US", "EU", "NONE"):
            return self._print("InpBrokerDst is US, EU or none", False)
        self.dst = {"NONE": 0, "US": 1, "EU": 2}[rule]
        off = self.inputs.broker_offset.strip().lower()
        self.offset_auto = off == "auto"
        if self.offset_auto:
            return True
        try:
            minutes = int(off)
        except ValueError:
            return self._print("InpBrokerOffset is auto or minutes", False)
        if not -12 * 60 <= minutes <= 14 * 60:
            return self._print("InpBrokerOffset is auto or minutes", False)
        self.winter_offset, self.offset_known = minutes * 60, True
        return True

    def auto_offset(self) -> bool:
        server, gmt = self.terminal.server_time, self.terminal.gmt
        if server == 0 or gmt == 0:
            return False
        now = round((server - gmt) / 900.0) * 900
        winter = now - (3600 if self.is_summer_utc(gmt) else 0)
        if not -12 * 3600 <= winter <= 14 * 3600:
            return False
        if self.offset_known and winter != self.winter_offset:
            self._print(f"the broker's winter offset is now {winter} (was {self.winter_offset})")
        self.winter_offset, self.offset_known = winter, True
        return True

    def broker_to_utc(self, broker: int) -> int:
        if self.dst == 0:
            return broker - self.winter_offset
        year = _year(broker)
        start = summer_start_utc(year, self.dst) + self.winter_offset
        end = summer_end_utc(year, self.dst) + self.winter_offset + 3600
        summer = start <= broker < end
        return broker - self.winter_offset - (3600 if summer else 0)

    def is_summer_utc(self, utc: int) -> bool:
        if self.dst == 0:
            return False
        year = _year(utc)
        return summer_start_utc(year, self.dst) <= utc < summer_end_utc(year, self.dst)

    def parse_buffers(self) -> bool:
        parts = [p.strip() for p in self.inputs.buffers.split(",")]
        for p in parts:
            if not p.isdigit() or int(p) > 511:
                return self._print(f"InpBuffers: '{p}' is not a buffer index", False)
        self.buffers = [int(p) for p in parts]
        self.buffers_json = "[" + ",".join(str(b) for b in self.buffers) + "]"
        return True

    def _print(self, line: str, result: Any = None) -> Any:
        self.log.append("TradeAlertsBridge: " + line)
        return result


def _year(t: int) -> int:
    return datetime.fromtimestamp(t, UTC).year


def _day(year: int, month: int, day: int) -> int:
    return calendar.timegm((year, month, day, 0, 0, 0))


def nth_sunday(year: int, month: int, n: int) -> int:
    first = _day(year, month, 1)
    dow = (datetime.fromtimestamp(first, UTC).weekday() + 1) % 7  # MQL5: 0 = Sunday
    return first + ((7 - dow) % 7 + 7 * (n - 1)) * 86400


def last_sunday(year: int, month: int) -> int:
    last = (_day(year + 1, 1, 1) if month == 12 else _day(year, month + 1, 1)) - 86400
    dow = (datetime.fromtimestamp(last, UTC).weekday() + 1) % 7
    return last - dow * 86400


def summer_start_utc(year: int, dst: int) -> int:
    return nth_sunday(year, 3, 2) + 7 * 3600 if dst == 1 else last_sunday(year, 3) + 3600


def summer_end_utc(year: int, dst: int) -> int:
    return nth_sunday(year, 11, 1) + 6 * 3600 if dst == 1 else last_sunday(year, 10) + 3600


def number(v: float) -> str:
    """The EA's Number(): empties (EMPTY_VALUE, -EMPTY_VALUE, |v| > 1e100, NaN, inf) are null."""
    if not math.isfinite(v) or abs(v) > HUGE_VALUE:
        return "null"
    return f"{v:.15g}"  # StringFormat("%.15g", v)


def json_escape(s: str) -> str:
    """The EA's JsonEscape(): quote, backslash and control characters."""
    out = []
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def json_field(text: str, key: str) -> str:
    """The EA's JsonField(): a string field of the server's error body."""
    at = text.find(f'"{key}"')
    if at < 0:
        return text[:300] if key == "message" else ""
    at = text.find('"', text.find(":", at) + 1)
    if at < 0:
        return ""
    out, i = [], at + 1
    while i < len(text) and text[i] != '"':
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            i += 1
            c = " " if text[i] == "n" else text[i]
        out.append(c)
        i += 1
    return "".join(out)


def retry_after_ms(headers: str) -> int:
    for line in headers.split("\n"):
        low = line.strip().lower()
        if low.startswith("retry-after:"):
            v = low[12:].strip()
            return int(v) * 1000 if v.isdigit() and int(v) > 0 else 0
    return 0
