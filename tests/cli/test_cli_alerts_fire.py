"""An alert that really fires from the feed shows in ``alerts history`` and as triggered.

Its own server, so the history holds this test's alert alone. A ``once`` alert fires exactly
once here even while the engine's sync pass reads its row (the race CI once caught: see
tests/server/test_alert_runtime.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, _serve
from tests.server.serverkit import Running

LOW = 0.5  # below every price the synthetic EURUSD reaches: greater_than fires at once


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    yield from _serve(module_tmp, tick_rate=20)


def test_a_fired_alert_shows_in_history(user: Cli) -> None:
    a = user.json("alerts", "create", "EURUSD", "H1", "greater_than", str(LOW),
                  "--message", "{{symbol}} above {{level}} at {{price}}")  # fmt: skip
    with user.server.client(user.tokens["access_token"]) as c:  # the history read is counted:
        for _ in range(120):  # poll gently, well inside the hourly quota
            if c.get("/api/alerts/history").json()["items"]:
                break
            time.sleep(0.5)
    hist = user.json("alerts", "history", "--alert", str(a["id"]))
    assert hist["total"] == 1 and hist["page"] == 1
    [item] = hist["items"]
    assert item["alert_id"] == a["id"] and item["price"] > LOW and item["level"] == LOW
    assert item["message"].startswith("EURUSD above 0.5")
    table = user.ok("alerts", "history", "--symbol", "eurusd")
    assert item["message"][:20] in table and "1 total" in table
    assert user.json("alerts", "show", str(a["id"]))["status"] == "triggered"
    # the reason is shown only when it adds something ("triggered (triggered)" said it twice)
    shown = user.ok("alerts", "show", str(a["id"]))
    assert "triggered" in shown and "triggered (triggered)" not in shown
    assert user.json("alerts", "history", "--symbol", "XAUUSD")["items"] == []
    # times are the market's (the synthetic feed's clock), so filter with dates around it
    fired = datetime.fromisoformat(item["time"].replace("Z", "+00:00"))
    before, after = (fired - timedelta(days=1)).date(), (fired + timedelta(days=1)).date()
    assert user.json("alerts", "history", "--since", str(before))["total"] == 1
    assert user.json("alerts", "history", "--since", str(after))["total"] == 0
    assert user.json("alerts", "history", "--until", str(before))["total"] == 0
