"""symbols, indicators, watchlist and the failures around them (locked pair, typo, quota),
through the real command against a real server."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import IO
from zoneinfo import ZoneInfo

from tests.cli.conftest import Cli
from tests.faultproxy import FaultProxy
from tests.server.serverkit import set_tier

from tradealerts.core.symbols import format_price


def test_symbols_marks_locked_pairs(user: Cli) -> None:
    data = user.json("symbols")
    assert data["tier"] == "FREE"
    by = {s["symbol"]: s for s in data["symbols"]}
    allowed = [s for s in data["symbols"] if s["allowed"]]
    locked = [s for s in data["symbols"] if not s["allowed"]]
    assert allowed and locked
    table = user.ok("symbols")
    for s in data["symbols"]:
        line = next(ln for ln in table.splitlines() if f" {s['symbol']} " in ln)
        if s["allowed"]:
            ok_tfs = [p["timeframe"] for p in s["timeframes"] if p["allowed"]]
            assert " ".join(ok_tfs) in line
        else:
            need = {p["required_tier"] for p in s["timeframes"]}
            assert "locked" in line and "/".join(sorted(need)) in line
    assert by["GBPUSD"]["allowed"] is False


def test_indicators_json_and_table(user: Cli) -> None:
    payload = user.json("indicators", "eurusd", "h1", "--bars", "50")
    assert payload["symbol"] == "EURUSD" and payload["timeframe"] == "H1"
    assert len(payload["bars"]["close"]) == 50
    table = user.ok("indicators", "EURUSD", "H1", "--bars", "50", "--all")
    assert "EURUSD H1" in table and "50 bars" in table
    for ln in payload["horizontal_lines"]:
        assert ln["id"] in table and format_price("EURUSD", ln["price"]) in table


def test_indicators_in_80_columns_keep_each_time_on_its_line(user: Cli) -> None:
    payload = user.json("indicators", "EURUSD", "H1", "--bars", "300")
    out = user.ok("indicators", "EURUSD", "H1", "--all", COLUMNS="80", LINES="24")
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    assert not re.search(r"│\s*UTC\s*│", out), out  # no "UTC" wrapped onto a line of its own
    rows = [line for line in out.splitlines() if line.startswith("│")]
    for ln in payload["horizontal_lines"] + payload["diagonal_lines"]:
        # a line's id whole on one row (people copy it into --line-id)
        assert any(f" {ln['id']} " in row for row in rows), (ln["id"], out)
    for ln in payload["horizontal_lines"]:
        at = datetime.fromtimestamp(ln["confirmed_time"], UTC)
        row = next(r for r in rows if f" {ln['id']} " in r)
        assert at.strftime("%Y-%m-%d") in row and at.strftime("%H:%M") in out, (ln, row)


def test_a_locked_pair_exits_4_naming_the_tier(user: Cli) -> None:
    r = user.run("indicators", "GBPUSD", "H1")
    assert r.returncode == 4, r.stderr
    assert "PRO" in r.stderr and "GBPUSD" in r.stderr and not r.stdout
    r = user.run("charts", "EURUSD", "M5")
    assert r.returncode == 4 and "PRO" in r.stderr


def test_typos_are_usage_errors(user: Cli) -> None:
    r = user.run("indicators", "EURUSX", "H1")
    assert r.returncode == 2 and "Unknown symbol" in r.stderr
    r = user.run("charts", "EURUSD", "H3")
    assert r.returncode == 2 and "M5, M15" in r.stderr
    r = user.run("indicators")
    assert r.returncode == 2 and "Missing argument" in r.stderr


def test_quota_exhausted_exits_5_with_the_wait(user: Cli) -> None:
    user.ok("settings", "set", "timezone", "Asia/Tokyo")  # UTC+9, no daylight saving
    with user.server.client(user.tokens["access_token"]) as c:
        limit = int(c.get("/api/symbols").headers["x-ratelimit-limit"])
        for _ in range(limit - 1):
            assert c.get("/api/symbols").status_code == 200
    r = user.run("symbols")
    assert r.returncode == 5, r.stderr
    assert f"{limit} requests" in r.stderr and "try again in" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    # the wait as a clock time too, on the user's own clock (their timezone preference)
    wait = int(re.search(r"try again in (\d+) s", r.stderr).group(1))  # type: ignore[union-attr]
    frees = datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(seconds=wait)
    shown = re.search(r"It frees at (?:\S+ )?(\d\d):(\d\d) Asia/Tokyo\.", r.stderr)
    assert shown, r.stderr
    minutes = int(shown.group(1)) * 60 + int(shown.group(2))
    assert (frees.hour * 60 + frees.minute - minutes) % 1440 <= 1, (frees, r.stderr)
    # whoami is an account command: it works with the quota spent, and tells the quota
    r = user.run("whoami")
    assert r.returncode == 0, r.stderr
    assert f"0 of {limit}" in r.stdout and "Asia/Tokyo" in r.stdout, r.stdout
    quota = user.json("whoami")["quota"]
    assert quota["limit"] == limit and quota["remaining"] == 0


def test_watchlist_add_list_remove(user: Cli) -> None:
    assert user.json("watchlist", "list") == []
    assert "Added EURUSD H4" in user.ok("watchlist", "add", "eurusd", "h4")
    user.ok("watchlist", "add", "XAUUSD", "H1")
    items = user.json("watchlist", "list")
    assert [(i["symbol"], i["timeframe"]) for i in items] == [("EURUSD", "H4"), ("XAUUSD", "H1")]
    table = user.ok("watchlist", "list")
    assert "XAUUSD" in table and str(items[1]["id"]) in table
    r = user.run("watchlist", "add", "EURUSD", "H4")
    assert r.returncode == 1 and "already" in r.stderr
    r = user.run("watchlist", "add", "GBPUSD", "H1")
    assert r.returncode == 4 and "PRO" in r.stderr
    user.ok("watchlist", "remove", str(items[0]["id"]))
    user.ok("watchlist", "remove", "xauusd", "h1")
    assert user.json("watchlist", "list") == []
    r = user.run("watchlist", "remove", "999999")
    assert r.returncode == 1 and "no watchlist item" in r.stderr
    r = user.run("watchlist", "remove", "EURUSD", "H4")  # not found by name: the same exit 1
    assert r.returncode == 1 and "EURUSD H4 is not on your watchlist" in r.stderr


def test_pro_user_sees_every_pair(user: Cli) -> None:
    set_tier(user.server, user.email, "PRO")
    data = user.json("symbols")
    assert data["tier"] == "PRO" and all(s["allowed"] for s in data["symbols"])
    assert user.json("whoami")["tier"] == "PRO"
    assert user.json("indicators", "GBPUSD", "M5", "--bars", "5")["symbol"] == "GBPUSD"


def test_charts_watch_redraws_live_and_stops_on_ctrl_c(user: Cli) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradealerts", "charts", "EURUSD", "H1", "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=user.env(COLUMNS="100", LINES="30"),
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        frames, deadline = 0, time.monotonic() + 60
        while frames < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            frames += "EURUSD H1 ·" in line
        assert frames >= 3  # the first draw, then redraws on live events
        os.killpg(proc.pid, signal.SIGINT)
        out, errs = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, errs
    assert "Stopped." in out and "Traceback" not in errs


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _wait_for(q: queue.Queue[str], text: str, count: int = 1, timeout: float = 60) -> list[str]:
    """Lines from ``q`` until ``count`` of them hold ``text``; those lines."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        try:
            line = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"{text!r} seen {len(seen)} of {count} times") from None
        if text in line:
            seen.append(line)
    return seen


def test_charts_watch_reconnects_after_the_server_goes_away(user: Cli) -> None:
    """The connection drops after the watch was live (the proxy in front of the server dies,
    taking every connection with it; a later attempt is refused); once it is back, the watch
    goes on drawing, and Ctrl-C still quits cleanly."""
    port = user.server.settings.port
    proxy = FaultProxy(port).start()
    env = user.env(COLUMNS="100", LINES="30", TRADEALERTS_SERVER=proxy.url)
    user.ok("login", "--email", user.email, "--password-stdin", input=user.password + "\n",
            TRADEALERTS_SERVER=proxy.url)  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradealerts", "charts", "EURUSD", "H1", "--watch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None and proc.stderr is not None
    for stream, q in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=_lines, args=(stream, q), daemon=True).start()
    try:
        _wait_for(out, "EURUSD H1 ·", 3)  # live: the first draw and redraws
        proxy.close()  # the server is gone, mid-stream
        first = _wait_for(err, "reconnecting in")[0]
        assert re.search(r"reconnecting in \d+ s \(Ctrl-C quits\)", first), first
        _wait_for(err, "reconnecting in")  # the next attempt was refused: still trying
        proxy = FaultProxy(port, port=int(proxy.url.rsplit(":", 1)[1])).start()
        while not out.empty():
            out.get()
        _wait_for(out, "EURUSD H1 ·", 3)  # back: drawn again, and live again
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.close()
    assert proc.returncode == 0
    rest = []
    while not err.empty():
        rest.append(err.get())
    assert "Traceback" not in "".join(rest) and "Error" not in "".join(rest)
