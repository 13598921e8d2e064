"""Issue #26 on the command line, against a real server replaying the real EURUSD H1 bars of
tests/data: ``alerts test`` of a new alert and of a stored one by id (the table in the
user's timezone, the count, first and last, the verdict words, the intra-bar note, --json as
the server gives it, --chart's markers), a line alert by its id, and ``alerts apply --test``
over a file of 20 alerts (one request, nothing applied). Errors are one line and an exit
code, never a traceback; 80 columns read whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.cli.conftest import Cli, make_home, serve_finished
from tests.server.serverkit import Running, register_and_login

ZONE = "Asia/Tokyo"  # UTC+9, no daylight saving: a time shown in UTC would not match


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    """The replay of tests/data/eurusd_h1.csv played to its end: every bar held, no live
    price (the same answer each time)."""
    yield from serve_finished(module_tmp)


@pytest.fixture(scope="module")
def trader(server: Running, module_tmp: Path) -> Cli:
    """One logged-in FREE user for the module, on Tokyo's clock (the tests read only what
    they make themselves, and signing up each time cost seconds a test)."""
    root = module_tmp / "trader"
    make_home(root)
    person = Cli(server, root, "trader-backtest@example.com")
    person.tokens = register_and_login(server, person.email, person.password)
    person.login()
    person.ok("settings", "set", "timezone", ZONE)
    return person


@pytest.fixture
def zoned(trader: Cli) -> Cli:
    return trader


@pytest.fixture
def user(trader: Cli) -> Cli:
    return trader


def tokyo(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M")


def test_a_new_alert_and_the_same_alert_stored_by_id(zoned: Cli) -> None:
    args = ("EURUSD", "H1", "crossing", "1.035", "--frequency", "once_per_bar", "--bars", "600")
    got = zoned.json("alerts", "test", *args)
    assert got["bars"] == 600 and got["symbol"] == "EURUSD" and got["intrabar"] == "ohlc_path"
    assert got["count"] == len(got["fires"]) > 0 and got["verdict"] in ("ok", "chatty")
    shown = zoned.ok("alerts", "test", *args)
    assert f"Fires: {got['count']}" in shown
    # the bar times on the user's clock, the first and the last named
    assert f"Bar ({ZONE})" in shown or ZONE in shown
    assert f"First: {tokyo(got['first'])}" in shown and f"Last:  {tokyo(got['last'])}" in shown
    assert tokyo(got["fires"][-1]["bar_time"]) in shown
    assert f"Verdict: {got['verdict']}" in shown
    assert "Note: Intra-bar conditions ran on each bar's OHLC path" in shown
    # stored, then tested as it is: the same fires
    made = zoned.json("alerts", "create", *args[:-2])
    again = zoned.json("alerts", "test", str(made["id"]), "--bars", "600")
    assert [f["bar_time"] for f in again["fires"]] == [f["bar_time"] for f in got["fires"]]
    r = zoned.run("alerts", "test", str(made["id"]), "--frequency", "once_per_bar")
    assert r.returncode == 2 and "as it is" in r.stderr and "Traceback" not in r.stderr


def _summary_in_utc(result: dict[str, Any]) -> str:
    """The summary lines ``alerts test --utc`` prints under the table of ``result``."""
    from tradealerts.cli.alerts.backtest import summary
    from tradealerts.cli.context import STATE

    was, STATE.utc = STATE.utc, True
    try:
        return "\n".join(summary(result))
    finally:
        STATE.utc = was


def test_dormant_and_the_bar_close_verdicts(user: Cli) -> None:
    once = user.json("alerts", "test", "EURUSD", "H1", "greater_than", "0.5")
    assert once["count"] == 1 and once["ended"]["status"] == "triggered"
    shown = user.ok("alerts", "test", "EURUSD", "H1", "greater_than", "0.5")
    assert "Stopped: triggered" in shown  # frequency once: it would have stopped there
    far = user.ok("alerts", "test", "EURUSD", "H1", "crossing_up", "9")
    assert "Fires: 0" in far and "Verdict: dormant" in far and "First:" not in far
    chatty = user.json("alerts", "test", "EURUSD", "H1", "greater_than", "0.5",
                       "--frequency", "once_per_bar", "--bars", "200")  # fmt: skip
    assert chatty["verdict"] == "chatty" and chatty["per_day"] > 10
    assert chatty["capped"] is False and "Capped" not in _summary_in_utc(chatty)
    # an answer the server capped (an alert's replay stops at its 5,000th fire: more than
    # this file's bars can make) says where it stopped, on the user's clock
    said = _summary_in_utc({**chatty, "capped": True})
    last = chatty["last"].replace("T", " ")[:16]
    assert f"Capped: the replay stopped at fire {chatty['count']}, {last} UTC;" in said
    assert "Verdict: chatty" in user.ok(
        "alerts",
        "test",
        "EURUSD",
        "H1",
        "greater_than",
        "0.5",
        "--frequency",
        "once_per_bar",
        "--bars",
        "200",
    )


def test_a_line_alert_by_its_id_with_the_chart(user: Cli) -> None:
    payload = user.json("indicators", "EURUSD", "H1", "--bars", "1000")
    broken = [ln for ln in payload["horizontal_lines"] if ln.get("broken_time")]
    assert broken, "the replay's lines: at least one broken by now"
    line = broken[-1]
    side = line["kind"]
    got = user.json("alerts", "test", "EURUSD", "H1", "line_break", side, line["id"],
                    "--bars", "1000")  # fmt: skip
    assert got["count"] >= 1 and got["intrabar"] == "bar_close"
    assert {f["line_id"] for f in got["fires"]} == {line["id"]}
    confirmed = line["confirmed_time"]
    first = datetime.fromisoformat(got["fires"][0]["bar_time"].replace("Z", "+00:00"))
    assert first.timestamp() >= confirmed  # never before the line existed
    out = user.ok("alerts", "test", "EURUSD", "H1", "line_break", side, line["id"],
                  "--bars", "1000", "--chart", COLUMNS="100", LINES="30")  # fmt: skip
    assert line["id"] in out  # the reason names the line
    chart = out.split("Verdict:")[1].split("◆ marks a fire")[0]  # the chart, not its key
    assert "◆" in chart, "a marker on the chart"
    assert f"marks a fire: {got['count']} of {got['count']} on the" in out


def test_apply_test_on_a_file_of_20_alerts_applies_nothing(user: Cli, tmp_path: Path) -> None:
    entries: list[dict[str, Any]] = []
    for i in range(18):
        entries.append({"name": f"cross-{i}", "symbol": "EURUSD", "timeframe": "H1",
                        "condition": "crossing", "level": round(1.02 + i * 0.0015, 4),
                        "frequency": "once_per_bar"})  # fmt: skip
    entries.append({"name": "never", "symbol": "EURUSD", "timeframe": "H1",
                    "condition": "crossing_up", "level": 9.0})  # fmt: skip
    entries.append({"name": "always", "symbol": "EURUSD", "timeframe": "H1",
                    "condition": "greater_than", "level": 0.5,
                    "frequency": "once_per_bar"})  # fmt: skip
    file = tmp_path / "alerts.json"
    file.write_text(json.dumps({"alert": entries}))
    before = user.json("alerts", "list")["items"]
    got = user.json("alerts", "apply", str(file), "--test", "--bars", "300")
    assert [r["index"] for r in got["results"]] == list(range(20))
    by = {entries[r["index"]]["name"]: r for r in got["results"]}
    assert by["never"]["verdict"] == "dormant" and by["always"]["verdict"] == "chatty"
    assert all(r["bars"] == 300 for r in got["results"])
    shown = user.ok("alerts", "apply", str(file), "--test", "--bars", "300")
    assert "Alerts tested: 20; dormant (no fire): 1;" in shown and "Nothing was applied" in shown
    assert "cross-17" in shown and "Note: Intra-bar" in shown
    assert user.json("alerts", "list")["items"] == before  # nothing applied


def test_errors_are_one_line_and_an_exit_code(user: Cli) -> None:
    r = user.run("alerts", "test", "999999")
    assert r.returncode == 1 and r.stderr.startswith("Error:") and "Traceback" not in r.stderr
    r = user.run("alerts", "test", "EURUSD", "H1", "crossing", "1.05", "--bars", "5")
    assert r.returncode == 2 and "--bars" in r.stderr
    r = user.run("alerts", "test", "EURUSD", "H1")
    assert r.returncode == 2 and "Which alert?" in r.stderr
    r = user.run("alerts", "test", "EURUSD", "H1", "crossing")
    assert r.returncode == 2 and "tradealerts alerts test EURUSD H1 crossing LEVEL" in r.stderr
    r = user.run("alerts", "apply", "missing.toml", "--test")
    assert r.returncode == 2 and "missing.toml" in r.stderr
    r = user.run("alerts", "test", "GBPUSD", "H1", "crossing", "1.25")  # PRO's pair, on FREE
    assert r.returncode == 4 and "PRO" in r.stderr and "Traceback" not in r.stderr


def test_80_columns_read_whole(zoned: Cli, tmp_path: Path) -> None:
    out = zoned.ok("alerts", "test", "EURUSD", "H1", "crossing", "1.035", "--frequency",
                   "once_per_bar", "--bars", "300", COLUMNS="80")  # fmt: skip
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Verdict:" in out and "crossing" in out
    file = tmp_path / "a.toml"
    file.write_text(
        '[[alert]]\nname = "eurusd-cross"\nsymbol = "EURUSD"\ntimeframe = "H1"\n'
        'condition = "crossing"\nlevel = 1.035\nfrequency = "once_per_bar"\n'
    )
    out = zoned.ok("alerts", "apply", str(file), "--test", COLUMNS="80")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "eurusd-cross" in out
