"""The owner's MT5 indicator lines end to end (issue #16): a stand-in bridge posts the
replay data's fractals with the owner's window (1; ours is 2) over the real API, subscribers
get the owner's lines from /api/indicators, alerts on them fire in the replay, and
``lines compare`` reports the differences the two windows make."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from tests.server.bridgekit import OWNER_WINDOW, StandInBridge, fractal_buffers, read_bars
from tests.server.replaykit import logged_ids, wait_replay_done
from tests.server.serverkit import DATA, Running, register_and_login, wait_until
from typer.testing import CliRunner

from tradealerts.core.indicators import diagonal_lines, horizontal_lines
from tradealerts.core.line_ids import diagonal_line_id, horizontal_line_id
from tradealerts.server.cli import app as server_cli
from tradealerts.server.db.models import Event

CSV = DATA / "eurusd_h1.csv"
HISTORY = 1000  # bars the feed loads; the other 200 of the file are streamed
WINDOW = 300
OWNER = {
    "lines_source": "computed,EURUSD:H1=mt5",  # per series: only EURUSD H1 is the owner's
    "buffer_map": {"up_fractal": 0, "down_fractal": 1, "confirm_bars": OWNER_WINDOW},
}


def cli(home: Path, db_url: str, *args: str) -> Any:
    """``tradealerts-server`` in-process, on the test's database."""
    env = {
        "TRADEALERTS_HOME": str(home),
        "TRADEALERTS_DATABASE_URL": db_url,
        "TRADEALERTS_FEED": f"replay:{CSV}",
        "TRADEALERTS_HISTORY_BARS": str(HISTORY),
        "TRADEALERTS_BUFFER_MAP": json.dumps(OWNER["buffer_map"]),
        "TERMINAL_WIDTH": "3000",
        "COLUMNS": "3000",
    }
    return CliRunner().invoke(server_cli, list(args), env=env)


def ingest_token(home: Path, db_url: str) -> str:
    result = cli(home, db_url, "ingest-token", "create")
    assert result.exit_code == 0, result.output
    token = str(result.stdout.strip().splitlines()[0])
    assert token.startswith("tai_")
    return token


def listed(n: int, upto: int) -> tuple[dict[str, float], set[str]]:
    """The lines /api/indicators lists for the last WINDOW of ``upto`` bars, by our batch
    functions with fractal window ``n``: horizontal id -> price, and trendline ids."""
    b = read_bars(CSV)
    t = b["time"][:upto]
    h, lo, c = b["high"][:upto], b["low"][:upto], b["close"][:upto]
    start = upto - WINDOW
    hz = {
        horizontal_line_id(ln.kind, int(t[ln.origin])): ln.price
        for ln in horizontal_lines(h, lo, c, n)
        if ln.broken is None or ln.broken >= start
    }
    dg = {
        diagonal_line_id(d.kind, int(t[d.i1]), int(t[d.i2]))
        for d in diagonal_lines(h, lo, c, n)
        if d.broken is None or d.broken >= start
    }
    return hz, dg


def test_subscribers_get_the_owners_lines_and_alerts_on_them_fire(
    make_server: Callable[..., Running], tmp_path: Path, db_url: str
) -> None:
    bars = read_bars(CSV)
    times = [int(x) for x in bars["time"]]
    rows = fractal_buffers(bars)
    # server A: the history loaded, the replay too slow to close a bar during the test
    a = make_server(feed=f"replay:{CSV}", replay_speed=0.0001, history_bars=HISTORY, **OWNER)
    health = httpx.get(f"{a.url}/api/system/health", timeout=30).json()
    assert health["lines"]["series"]["EURUSD:H1"]["last_sent"] is None
    token = ingest_token(a.settings.data_dir, db_url)
    user = register_and_login(a, "sub@example.com")
    c = a.client(user["access_token"])
    before = c.get(f"/api/indicators/EURUSD/H1?bars={WINDOW}")
    assert before.json()["horizontal_lines"] == []  # nothing from the bridge yet
    bridge = StandInBridge(a.url, token)
    bridge.start(times[:HISTORY], rows[:HISTORY])  # OnInit: the last N closed bars
    for i in range(HISTORY, len(times)):  # then each bar the terminal closes, with look-back
        got = bridge.closed(times, rows, i)
        assert got["stored"] + got["unchanged"] == 10
    bridge.close()

    got = c.get(f"/api/indicators/EURUSD/H1?bars={WINDOW}")
    assert got.headers["etag"] != before.headers["etag"]  # the redraw is a new version
    same = c.get(f"/api/indicators/EURUSD/H1?bars={WINDOW}",
                 headers={"If-None-Match": got.headers["etag"]})  # fmt: skip
    assert same.status_code == 304
    body = got.json()
    owner_h, owner_d = listed(OWNER_WINDOW, HISTORY)
    ours_h, ours_d = listed(2, HISTORY)
    assert owner_h != ours_h and owner_d != ours_d  # the windows really differ
    assert {ln["id"]: ln["price"] for ln in body["horizontal_lines"]} == owner_h
    assert {ln["id"] for ln in body["diagonal_lines"]} == owner_d
    # another series keeps our computed lines
    h4 = c.get("/api/indicators/EURUSD/H4?bars=50").json()
    assert h4["horizontal_lines"]
    lines = httpx.get(f"{a.url}/api/system/health", timeout=30).json()["lines"]["series"]
    assert lines["EURUSD:H1"]["source"] == "mt5" and lines["EURUSD:H1"]["last_sent"]
    assert lines["EURUSD:H1"]["bars"] == len(times)

    # an owner's line (not one of ours) that is active now and broken in the streamed bars
    full_h = horizontal_lines(bars["high"], bars["low"], bars["close"], OWNER_WINDOW)
    target = next(
        ln
        for ln in full_h
        if ln.broken is not None
        and ln.broken >= HISTORY
        and ln.confirmed < HISTORY
        and horizontal_line_id(ln.kind, times[ln.origin]) not in ours_h
    )
    target_id = horizontal_line_id(target.kind, times[target.origin])
    last_close = body["bars"]["close"][-1]
    touch = min(
        (ln for ln in body["horizontal_lines"] if ln["id"] not in ours_h and
         ln["broken_time"] is None and ln["id"] != target_id),
        key=lambda ln: abs(ln["price"] - last_close),
    )  # fmt: skip
    r = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1",
                                    "condition": "line_break", "line_id": target_id})  # fmt: skip
    assert r.status_code == 201, r.text
    brk = r.json()["id"]
    r = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1", "distance": 0.003,
                                    "condition": "line_touch", "line_id": touch["id"]})  # fmt: skip
    assert r.status_code == 201, r.text
    tch = r.json()["id"]
    # one of our active trendlines, which the owner does not draw: gone on this series
    h, lo, cl = (bars[k][:HISTORY] for k in ("high", "low", "close"))
    ours_only = next(
        i
        for d in diagonal_lines(h, lo, cl, 2)
        if d.broken is None
        and (i := diagonal_line_id(d.kind, times[d.i1], times[d.i2])) not in owner_d
    )
    r = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1", "line_id": ours_only,
                                    "condition": "trendline_break"})  # fmt: skip
    # refused at creation (issue #24): the series serves the owner's lines, not ours
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "line_not_active", r.text
    named = re.findall(r"\b(d[rs]-\d+-\d+) at ", r.json()["error"]["message"])
    assert named and set(named) <= owner_d, r.text
    a.stop()

    # server B, same database: the owner's values come back from it; the replay streams
    b = make_server(feed=f"replay:{CSV}", replay_speed=0, history_bars=HISTORY, **OWNER)
    wait_replay_done(b)
    assert logged_ids(b, "sub@example.com")
    with b.app.state.sessions() as s:
        events = {e.alert_id: e for e in s.scalars(select(Event).order_by(Event.id))}
    fired = events[brk]
    assert fired.condition == "line_break"
    assert fired.level == target.price
    assert int(fired.time.timestamp()) == times[target.broken] + 3600  # at that bar's close
    touched = events[tch]
    assert touched.level == touch["price"]
    assert abs(touched.price - touch["price"]) <= 0.003 + 1e-9


def test_lines_compare_reports_the_known_differences(
    make_server: Callable[..., Running], tmp_path: Path, db_url: str
) -> None:
    bars = read_bars(CSV)
    times = [int(x) for x in bars["time"]]
    srv = make_server(feed=f"replay:{CSV}", replay_speed=0.0001, history_bars=HISTORY, **OWNER)
    home = srv.settings.data_dir
    bridge = StandInBridge(srv.url, ingest_token(home, db_url))
    bridge.start(times[:HISTORY], fractal_buffers(bars)[:HISTORY])
    bridge.close()
    srv.stop()
    result = cli(home, db_url, "lines", "compare", "EURUSD", "H1", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    owner_h, owner_d = listed(OWNER_WINDOW, HISTORY)
    ours_h, ours_d = listed(2, HISTORY)
    by = {s: {d["id"] for d in got["differences"] if d["status"] == s} for s in
          ("missing", "extra", "moved")}  # fmt: skip
    assert by["missing"] == (ours_h.keys() - owner_h.keys()) | (ours_d - owner_d)
    assert by["extra"] == (owner_h.keys() - ours_h.keys()) | (owner_d - ours_d)
    assert by["extra"] and by["missing"]
    assert by["moved"] == set()  # a common fractal is the same bar's high or low
    assert got["lines"]["owner"] == {"horizontal": len(owner_h), "diagonal": len(owner_d)}
    table = cli(home, db_url, "lines", "compare", "EURUSD", "H1")
    assert table.exit_code == 0, table.output
    assert f"missing {len(by['missing'])} · extra {len(by['extra'])} · moved 0" in table.stdout
    assert next(iter(sorted(by["extra"]))) in table.stdout
    # times as dates, not raw epochs; an unbroken line says so with a dash, not "None"
    assert "None" not in table.stdout and not re.search(r"(?<![-\w])1[6-9]\d{8}\b", table.stdout)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", table.stdout)
    # on a feed that holds none of the bridge's bars (serve had --feed, the compare not)
    # every line would be "missing": it says why instead
    other = cli(home, db_url, "lines", "compare", "EURUSD", "H1", "--feed", "synthetic")
    assert other.exit_code == 1, other.output
    assert "none of the bridge's 1000 EURUSD H1 bars" in other.output, other.output
    assert "feed synthetic" in other.output and "--feed" in other.output


def test_health_waits_for_the_bridge(
    make_server: Callable[..., Running], tmp_path: Path, db_url: str
) -> None:
    """503 ``waiting`` until the bridge sends any of the owner's series; then in service,
    the series it has not sent listed as waiting."""
    two = {**OWNER, "lines_source": "computed,EURUSD:H1=mt5,EURUSD:H4=mt5"}
    srv = make_server(feed=f"replay:{CSV}", replay_speed=0.0001, history_bars=HISTORY, **two)
    home = srv.settings.data_dir
    health = f"{srv.url}/api/system/health"
    wait_until(lambda: httpx.get(health, timeout=30).status_code == 503)
    lines = httpx.get(health, timeout=30).json()["lines"]
    assert lines["status"] == "waiting" and lines["waiting"] == ["EURUSD:H1", "EURUSD:H4"]
    bars = read_bars(CSV)
    bridge = StandInBridge(srv.url, ingest_token(home, db_url))  # H1 only
    bridge.start([int(t) for t in bars["time"][:HISTORY]], fractal_buffers(bars)[:HISTORY])
    bridge.close()
    wait_until(lambda: httpx.get(health, timeout=30).status_code == 200)
    lines = httpx.get(health, timeout=30).json()["lines"]
    assert lines["status"] == "ok" and lines["waiting"] == ["EURUSD:H4"]
    assert lines["series"]["EURUSD:H4"]["waiting"] is True
    assert lines["series"]["EURUSD:H1"]["waiting"] is False
    assert lines["series"]["EURUSD:H1"]["last_sent"] is not None
