"""Issue #24, a newcomer's first hour: each stumble replayed as it was found, through the real
``tradealerts`` command against a real server (this module's billing runs on localstripe
itself, which has no Checkout Sessions, as an owner trying billing locally would point it)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, _serve
from tests.server.serverkit import Running
from tests.server.stripekit import StripeDouble, setup_price, stripe_double, stripe_settings

ALL_TIMEFRAMES = ["M5", "M15", "M30", "H1", "H2", "H4", "H8", "H12", "D1"]
#: a zone half an hour off UTC: an H1 bar's open reads hh:30 there, hh:00 in UTC
ZONE = "Asia/Kolkata"


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with stripe_double() as d:
        yield d


@pytest.fixture(scope="module")
def server(module_tmp: Path, double: StripeDouble) -> Iterator[Running]:
    """Billing set up through the double, then served straight from localstripe's API."""
    settings = stripe_settings(double, setup_price(double))
    yield from _serve(module_tmp, **{**settings, "stripe_api_base": double.ls_url})


@pytest.fixture
def zoned(user: Cli) -> Cli:
    user.ok("settings", "set", "timezone", ZONE)
    return user


# -- item 8: order and time ----------------------------------------------------------------
def test_plan_lists_timeframes_from_m5_to_d1(user: Cli) -> None:
    plans = user.json("plan")["plans"]
    assert [p["limits"]["timeframes"] for p in plans] == [["H1", "H4", "D1"], ALL_TIMEFRAMES]
    assert " ".join(ALL_TIMEFRAMES) in user.ok("plan")


def test_alert_times_follow_the_timezone_setting_and_utc_overrides(zoned: Cli) -> None:
    zoned.ok("alerts", "create", "EURUSD", "H1", "crossing_up", "1.5", "--expires",
             "2030-01-01T00:00:00Z")  # fmt: skip
    table = zoned.ok("alerts", "list")
    assert "2030-01-01 05:30" in table and ZONE in table, table
    assert "00:00 UTC" not in table
    utc = zoned.ok("--utc", "alerts", "list")
    assert "2030-01-01 00:00 UTC" in utc and ZONE not in utc, utc
    # machine output stays UTC whatever the setting
    listed = zoned.json("alerts", "list")
    alerts = listed["items"] if isinstance(listed, dict) else listed
    assert [a["expires_at"][:19] for a in alerts] == ["2030-01-01T00:00:00"], listed


def test_indicators_table_and_messages_in_the_users_zone(zoned: Cli) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    line = zoned.json("indicators", "EURUSD", "H1")["horizontal_lines"][0]
    out = zoned.ok("indicators", "EURUSD", "H1", "--all")
    assert f"Confirmed ({ZONE})" in out and "(UTC)" not in out, out
    confirmed = datetime.fromtimestamp(line["confirmed_time"], UTC)
    row = next(r for r in out.splitlines() if line["id"] in r)
    assert f"{confirmed.astimezone(ZoneInfo(ZONE)):%Y-%m-%d %H:%M}" in row, row
    assert f"({ZONE})" not in zoned.ok("--utc", "indicators", "EURUSD", "H1")
    sent = zoned.ok("support", "Where do my alerts go?")
    assert ZONE in sent and "UTC" not in sent, sent


def _axis_minutes(text: str) -> set[str]:
    return set(re.findall(r"\d\d-\d\d \d\d:(\d\d)", text))


def test_chart_axis_and_watch_follow_the_timezone(zoned: Cli) -> None:
    assert _axis_minutes(zoned.ok("charts", "EURUSD", "H1")) == {"30"}
    assert _axis_minutes(zoned.ok("--utc", "charts", "EURUSD", "H1")) == {"00"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradealerts", "charts", "EURUSD", "H1", "--watch"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=zoned.env(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        frame = ""
        for line in proc.stdout:
            frame += line
            if _axis_minutes(line):
                break
        assert _axis_minutes(frame) == {"30"}, frame
    finally:
        proc.terminate()
        proc.wait(30)


# -- item 1: upgrading against an API base with no Checkout ----------------------------------
def test_upgrade_without_checkout_says_why_and_that_a_retry_will_not_help(user: Cli) -> None:
    r = user.run("upgrade", "--timeout", "5")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Checkout" in r.stderr and "will not help" in r.stderr, r.stderr
    assert "try again" not in r.stderr.lower(), r.stderr


# -- item 3: a made-up line id ----------------------------------------------------------------
def test_a_made_up_line_id_is_refused_naming_the_nearest_active_lines(user: Cli) -> None:
    r = user.run("alerts", "create", "EURUSD", "H1", "line_break", "resistance", "hr-999")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "hr-999 is not an active resistance line of EURUSD H1" in r.stderr, r.stderr
    named = re.findall(r"\b(hr-\d+) at \d", r.stderr)
    payload = user.json("indicators", "EURUSD", "H1")
    resistances = {ln["id"] for ln in payload["horizontal_lines"] if ln["kind"] == "resistance"}
    assert named and set(named) <= resistances, (named, r.stderr)
    assert not user.json("alerts", "list")["items"], "nothing was created"
    # an id the payload lists as active is taken
    active = next(ln["id"] for ln in payload["horizontal_lines"]
                  if ln["kind"] == "resistance" and ln["broken_time"] is None)  # fmt: skip
    user.ok("alerts", "create", "EURUSD", "H1", "line_break", "resistance", active)
