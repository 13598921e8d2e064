"""alerts: what the command refuses before sending anything (exit 2, one line), and the
create/list/pause/resume/delete/history round trip against a real server."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_a_mistyped_condition_gets_did_you_mean(person: Cli) -> None:
    r = person.run("alerts", "create", "EURUSD", "H1", "crosing_up", "1.09")
    assert r.returncode == 2 and "Did you mean crossing_up" in r.stderr
    assert r.stderr.count("\n") == 1 and not r.stdout


def test_values_map_to_the_condition(person: Cli) -> None:
    r = person.run("alerts", "create", "EURUSD", "H1", "crossing_up", "1.09", "1.10")
    assert r.returncode == 2 and "crossing_up takes LEVEL" in r.stderr
    r = person.run("alerts", "create", "EURUSD", "H1", "entering_channel", "1.08")
    assert r.returncode == 2 and "upper" in r.stderr
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
    r = person.run("alerts", "create", "EURUSX", "H1", "crossing_up", "1.09")
    assert r.returncode == 2 and "Unknown symbol" in r.stderr


def test_a_valid_alert_needs_a_login(person: Cli) -> None:
    r = person.run("alerts", "create", "EURUSD", "H1", "crossing_up", "1.09", "--expires", "7d")
    assert r.returncode == 3 and "tradealerts login" in r.stderr
