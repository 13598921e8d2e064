"""The daemon's pure parts: backoff, quiet hours, notices, options, and the state database's
exactly-once rule (an id stored once; last_event_id in the same transaction)."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from tradealerts.daemon.loop import backoff_delay
from tradealerts.daemon.notify import ExecHook, notice_for
from tradealerts.daemon.options import Options, QuietHours, parse_symbols
from tradealerts.daemon.paths import DaemonPaths, server_slug
from tradealerts.daemon.state import DELIVERED, PENDING, StateDB


def test_backoff_is_full_jitter_capped_and_never_below_the_servers_retry() -> None:
    rng = random.Random(7).random
    for attempt in range(12):
        ceiling = min(60.0, 2.0**attempt)
        delays = [backoff_delay(attempt, 1.0, 60.0, 0.0, rng) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # the whole range is used: full jitter
    assert backoff_delay(0, 1.0, 60.0, 3.0, lambda: 0.0) == 3.0  # retry: 3000 honoured
    assert backoff_delay(50, 1.0, 60.0, 3.0, lambda: 1.0) == 60.0
    assert backoff_delay(3, 1.0, 60.0, 90.0, lambda: 0.5) == 60.0  # the cap wins


def test_quiet_hours_across_midnight_and_within_a_day() -> None:
    night = QuietHours.parse("22:00-07:00")
    assert str(night) == "22:00-07:00"
    assert night.contains(datetime(2026, 1, 1, 23, 30))
    assert night.contains(datetime(2026, 1, 1, 6, 59))
    assert not night.contains(datetime(2026, 1, 1, 7, 0))
    assert not night.contains(datetime(2026, 1, 1, 12, 0))
    lunch = QuietHours.parse("12:00-13:30")
    assert lunch.contains(datetime(2026, 1, 1, 13, 29)) and not lunch.contains(
        datetime(2026, 1, 1, 13, 30)
    )
    for bad in ("22-07", "25:00-07:00", "10:00-10:00", "10:61-11:00"):
        with pytest.raises(ValueError, match="quiet hours"):
            QuietHours.parse(bad)


def test_notice_title_body_and_urgency_come_from_the_alert() -> None:
    data = {
        "symbol": "EURUSD",
        "timeframe": "H1",
        "condition": "crossing_up",
        "message": "EURUSD H1 crossed up 1.09000 at 1.09010",
    }
    n = notice_for(data, sound=True)
    assert (n.title, n.body, n.critical, n.sound) == (
        "EURUSD H1",
        "EURUSD H1 crossed up 1.09000 at 1.09010",
        False,
        True,
    )
    broke = notice_for({**data, "condition": "trendline_break"}, sound=False)
    assert broke.critical and not broke.sound
    assert notice_for({**data, "condition": "line_break"}, True).critical
    two = notice_for({**data, "message": "Gold!\nXAUUSD broke 2400"}, True)
    assert (two.title, two.body) == ("Gold!", "XAUUSD broke 2400")


def test_options_round_trip_through_the_command_line_flags() -> None:
    o = Options(
        server="http://h:1",
        notifier="bell",
        sound=False,
        exec_cmd="cat > x",
        quiet_hours=QuietHours.parse("22:00-07:00"),
        symbols=parse_symbols("xauusd, EURUSD"),
    )
    assert o.run_args() == [
        "--notifier",
        "bell",
        "--no-sound",
        "--exec",
        "cat > x",
        "--quiet-hours",
        "22:00-07:00",
        "--symbols",
        "EURUSD,XAUUSD",
    ]
    assert o.wants("eurusd") and not o.wants("BTCUSD")
    assert Options(server="x").wants("ANY")
    with pytest.raises(ValueError, match="notifier"):
        Options(server="x", notifier="pigeon")


def test_one_folder_per_server() -> None:
    assert server_slug("http://127.0.0.1:8000") == "127.0.0.1-8000"
    assert server_slug("https://alerts.example.com") == "https-alerts.example.com"
    a = DaemonPaths.for_server("http://127.0.0.1:8000", Path("/h"))
    b = DaemonPaths.for_server("http://127.0.0.1:8001", Path("/h"))
    assert a.root != b.root and a.state_db.parent == a.root


def test_an_event_is_stored_once_with_the_last_id_in_the_same_transaction(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    assert db.last_event_id() is None
    assert db.receive(5, {"symbol": "EURUSD", "message": "m"})
    assert not db.receive(5, {"symbol": "EURUSD", "message": "again"})  # same id: dropped
    assert not db.receive(4, {"symbol": "EURUSD"})  # older than the last one: dropped
    assert db.last_event_id() == 5
    assert [r.event_id for r in db.with_status(PENDING)] == [5]
    db.mark(5, DELIVERED)
    assert db.with_status(PENDING) == [] and db.recent(1)[0].status == DELIVERED
    db.close()
    # Another connection sees both rows or neither: a failed insert leaves no last id behind.
    raw = sqlite3.connect(tmp_path / "state.db")
    raw.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON alerts WHEN NEW.event_id = 9 "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    raw.commit()
    raw.close()
    db = StateDB(tmp_path / "state.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.receive(9, {"symbol": "EURUSD"})
    assert db.last_event_id() == 5
    db.close()


def test_a_state_db_from_before_the_hook_mark_is_upgraded_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    raw = sqlite3.connect(path)  # the schema of the releases before the hook mark
    raw.executescript(
        "CREATE TABLE alerts (event_id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, "
        "symbol TEXT, status TEXT NOT NULL, delivered_at TEXT, data TEXT NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO alerts VALUES (7, '2026-11-01T00:00:00+00:00', 'EURUSD', 'pending', NULL,"
        ' \'{"symbol": "EURUSD"}\');'
        "INSERT INTO meta VALUES ('last_event_id', '7');"
    )
    raw.close()
    db = StateDB(path)
    [row] = db.with_status(PENDING)
    assert row.event_id == 7 and not row.hook_started  # its hook never started: it will run
    db.hook_started(7)
    assert db.with_status(PENDING)[0].hook_started
    assert db.receive(8, {"symbol": "EURUSD"}) and not db.with_status(PENDING)[1].hook_started
    db.close()


async def test_exec_hook_gets_json_and_variables_and_a_failure_is_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out.txt"
    data = {"id": 3, "symbol": "XAUUSD", "price": 2400.5, "message": "gold", "level": None}
    hook = ExecHook(
        f"cat > '{out}'; echo \"$TRADEALERTS_SYMBOL $TRADEALERTS_EVENT_ID "
        f"$TRADEALERTS_PRICE [$TRADEALERTS_LEVEL]\" >> '{out}'"
    )
    assert await hook.run(data)
    lines = out.read_text().splitlines()
    assert lines[0] == '{"id":3,"level":null,"message":"gold","price":2400.5,"symbol":"XAUUSD"}'
    assert lines[1] == "XAUUSD 3 2400.5 []"
    assert await hook.run({**data, "id": None}, 3)  # the stream's id, whatever the data says
    assert out.read_text().splitlines()[1] == "XAUUSD 3 2400.5 []"
    assert not await ExecHook("echo nope >&2; exit 3").run(data)
    assert "exited 3: nope" in caplog.text
    assert not await ExecHook("sleep 5", timeout=0.2).run(data)
    assert "ran over" in caplog.text
