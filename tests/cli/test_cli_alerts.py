"""alerts: what the command refuses before sending anything (exit 2, one line), and the
create/list/pause/resume/delete/history round trip against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, _serve
from tests.server.serverkit import Running


def test_a_mistyped_condition_gets_did_you_mean(person: Cli) -> None:
    r = person.run("alerts", "create", "EURUSD", "H1", "crosing_up", "1.09")
    assert r.returncode == 2 and "Did you mean crossing_up" in r.stderr
    assert r.stderr.count("\n") == 1 and not r.stdout


def test_a_bad_side_lists_the_conditions_own_choices(person: Cli) -> None:
    r = person.run("alerts", "create", "EURUSD", "H1", "new_fractal", "sideways")
    assert r.returncode == 2
    assert r.stderr == "Error: side: new_fractal takes up, down or either, got 'sideways'\n"
    r = person.run("alerts", "create", "EURUSD", "H1", "line_break", "--side", "up")
    assert r.returncode == 2
    assert "line_break takes either, support or resistance, got 'up'" in r.stderr
    r = person.run("alerts", "create", "EURUSD", "H1", "crossing", "1.09", "--name", "a b")
    assert r.returncode == 2 and "letters, digits and . _ - :" in r.stderr


def test_values_map_to_the_condition(person: Cli) -> None:
    r = person.run("alerts", "create", "EURUSD", "H1", "crossing_up", "1.09", "1.10")
    assert r.returncode == 2 and "crossing_up takes LEVEL" in r.stderr
    r = person.run("alerts", "create", "EURUSD", "H1", "entering_channel", "1.08")
    assert r.returncode == 2 and "entering_channel needs LOWER UPPER" in r.stderr
    r = person.run("alerts", "create", "eurusd", "h1", "crossing_up")
    assert r.returncode == 2 and "EURUSD H1 crossing_up LEVEL" in r.stderr
    r = person.run("alerts", "create", "EURUSD", "H1", "moving_up", "0.005", "0")
    assert r.returncode == 2 and "bars" in r.stderr
    r = person.run("alerts", "create", "EURUSD", "H1", "entering_channel", "1.09", "1.08")
    assert r.returncode == 2 and ("lower" in r.stderr or "upper" in r.stderr)


def test_expiry_frequency_and_webhook_are_checked_first(person: Cli) -> None:
    base = ("alerts", "create", "eurusd", "h1", "crossing_up", "1.09")
    r = person.run(*base, "--expires", "soon")
    assert r.returncode == 2 and "--expires" in r.stderr and "7d" in r.stderr
    r = person.run(*base, "--expires", "2020-01-01")
    assert r.returncode == 2 and "in the past" in r.stderr
    r = person.run(*base, "--frequency", "always")
    assert r.returncode == 2 and "frequency" in r.stderr
    r = person.run(*base, "--webhook", "http://example.com/hook")
    assert r.returncode == 2 and "https" in r.stderr
    r = person.run(*base, "--webhook-format", "discord")  # a format with no webhook to shape
    assert r.returncode == 2 and "--webhook https://" in r.stderr
    r = person.run("alerts", "create", "EURUSX", "H1", "crossing_up", "1.09")
    assert r.returncode == 2 and "Unknown symbol" in r.stderr


def test_a_negative_number_is_a_value_not_an_option(person: Cli) -> None:
    for values in (["-1"], ["-0.5"], ["--", "-1"]):  # read as LEVEL, then checked as one
        r = person.run("alerts", "create", "EURUSD", "H1", "crossing", *values)
        assert r.returncode == 2, (values, r.stderr)
        assert "No such option" not in r.stderr and "level: must be greater than 0" in r.stderr
    r = person.run("alerts", "create", "EURUSD", "H1", "moving_up", "-0.005", "10")
    assert r.returncode == 2 and "amount: must be greater than 0, got -0.005" in r.stderr
    r = person.run("alerts", "show", "-3")
    assert r.returncode == 2 and "No such option" not in r.stderr and "1" in r.stderr
    r = person.run("alerts", "create", "EURUSD", "H1", "crossing", "1.09", "--expirs", "7d")
    assert r.returncode == 2 and "No such option: --expirs" in r.stderr  # options stay options


def test_history_bounds_name_their_own_option(person: Cli) -> None:
    for option in ("--since", "--until"):
        r = person.run("alerts", "history", option, "notadate")
        assert r.returncode == 2, (option, r.stdout, r.stderr)
        assert r.stderr.startswith(f"Error: {option}: 'notadate'"), r.stderr
        assert "--expires" not in r.stderr


def test_a_valid_alert_needs_a_login(person: Cli) -> None:
    r = person.run("alerts", "create", "EURUSD", "H1", "crossing_up", "1.09", "--expires", "7d")
    assert r.returncode == 3 and "tradealerts login" in r.stderr


# -- against a real server whose feed moves (tick_rate=20) ---------------------------------
LOW = 0.5  # below every price the synthetic EURUSD reaches: greater_than fires at once
HIGH = 900_000.0  # above every price: never reached


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    yield from _serve(module_tmp, tick_rate=20)


def test_create_list_show_update_pause_resume_delete(user: Cli) -> None:
    a = user.json("alerts", "create", "eurusd", "h1", "crossing_up", str(HIGH),
                  "--frequency", "once_per_bar", "--expires", "7d", "--email",
                  "--message", "{{symbol}} up through {{level}}")  # fmt: skip
    assert (a["symbol"], a["timeframe"], a["condition"]) == ("EURUSD", "H1", "crossing_up")
    assert a["level"] == HIGH and a["frequency"] == "once_per_bar" and a["status"] == "active"
    assert a["channels"] == {"email": True, "webhook_url": None, "webhook_format": "json",
                             "notify": None}  # fmt: skip
    expires = datetime.fromisoformat(a["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    page = user.json("alerts", "list")
    assert [x["id"] for x in page["items"]] == [a["id"]]
    assert page["active"] == 1 and page["limit"] == 5
    table = user.ok("alerts", "list")
    assert "1 of 5 active" in table and "crossing_up" in table and str(a["id"]) in table
    assert user.json("alerts", "show", str(a["id"]))["id"] == a["id"]
    changed = user.json("alerts", "update", str(a["id"]), "--level", str(HIGH - 1))
    assert changed["level"] == HIGH - 1
    assert user.json("alerts", "pause", str(a["id"]))["status"] == "paused"
    assert user.json("alerts", "list", "--status", "paused")["items"][0]["id"] == a["id"]
    assert user.json("alerts", "list", "--status", "active")["items"] == []
    assert "resumed" in user.ok("alerts", "resume", str(a["id"]))
    assert user.json("alerts", "show", str(a["id"]))["status"] == "active"
    assert "deleted" in user.ok("alerts", "delete", str(a["id"]))
    assert user.json("alerts", "list")["items"] == []
    r = user.run("alerts", "show", str(a["id"]))
    assert r.returncode == 1 and str(a["id"]) in r.stderr


def test_values_map_positionally_per_condition(user: Cli) -> None:
    ch = user.json("alerts", "create", "EURUSD", "H1", "entering_channel", "1.08", "1.09")
    assert (ch["lower"], ch["upper"]) == (1.08, 1.09)
    mv = user.json("alerts", "create", "EURUSD", "H4", "moving_up", "0.005", "10")
    assert (mv["amount"], mv["bars"]) == (0.005, 10)
    fr = user.json("alerts", "create", "XAUUSD", "H1", "new_fractal", "up")
    assert fr["side"] == "up"
    lt = user.json("alerts", "create", "EURUSD", "H1", "line_touch", "0.0005", "--side", "support")
    assert (lt["distance"], lt["side"]) == (0.0005, "support")
    for x in (ch, mv, fr, lt):
        user.ok("alerts", "delete", str(x["id"]))


def test_tier_refusals_exit_4(user: Cli) -> None:
    r = user.run("alerts", "create", "GBPUSD", "H1", "crossing_up", "1.3")
    assert r.returncode == 4 and "PRO" in r.stderr
    r = user.run("alerts", "create", "EURUSD", "H1", "crossing_up", "1.3",
                 "--webhook", "https://example.com/hook")  # fmt: skip
    assert r.returncode == 4 and "PRO" in r.stderr
    made = [user.json("alerts", "create", "EURUSD", "H1", "crossing_up", str(HIGH + i))["id"]
            for i in range(5)]  # fmt: skip
    r = user.run("alerts", "create", "EURUSD", "H1", "crossing_up", str(HIGH + 9))
    assert r.returncode == 4 and "5" in r.stderr, r.stderr
    for alert_id in made:
        user.ok("alerts", "delete", str(alert_id))


def _fits_80(out: str) -> None:
    """Nothing wider than the terminal, and nothing cut short with an ellipsis."""
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "…" not in out, out


def test_alert_tables_keep_every_value_whole_in_80_columns(user: Cli) -> None:
    narrow = {"COLUMNS": "80", "LINES": "24"}
    made = user.ok("alerts", "create", "EURUSD", "H1", "entering_channel", "1.08", "1.09",
                   "--frequency", "once_per_bar_close", "--expires", "30d", **narrow)  # fmt: skip
    a = user.json("alerts", "list")["items"][-1]
    day = a["expires_at"][:10]
    updated = user.ok("alerts", "update", str(a["id"]), "--upper", "1.095", **narrow)
    listed = user.ok("alerts", "list", **narrow)
    for out, upper in ((made, "upper=1.09"), (updated, "upper=1.095"), (listed, "upper=1.095")):
        _fits_80(out)
        for value in ("entering_channel", "lower=1.08", upper, "once_per_bar_close", day):
            assert value in out, (value, out)
    health = user.ok("alerts", "list", "--health", **narrow)
    _fits_80(health)
    assert a["name"] in health
    user.ok("alerts", "delete", str(a["id"]))


def test_show_is_the_alert_in_full(user: Cli) -> None:
    a = user.json("alerts", "create", "EURUSD", "H1", "crossing", str(HIGH), "--name",
                  "eurusd-show-me", "--cooldown", "30m", "--max-fires", "5", "--message",
                  "{{symbol}} crossed {{level}}", "--email", "--source", "ask",
                  "--frequency", "once_per_minute", "--expires", "7d")  # fmt: skip
    out = user.ok("alerts", "show", str(a["id"]), COLUMNS="80", LINES="24")
    _fits_80(out)
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    expected = {
        "Id": str(a["id"]), "Name": "eurusd-show-me", "Pair": "EURUSD H1",
        "Condition": "crossing", "Level": str(HIGH), "Status": "active",
        "Frequency": "once_per_minute", "Cooldown": "30 min", "Max fires": "5",
        "Price source": "ask", "Message": "{{symbol}} crossed {{level}}", "Email": "yes",
        "Webhook": "no", "Fired": "0 times", "Last fired": "never",
    }  # fmt: skip
    for key, value in expected.items():
        assert rows.get(key) == value, (key, rows)
    assert rows["Expires"].startswith(a["expires_at"][:10]), rows
    assert rows["Health"].startswith("ok"), rows
    user.ok("alerts", "delete", str(a["id"]))
