"""The bridge EA's logic, run as the stand-in in bridgekit (the EA's functions line for line)
against a real server on loopback: batches, the 413 split, refusals, back-off, empties,
escaping, the broker's clock through DST, state reset on re-initialisation, isolation of a
missing symbol, one consistent read. Each test names the EA review item it holds
(issue #23; docs/owner-guide.md has the table)."""

from __future__ import annotations

import http.server
import itertools
import json
import math
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.server.bridgekit import (
    BACKOFF_MAX_MS,
    EA,
    EMPTY_VALUE,
    Inputs,
    Terminal,
    TerminalSeries,
)
from tests.server.serverkit import Running, free_port
from typer.testing import CliRunner

from tradealerts.server.cli import app as server_cli
from tradealerts.server.ingest.store import load_values

NEW_YORK = ZoneInfo("America/New_York")
H = 3600


class Ms:
    """GetTickCount64, moved by the test."""

    def __init__(self) -> None:
        self.t = 10_000_000

    def __call__(self) -> int:
        return self.t

    def advance(self, ms: int) -> None:
        self.t += ms


def token_for(srv: Running) -> str:
    env = {"TRADEALERTS_HOME": str(srv.settings.data_dir),
           "TRADEALERTS_DATABASE_URL": srv.settings.db_url}  # fmt: skip
    result = CliRunner().invoke(server_cli, ["ingest-token", "create", "--name", "ea"], env=env)
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip().splitlines()[0])


def stored(srv: Running, symbol: str = "EURUSD", tf: str = "H1") -> dict[int, dict[int, Any]]:
    with srv.app.state.sessions() as s:
        return load_values(s, lambda a, b: (a, b) == (symbol, tf)).get((symbol, tf), {})


def ny_close_offset(utc: int) -> int:
    """The New-York-close broker's offset at a UTC instant: New York + 7 h (the oracle,
    from the tz database; the EA's rule is written by hand)."""
    off = datetime.fromtimestamp(utc, NEW_YORK).utcoffset()
    assert off is not None
    return int(off.total_seconds()) + 7 * H


def value(utc: int, b: int) -> float:
    """A buffer value that names its bar (a shifted read shows)."""
    return round(1.0 + (utc // H % 100_000) * 1e-5 + b * 0.1, 5)


def broker_series(
    utc_first: int,
    hours: int,
    forex: bool = True,
    offset: Callable[[int], int] = ny_close_offset,
    values: Callable[[int, int], float] = value,
    nbuf: int = 2,
) -> tuple[TerminalSeries, dict[int, int]]:
    """H1 bars as the terminal builds them: each UTC hour stamped with the broker time of
    its moment, one bar per broker time (the autumn's repeated hour lands in the bar of its
    first pass), forex closed from Saturday to Sunday broker time. Also broker -> UTC."""
    first_utc: dict[int, int] = {}
    for k in range(hours):
        u = utc_first + k * H
        b = u + offset(u)
        if forex and datetime.fromtimestamp(b, UTC).weekday() >= 5:
            continue
        first_utc.setdefault(b, u)
    times = sorted(first_utc)
    rows = [[values(first_utc[b], i) for i in range(nbuf)] for b in times]
    return TerminalSeries(times, rows), first_utc


def terminal_at(series: dict[tuple[str, str], TerminalSeries], utc_now: int) -> Terminal:
    return Terminal(series, server_time=utc_now + ny_close_offset(utc_now), gmt=utc_now)


@pytest.fixture
def ms() -> Ms:
    return Ms()


@pytest.fixture
def eas() -> Iterator[list[EA]]:
    made: list[EA] = []
    yield made
    for ea in made:
        ea.close()


def make_ea(eas: list[EA], terminal: Terminal, inputs: Inputs, ms: Ms) -> EA:
    ea = EA(terminal, inputs, ms)
    eas.append(ea)
    return ea


def run(ea: EA, ms: Ms, ticks: int = 1, step_ms: int = 1000) -> None:
    for _ in range(ticks):
        ea.on_timer()
        ms.advance(step_ms)


JAN = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())  # a Monday, winter


def test_history_waits_for_the_terminal_then_goes_in_batches_then_each_new_bar(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    """Review: history sent before the terminal has it, and never split into batches."""
    srv = make_server()
    ser, first_utc = broker_series(JAN - 2 * H, 1700)
    ser.synchronized = False
    term = terminal_at({("EURUSD", "H1"): ser}, first_utc[ser.times[-1]] + 1800)
    inputs = Inputs(srv.url, token_for(srv), timeframes="H1", history_bars=1100)
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"
    run(ea, ms, 3)
    assert ea.sent == [] and term.reads == 0
    assert sum("still loading its history" in line for line in ea.log) == 1  # said once
    ser.synchronized, ser.calculated = True, len(ser.times) - 1
    run(ea, ms, 2)
    assert ea.sent == [] and any("still calculating" in line for line in ea.log)
    ser.calculated = None
    run(ea, ms)
    assert [(s.bars, s.status) for s in ea.sent] == [(500, 200), (500, 200), (100, 200)]
    closed = ser.times[-1101:-1]  # the forming bar is never sent
    got = stored(srv)
    assert sorted(got) == [first_utc[b] for b in closed]
    assert all(got[first_utc[b]] == {0: value(first_utc[b], 0), 1: value(first_utc[b], 1)}
               for b in closed)  # fmt: skip
    # a bar closes: the last InpResendBars closed bars again, the new one last
    new = ser.times[-1] + H
    ser.times.append(new)
    ser.values.append([value(new - 2 * H, 0), value(new - 2 * H, 1)])
    run(ea, ms)
    last = ea.sent[-1]
    assert (last.bars, last.status) == (10, 200)
    assert json.loads(last.body)["bars"][-1]["time"] == first_utc[ser.times[-2]]
    run(ea, ms, 2)
    assert len(ea.sent) == 4  # nothing new: nothing sent


def test_a_413_halves_the_batch_and_the_timeout_follows_the_size(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    """Review: 413 retried forever; a fixed 3 s timeout for a 1.9 MB batch."""
    srv = make_server()

    def long(utc: int, b: int) -> float:  # 16 characters each: 5000 bars x 32 are > 2 MiB
        return 1.0 + ((utc // H * 7919 + b * 104729) % 1_000_003) / 1_000_003 * 0.9

    ser, first_utc = broker_series(JAN, 5300, forex=False, values=long, nbuf=32)
    term = terminal_at({("EURUSD", "H1"): ser}, first_utc[ser.times[-1]] + 1800)
    inputs = Inputs(srv.url, token_for(srv), timeframes="H1", history_bars=5000,
                    batch_bars=5000, buffers=",".join(map(str, range(32))))  # fmt: skip
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"
    run(ea, ms)
    assert [(s.bars, s.status) for s in ea.sent] == [(5000, 413), (2500, 200), (2500, 200)]
    assert len(ea.sent[0].body) > 2 * 1024 * 1024
    assert sum("too large for the server: batches of 2500" in line for line in ea.log) == 1
    assert len(stored(srv)) == 5000
    # the timeout allows the upload at InpUplinkKBps (16 KiB/s): ~90 s for 1.5 MB, not 3 s
    big = ea.sent[1]
    assert big.timeout_ms == 5000 + len(big.body.encode()) * 1000 // (16 * 1024)
    assert big.timeout_ms > 60_000


def test_a_refusal_is_logged_once_and_not_retried_until_the_inputs_change(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    """Review: 422 retried every 60 s forever; one missing symbol fails OnInit for all;
    the global series[] survives a re-initialisation."""
    srv = make_server()
    eur, first_utc = broker_series(JAN, 400)
    nope, _ = broker_series(JAN, 400)
    term = terminal_at({("EURUSD", "H1"): eur, ("NOPE", "H1"): nope},
                       first_utc[eur.times[-1]] + 1800)  # fmt: skip
    inputs = Inputs(srv.url, token_for(srv), symbols="EURUSD, NOPE, GONE", timeframes="H1",
                    history_bars=300)  # fmt: skip
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"  # GONE (not in the terminal) is skipped alone
    assert [line for line in ea.log if "GONE" in line] == [
        "TradeAlertsBridge: GONE skipped: the terminal has no such symbol (error 4301)"
    ]
    run(ea, ms, 10, step_ms=120_000)  # 20 minutes of ticks
    nope_posts = [s for s in ea.sent if s.symbol == "NOPE"]
    assert [s.status for s in nope_posts] == [422]
    refusals = [line for line in ea.log if "refused by the server" in line]
    assert len(refusals) == 1
    assert "NOPE H1 refused by the server (422 unknown_symbol): " in refusals[0]
    assert "NOPE" in refusals[0].split("unknown_symbol): ", 1)[1]  # the server's own message
    assert len(stored(srv)) == 300  # EURUSD went on
    # new inputs: OnInit again, every global reset (the refusal and the old series too)
    sent_before = len(ea.sent)
    assert ea.on_init(Inputs(srv.url, inputs.token, symbols="NOPE", timeframes="H1",
                             history_bars=50)) == "INIT_SUCCEEDED"  # fmt: skip
    assert [(x.symbol, x.tf, x.sent_upto) for x in ea.series] == [("NOPE", "H1", 0)]
    run(ea, ms, 3, step_ms=120_000)
    assert [(s.symbol, s.status) for s in ea.sent[sent_before:]] == [("NOPE", 422)]


class Front:
    """A reverse proxy on loopback in front of the server (what an nginx answers while the
    upstream restarts): ``failing`` answers 503 with Retry-After, else it forwards."""

    def __init__(self, port: int, upstream: str, retry_after: int = 7) -> None:
        self.failing = True
        self.hits = 0
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                front.hits += 1
                if front.failing:
                    out = json.dumps({"error": {"code": "upstream_down",
                                                "message": "restarting"}}).encode()  # fmt: skip
                    self.send_response(503)
                    self.send_header("Retry-After", str(retry_after))
                else:
                    keep = ("authorization", "content-type")
                    head = {k: v for k, v in self.headers.items() if k.lower() in keep}
                    r = httpx.post(upstream + self.path, content=body, headers=head, timeout=30)
                    out = r.content
                    self.send_response(r.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_back_off_on_connection_refused_and_5xx_timed_by_the_tick_count(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    """Review: back-off on TimeLocal() (moves with the PC's clock); WebRequest errors
    5200-5203 not explained; Retry-After ignored."""
    srv = make_server()
    ser, first_utc = broker_series(JAN, 300)
    term = terminal_at({("EURUSD", "H1"): ser}, first_utc[ser.times[-1]] + 1800)
    port = free_port()  # nothing listens: connection refused
    inputs = Inputs(f"http://127.0.0.1:{port}", token_for(srv), timeframes="H1",
                    history_bars=200)  # fmt: skip
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"
    run(ea, ms, 600, step_ms=500)  # 300 s of half-second ticks
    at = [s.at_ms for s in ea.sent]
    assert all(s.error == 5201 for s in ea.sent)
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert gaps[:7] == [1000, 2000, 4000, 8000, 16000, 32000, 60000]
    assert all(g == BACKOFF_MAX_MS for g in gaps[6:])
    explained = [line for line in ea.log if "error 5201: cannot connect" in line]
    assert len(explained) == 1  # the same failure is not logged again
    # the server comes up behind a proxy that answers 503 Retry-After: 7 for a while
    front = Front(port, srv.url)
    try:
        ms.advance(BACKOFF_MAX_MS)
        run(ea, ms, 1)
        assert (ea.sent[-1].status, ea.sent[-1].error) == (503, 0)
        assert ea.series[0].delay == BACKOFF_MAX_MS  # the back-off goes on (capped)
        # a fresh start meets the 503 first: its Retry-After (7 s) wins over the first 1 s
        fresh = make_ea(eas, term, inputs, ms)
        assert fresh.on_init() == "INIT_SUCCEEDED"
        run(fresh, ms, 1, step_ms=0)
        assert fresh.series[0].next_try - fresh.sent[-1].at_ms == 7000
        assert any("the server answered 503 upstream_down: restarting" in x for x in fresh.log)
        front.failing = False
        run(fresh, ms, 15, step_ms=500)
        assert [s.status for s in fresh.sent] == [503, 200]
        assert fresh.sent[1].at_ms - fresh.sent[0].at_ms == 7000
        assert any("sending again after 1 failure(s)" in line for line in fresh.log)
        assert len(stored(srv)) == 200
    finally:
        front.close()


def test_empties_are_null_and_strings_are_escaped(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    """Review: -EMPTY_VALUE and 1e300 went out as 300-digit prices; the symbol was not
    JSON-escaped."""
    terminal_name = 'EU"R\\USD.x'
    srv = make_server(symbol_map={"EURUSD": terminal_name})
    odd = [EMPTY_VALUE, -EMPTY_VALUE, 1e300, -1e101, math.nan, math.inf, -math.inf, 0.0, 1.05912]

    def values(utc: int, b: int) -> float:
        return odd[(utc // H) % len(odd)] if b == 0 else 1.25

    ser, first_utc = broker_series(JAN, 60, values=values)
    term = terminal_at({(terminal_name, "H1"): ser}, first_utc[ser.times[-1]] + 1800)
    inputs = Inputs(srv.url, token_for(srv), symbols=terminal_name, timeframes="H1",
                    history_bars=40)  # fmt: skip
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"
    run(ea, ms)
    assert [s.status for s in ea.sent] == [200], ea.log
    body = ea.sent[0].body
    assert '"symbol":"EU\\"R\\\\USD.x"' in body and '"indicator":"Examples\\\\Fractals"' in body
    assert "e+308" not in body and "e+300" not in body and "inf" not in body.lower()
    assert json.loads(body)["symbol"] == terminal_name
    got = stored(srv)
    assert len(got) == 40
    for u, row in got.items():
        want = odd[(u // H) % len(odd)]
        assert row[1] == 1.25
        if want in (0.0, 1.05912):
            assert row[0] == want
        else:
            assert row[0] is None, (u, want, row)


def test_each_bar_takes_the_offset_of_its_own_time_through_both_switches(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    """Review: one UTC offset applied to all history (bars before the last DST switch an
    hour off). The terminal at UTC+2 -> UTC+3 (March, US dates) -> UTC+2 (November); a
    forex symbol over the weekends and BTCUSD through the repeated autumn hour. H1 only:
    H4/D1 on the broker's grid need the bar clock (branch barclock) at the ingest check."""
    srv = make_server()
    start = int(datetime(2026, 2, 23, tzinfo=UTC).timestamp())
    hours = int((datetime(2026, 11, 20, tzinfo=UTC) - datetime(2026, 2, 23, tzinfo=UTC))
                / timedelta(hours=1))  # fmt: skip
    eur, eur_utc = broker_series(start, hours)
    btc, btc_utc = broker_series(start, hours, forex=False)
    now = btc_utc[btc.times[-1]] + 1800
    term = terminal_at({("EURUSD", "H1"): eur, ("BTCUSD", "H1"): btc}, now)
    inputs = Inputs(srv.url, token_for(srv), symbols="EURUSD,BTCUSD", timeframes="H1",
                    history_bars=10_000, batch_bars=2000)  # fmt: skip
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"
    assert ea.winter_offset == 2 * H  # worked out in November: UTC+2 now, no summer time
    run(ea, ms, 3)
    assert all(s.status == 200 for s in ea.sent), ea.log
    for sym, ser, utc_of in (("EURUSD", eur, eur_utc), ("BTCUSD", btc, btc_utc)):
        got = sorted(stored(srv, sym))
        assert got == [utc_of[b] for b in ser.times[:-1]], sym
        assert len(got) == len(set(got))
    # the forex weekend of the March switch: Friday's last bar 23:00 UTC+2, Monday's first
    # 00:00 UTC+3 (21:00 UTC Sunday)
    eur_times = set(stored(srv, "EURUSD"))
    fri = int(datetime(2026, 3, 6, 21, tzinfo=UTC).timestamp())
    mon = int(datetime(2026, 3, 8, 21, tzinfo=UTC).timestamp())
    assert fri in eur_times and mon in eur_times
    assert not any(fri < t < mon for t in eur_times)
    # November: BTCUSD's repeated broker hour is one bar, at its first pass (05:00 UTC)
    btc_times = set(stored(srv, "BTCUSD"))
    nov = int(datetime(2026, 11, 1, 5, tzinfo=UTC).timestamp())
    assert nov in btc_times and nov + H not in btc_times and nov + 2 * H in btc_times
    # the same history read with the terminal in summer gives the same winter offset
    summer = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
    term.server_time, term.gmt = summer + 3 * H, summer
    assert ea.on_init() == "INIT_SUCCEEDED" and ea.winter_offset == 2 * H


def test_the_eu_rule_matches_the_tz_database() -> None:
    """InpBrokerDst=EU: a broker on EET (UTC+2/UTC+3, EU dates), every hour of two years."""
    athens = ZoneInfo("Europe/Athens")
    ea = EA(Terminal({}), Inputs("http://127.0.0.1:1", "t", broker_offset="120",
                                 broker_dst="EU"), Ms())  # fmt: skip
    try:
        assert ea.parse_clock()
        start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
        seen: set[int] = set()
        for k in range(2 * 365 * 24):
            u = start + k * H
            off = datetime.fromtimestamp(u, athens).utcoffset()
            assert off is not None
            b = u + int(off.total_seconds())
            if b in seen:  # the repeated hour: one bar, its first pass
                continue
            seen.add(b)
            assert ea.broker_to_utc(b) == u, datetime.fromtimestamp(u, UTC)
    finally:
        ea.close()


def test_times_and_buffers_come_from_one_consistent_read(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    """Review: times and buffers copied in separate calls by position (a bar opening in
    between shifts them). Here a bar opens between every two reads of the first batch, and
    a history update lands inside the range once: each value still sits on its own bar."""
    srv = make_server()
    ser, first_utc = broker_series(JAN, 300)
    term = terminal_at({("EURUSD", "H1"): ser}, first_utc[ser.times[-1]] + 1800)
    hidden = ser.times.pop(100), ser.values.pop(100)  # a hole the terminal fills later

    def churn(t: Terminal) -> None:
        if t.reads == 2:  # between the two reads of the times: the history update
            ser.times.insert(100, hidden[0])
            ser.values.insert(100, hidden[1])
        elif t.reads < 12:  # a new bar opens between reads
            nxt = ser.times[-1] + H
            ser.times.append(nxt)
            ser.values.append([value(nxt - 2 * H, 0), value(nxt - 2 * H, 1)])

    term.on_read = churn
    inputs = Inputs(srv.url, token_for(srv), timeframes="H1", history_bars=250)
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"
    run(ea, ms, 5, step_ms=5000)
    assert any("changed while it was read" in line for line in ea.log)
    got = stored(srv)
    assert got and all(row == {0: value(u, 0), 1: value(u, 1)} for u, row in got.items())
    assert hidden[0] - 2 * H in got  # the filled hole was sent, with its own values


def broker_days(first_day: datetime, days: int, step_hours: int) -> TerminalSeries:
    """H4 (step 4) or D1 (step 24) bars of a New-York-close forex broker, opening on its own
    clock's grid (broker midnight), Monday to Friday, the last one forming."""
    times = []
    for d in range(days):
        day = first_day + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        midnight = int(day.timestamp())  # naive broker time read as epoch seconds
        times += [midnight + h * H for h in range(0, 24, step_hours)]
    return TerminalSeries(times, [[value(t, 0), value(t, 1)] for t in times])


def utc_of_broker(b: int) -> int:
    """The oracle: the UTC instant the broker's clock showed as ``b``."""
    return next(u for u in (b - 2 * H, b - 3 * H) if u + ny_close_offset(u) == b)


def test_h4_and_d1_on_the_brokers_grid_through_the_march_switch(
    make_server: Callable[..., Running], eas: list[EA], ms: Ms
) -> None:
    srv = make_server(bar_clock="America/New_York@17:00")
    first = datetime(2026, 2, 23, tzinfo=UTC)
    h4, d1 = broker_days(first, 28, 4), broker_days(first, 28, 24)
    now = utc_of_broker(d1.times[-1]) + 1800
    term = terminal_at({("EURUSD", "H4"): h4, ("EURUSD", "D1"): d1}, now)
    inputs = Inputs(srv.url, token_for(srv), timeframes="H4,D1", history_bars=500)
    ea = make_ea(eas, term, inputs, ms)
    assert ea.on_init() == "INIT_SUCCEEDED"
    run(ea, ms, 2)
    assert ea.sent and all(s.status == 200 for s in ea.sent), ea.log
    for tf, ser in (("H4", h4), ("D1", d1)):
        assert sorted(stored(srv, "EURUSD", tf)) == [utc_of_broker(b) for b in ser.times[:-1]]
    d1_utc = sorted(stored(srv, "EURUSD", "D1"))
    assert datetime.fromtimestamp(d1_utc[0], UTC).hour == 22  # winter: 22:00 UTC
    assert datetime.fromtimestamp(d1_utc[-1], UTC).hour == 21  # after the switch: 21:00
