"""Every table of the CLI in an 80-column terminal (issue #24 item 4): the CLI as a subprocess
against a real server with ``COLUMNS=80``; each word a person reads (a header, a date, a
condition, a status) is whole on one line, never ``greater_th`` / ``an`` or ``2026-12-0`` /
``6 20:03``."""

from __future__ import annotations

import re

from tests.cli.conftest import Cli
from tests.server.serverkit import fire_event, set_tier

NARROW = {"COLUMNS": "80", "LINES": "24"}
DATE = re.compile(r"\d{4}-\d\d-\d\d")


def whole(out: str, *words: str) -> None:
    """Each of ``words`` on one line of ``out``, no line wider than 80, and every date in the
    output whole (a cut date leaves a ``2026-12-0`` at a line's end)."""
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    for word in words:
        assert any(word in line for line in lines), (word, out)
    for line in lines:
        for cell in line.split("│"):
            text = cell.strip()
            assert not re.search(r"(^|\s)\d{4}-\d{0,2}(-\d?)?$", text), (text, out)
            assert not re.search(r"^\d?-?\d\d? \d\d:\d\d", text) or DATE.search(text), (text, out)


def test_every_table_keeps_its_words_whole_at_80(user: Cli) -> None:
    whole(user.ok("plan", **NARROW), "FREE", "Requests per hour")
    set_tier(user.server, user.email, "PRO")  # GBPUSD H4 on the watchlist
    made = user.json("alerts", "create", "EURUSD", "H1", "greater_than", "1.09",
                     "--frequency", "once_per_bar_close", "--expires", "30d")  # fmt: skip
    day = made["expires_at"][:10]
    line = user.json("alerts", "create", "EURUSD", "H1", "moving_down_pct", "0.5", "3")
    for _ in range(2):
        fire_event(user.server, user.email, condition="greater_than", level=1.09,
                   message="EURUSD H1 closed above 1.09 at 1.09120 after a long climb")  # fmt: skip
    listed = user.ok("alerts", "list", **NARROW)
    whole(listed, "Id", "Pair", "Condition", "Status", "Expires", "greater_than",
          "moving_down_pct", "once_per_bar_close", day)  # fmt: skip
    whole(user.ok("alerts", "list", "--health", **NARROW), "Health", "active", "Last fire")
    history = user.ok("alerts", "history", **NARROW)
    stamps = [h["time"][:10] for h in user.json("alerts", "history")["items"]]
    assert stamps, history
    whole(history, "Time", "Condition", "Message", "greater_than", "EURUSD", "climb", *stamps)
    whole(user.ok("alerts", "show", str(made["id"]), **NARROW), "greater_than",
          "once_per_bar_close", day)  # fmt: skip
    user.ok("watchlist", "add", "GBPUSD", "H4")
    whole(user.ok("watchlist", "list", **NARROW), "Symbol", "Timeframe", "Added", "GBPUSD")
    whole(user.ok("symbols", **NARROW), "EURUSD")
    whole(user.ok("plan", **NARROW), "Plan", "PRO", "$29 / month")
    whole(user.ok("notifications", "list", **NARROW), "Title", "Your plan is now PRO", *stamps)
    whole(user.ok("indicators", "EURUSD", "H1", **NARROW), "resistance", "support")
    # plan, billing and invoices where a server sells PRO: test_cli_billing.py
    for a in (made, line):
        user.ok("alerts", "delete", str(a["id"]))
