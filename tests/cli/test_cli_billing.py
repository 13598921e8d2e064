"""plan, upgrade and billing: the real ``tradealerts`` command against a real server whose
billing runs on localstripe (with the Checkout stand-in), webhooks signed as Stripe signs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, serve_selling_pro
from tests.cli.test_cli_80_columns import whole
from tests.server.serverkit import Running, wait_until
from tests.server.stripekit import StripeDouble, event, stripe_double


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with stripe_double() as d:
        yield d


@pytest.fixture(scope="module")
def server(module_tmp: Path, double: StripeDouble) -> Iterator[Running]:
    """This module's server sells PRO through the double."""
    yield from serve_selling_pro(module_tmp, double)


def _pay(double: StripeDouble, url: str) -> None:
    """The person pays on the hosted page; Stripe then sends checkout.session.completed."""
    cs_id = url.rsplit("/", 1)[1]
    cs = double.complete_checkout(cs_id)
    r = double.deliver(event("checkout.session.completed", cs))
    assert r.status_code == 200, r.text


def _upgrade(user: Cli, double: StripeDouble, timeout: float = 60) -> str:
    """``tradealerts upgrade --timeout`` on a headless machine, paid once its stream is open;
    returns its output."""
    env = {k: v for k, v in user.env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    bus = user.server.app.state.bus
    streams = bus.open_streams  # this module's tests run one at a time: none open now
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradealerts", "upgrade", "--timeout", str(timeout)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("https://checkout.stripe.com/"):
            break
    else:
        raise AssertionError(("".join(lines), proc.wait(), proc.stderr and proc.stderr.read()))
    wait_until(lambda: bus.open_streams > streams, 30, "the command's stream")
    _pay(double, lines[-1].strip())
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    return "".join(lines) + out


def test_plan_shows_both_with_mine_marked(user: Cli) -> None:
    out = user.ok("plan")
    assert "FREE (your plan)" in out and "29.00 USD / month" in out and "PRO" in out
    data = user.json("plan")
    assert [p["price"]["amount"] for p in data["plans"]] == [0, 2900]


def test_upgrade_headless_says_pro_from_the_stream(user: Cli, double: StripeDouble) -> None:
    # from the stream's tier event: the command's own check of the tier comes first 10 s
    # after the checkout opened, after this --timeout
    out = _upgrade(user, double, timeout=9)
    assert "You're on PRO" in out
    assert user.json("whoami")["tier"] == "PRO"
    assert "You are on PRO already" in user.ok("upgrade")  # exit 0, no checkout
    out = user.ok("billing")
    assert "active" in out and "Renews on" in out and "4242" in out
    invoices = wait_until(lambda: user.json("billing", "invoices"), what="an invoice")
    assert invoices[0]["amount_paid"] == 2900 and invoices[0]["currency"] == "usd"
    assert "29.00 USD" in user.ok("billing", "invoices")
    # the same at 80 columns, each word and date whole (issue #24)
    narrow = {"COLUMNS": "80", "LINES": "24"}
    whole(user.ok("plan", **narrow), "PRO (your plan)", "29.00 USD / month", "FREE")
    whole(user.ok("billing", **narrow), "active", "Renews on", "4242")
    whole(user.ok("billing", "invoices", **narrow), "29.00 USD", "Amount")


def test_cancel_asks_then_resume(user: Cli, double: StripeDouble) -> None:
    _upgrade(user, double)
    r = user.run("billing", "cancel")  # no terminal to ask on, no --yes
    assert r.returncode == 2 and "--yes" in r.stderr
    out = user.ok("billing", "cancel", "--yes")
    assert "you keep PRO until" in out
    data = user.json("billing")
    assert data["subscription"]["cancel_at_period_end"] is True
    assert data["subscription"]["ends_on"] and data["subscription"]["tier"] == "PRO"
    r = user.run("billing", "cancel", "--yes")
    assert r.returncode == 1 and "already cancelled" in r.stderr
    assert "Resumed" in user.ok("billing", "resume")
    assert user.json("billing")["subscription"]["renews_on"]


def test_portal_prints_the_link_headless(user: Cli) -> None:
    out = user.ok("billing", "portal", "--no-browser")
    assert re.search(r"https://billing\.stripe\.com/p/session/\w+", out)


def test_free_user_billing_and_not_logged_in(user: Cli) -> None:
    out = user.ok("billing")
    assert "FREE" in out and "tradealerts upgrade" in out
    assert json.loads(user.ok("billing", "invoices", "--json")) == []
    user.ok("logout")
    r = user.run("billing")
    assert r.returncode == 3


def test_billing_after_the_end_shows_no_card_and_no_period_beyond_it(
    user: Cli, double: StripeDouble
) -> None:
    """Issue #24: once ended, ``billing`` still showed the card and the subscription kept a
    ``current_period_end`` a month after ``ends_on``."""
    out = _upgrade(user, double)
    url = re.search(r"https://checkout\.stripe\.com/\S+", out)
    assert url is not None, out
    assert "••••" in user.ok("billing")  # the card that pays, while it runs
    user.ok("billing", "cancel", "--yes")
    cs = double.checkouts[url.group().rsplit("/", 1)[1]]
    double.end_period(cs["subscription"])  # localstripe sends customer.subscription.deleted
    wait_until(lambda: user.json("billing")["subscription"]["status"] == "canceled",
               what="the subscription ended")  # fmt: skip
    sub = user.json("billing")["subscription"]
    assert sub["tier"] == "FREE" and sub["card"] is None, sub
    assert sub["ends_on"] and sub["renews_on"] is None
    assert sub["current_period_end"] is None or sub["current_period_end"] <= sub["ends_on"], sub
    out = user.ok("billing")
    assert "••••" not in out and "Ends on" in out, out
