"""Issue #15 on the command line, against a real server: the new conditions and options,
clone, bulk pause/resume/delete by filter, list --health, and alerts as code (export →
apply round-trips to no change; --dry-run changes nothing; a bad entry or a plan over the
tier's limit changes nothing and names the entry; --prune deletes only what the file no
longer names)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml
from tests.cli.conftest import Cli
from tests.server.serverkit import set_tier

HIGH = 900_000.0  # never reached


def names(user: Cli) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in user.json("alerts", "list")["items"]}


def test_the_issues_create_commands(user: Cli) -> None:
    set_tier(user.server, user.email, "PRO")
    b = user.json("alerts", "create", "XAUUSD", "H4", "line_bounce", "--side", "support",
                  "--distance", "0.8")  # fmt: skip
    assert (b["condition"], b["side"], b["distance"]) == ("line_bounce", "support", 0.8)
    lb = user.json("alerts", "create", "EURUSD", "H1", "line_break", "--side", "resistance",
                   "--buffer", "0.0005", "--confirm-bars", "2")  # fmt: skip
    assert (lb["buffer"], lb["confirm_bars"], lb["side"]) == (0.0005, 2, "resistance")
    cr = user.json("alerts", "create", "EURUSD", "M15", "crossing", "1.0900",
                   "--frequency", "once_per_bar", "--cooldown", "30m", "--max-fires", "5",
                   "--name", "eurusd-m15-cross")  # fmt: skip
    assert (cr["cooldown"], cr["max_fires"], cr["name"]) == (1800, 5, "eurusd-m15-cross")
    changed = user.json("alerts", "update", str(cr["id"]), "--cooldown", "2h", "--max-fires",
                        "9", "--name", "eurusd-m15-cross-2")  # fmt: skip
    assert (changed["cooldown"], changed["max_fires"], changed["name"]) == (
        7200, 9, "eurusd-m15-cross-2",
    )  # fmt: skip
    user.json("alerts", "update", str(cr["id"]), "--name", "eurusd-m15-cross")
    r = user.run("alerts", "create", "EURUSD", "H1", "crossing", "1.09", "--name",
                 "eurusd-m15-cross")  # fmt: skip
    assert r.returncode == 1 and "already have an alert named" in r.stderr
    r = user.run("alerts", "create", "EURUSD", "H1", "crossing", "1.09", "--cooldown", "soon")
    assert r.returncode == 2 and "cooldown" in r.stderr
    r = user.run("alerts", "create", "EURUSD", "H1", "line_break", "--confirm-bars", "0")
    assert r.returncode == 2 and "confirm_bars" in r.stderr
    hook = "https://api.telegram.org/botX/sendMessage"
    r = user.run("alerts", "create", "EURUSD", "H1", "crossing", "1.2", "--webhook", hook,
                 "--webhook-format", "telegram")  # fmt: skip
    assert r.returncode == 2 and "chat_id" in r.stderr  # refused before anything is sent
    table = user.ok("alerts", "list", "--health")
    assert "24 h" in table and "eurusd-m15-cross" in table
    user.ok("alerts", "delete", "--all", "--yes")
    assert user.json("alerts", "list")["items"] == []


def test_clone_and_bulk_by_filter(user: Cli) -> None:
    set_tier(user.server, user.email, "PRO")
    a = user.json("alerts", "create", "EURUSD", "H1", "crossing_up", str(HIGH))
    copy = user.json("alerts", "clone", str(a["id"]), "--symbol", "GBPUSD")
    assert (copy["symbol"], copy["level"], copy["condition"]) == ("GBPUSD", HIGH, "crossing_up")
    assert copy["id"] != a["id"] and copy["name"] == f"gbpusd-h1-crossing_up-{copy['id']}"
    user.json("alerts", "create", "EURUSD", "H4", "crossing_up", str(HIGH))
    paused = user.json("alerts", "pause", "--symbol", "EURUSD")
    assert paused["action"] == "pause" and len(paused["ids"]) == 2
    by = {x["id"]: x["status"] for x in user.json("alerts", "list")["items"]}
    assert by[copy["id"]] == "active" and sorted(by.values()) == ["active", "paused", "paused"]
    again = user.json("alerts", "pause", "--symbol", "EURUSD")
    assert again["ids"] == [] and len(again["skipped"]) == 2
    r = user.run("alerts", "pause")
    assert r.returncode == 2 and "Which alerts" in r.stderr
    assert len(user.json("alerts", "resume", "--status", "paused")["ids"]) == 2
    # no terminal to ask on (a script, CI): refused, one line, nothing deleted
    r = user.run("alerts", "delete", "--timeframe", "h1", "--condition", "crossing_up")
    assert r.returncode == 2 and "--yes" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = user.run("alerts", "delete", "--all")
    assert r.returncode == 2 and "--yes" in r.stderr
    assert len(user.json("alerts", "list")["items"]) == 3
    # on a terminal: asked, with the count; "no" (or just Enter) deletes nothing
    code, shown = user.run_tty("alerts", "delete", "--timeframe", "h1", "--condition",
                               "crossing_up", typed="\n")  # fmt: skip
    assert code == 0 and "Delete 2 alerts" in shown and "[y/N]" in shown, shown
    assert "Nothing deleted" in shown
    assert len(user.json("alerts", "list")["items"]) == 3
    code, shown = user.run_tty("alerts", "delete", "--timeframe", "h1", "--condition",
                               "crossing_up", typed="y\n")  # fmt: skip
    assert code == 0 and f"2 alert(s) deleted: {a['id']}, {copy['id']}." in shown, shown
    assert [x["timeframe"] for x in user.json("alerts", "list")["items"]] == ["H4"]
    assert "1 alert(s) deleted" in user.ok("alerts", "delete", "--all", "-y")
    assert user.json("alerts", "list")["items"] == []


FILE = """
[[alert]]
name = "eurusd-h1-resistance-break"
symbol = "EURUSD"
timeframe = "H1"
condition = "line_break"
side = "resistance"
confirm_bars = 2
frequency = "once_per_bar_close"
message = "{{ticker}} {{interval}} broke {{level}} at {{close}}"

[[alert]]
name = "xau-bounce"
symbol = "XAUUSD"
timeframe = "H4"
condition = "line_bounce"
side = "support"
distance = 0.8
cooldown = "2h"
max_fires = 5
"""


def test_export_apply_round_trip_dry_run_prune_and_refusals(user: Cli, tmp_path: Path) -> None:
    f = tmp_path / "alerts.toml"
    f.write_text(FILE)
    dry = user.run("alerts", "apply", str(f), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "+ eurusd-h1-resistance-break" in dry.stdout and "+ xau-bounce" in dry.stdout
    assert "nothing was changed" in dry.stderr + dry.stdout
    assert user.json("alerts", "list")["items"] == []  # the dry run changed nothing
    done = user.run("alerts", "apply", str(f))
    assert done.returncode == 0 and "Applied: 2 to create" in done.stderr + done.stdout
    made = names(user)
    assert made["xau-bounce"]["cooldown"] == 7200 and made["xau-bounce"]["max_fires"] == 5
    # export → apply changes nothing, in every format
    for fmt, parse in (("toml", tomllib.loads), ("yaml", yaml.safe_load), ("json", json.loads)):
        text = user.ok("alerts", "export", "--format", fmt)
        assert [e["name"] for e in parse(text)["alert"]] == list(made)
        out = tmp_path / f"export.{fmt}"
        out.write_text(text)
        plan = user.json("alerts", "apply", str(out))
        assert [i["op"] for i in plan["items"]] == ["unchanged", "unchanged"], plan
    assert names(user) == made  # same ids, same everything
    # a change and an addition, then prune what the file no longer names
    f.write_text(FILE.replace("distance = 0.8", "distance = 1.2").split("[[alert]]\nname = \"x")[0]
                 + '[[alert]]\nname = "new-one"\nsymbol = "EURUSD"\ntimeframe = "H1"\n'
                 'condition = "crossing_up"\nlevel = 900000.0\n')  # fmt: skip
    plan = user.json("alerts", "apply", str(f), "--prune", "--dry-run")
    assert [(i["op"], i["name"]) for i in plan["items"]] == [
        ("unchanged", "eurusd-h1-resistance-break"),
        ("create", "new-one"),
        ("delete", "xau-bounce"),
    ]
    assert names(user) == made
    user.json("alerts", "apply", str(f), "--prune")
    after = names(user)
    assert set(after) == {"eurusd-h1-resistance-break", "new-one"}
    assert after["eurusd-h1-resistance-break"]["id"] == made["eurusd-h1-resistance-break"]["id"]
    # an invalid entry: nothing is sent, each failing entry named with its field
    bad = tmp_path / "bad.toml"
    bad.write_text(FILE.replace("confirm_bars = 2", "confirm_bars = 0").replace(
        "distance = 0.8", "distance = -1"))  # fmt: skip
    r = user.run("alerts", "apply", str(bad), "--prune")
    assert r.returncode == 2
    assert "(eurusd-h1-resistance-break): confirm_bars" in r.stderr
    assert "(xau-bounce): distance" in r.stderr
    assert names(user) == after
    # a bad name, a mistyped condition, a side the condition does not take: said for people
    bad.write_text(FILE.replace('name = "xau-bounce"', 'name = "xau bounce!"')
                   .replace('condition = "line_break"', 'condition = "line_braek"'))  # fmt: skip
    r = user.run("alerts", "apply", str(bad))
    assert r.returncode == 2, r.stderr
    assert "String should match pattern" not in r.stderr and "^[" not in r.stderr
    assert ("(xau bounce!): name: 'xau bounce!' is not a name: use letters, digits and "
            ". _ - : (1-64, starting with a letter or digit)") in r.stderr  # fmt: skip
    assert "condition: Unknown condition 'line_braek'. Did you mean line_break" in r.stderr
    bad.write_text(FILE.replace('condition = "line_break"\nside = "resistance"',
                                'condition = "new_fractal"\nside = "sideways"'))  # fmt: skip
    r = user.run("alerts", "apply", str(bad))
    assert r.returncode == 2 and "side: new_fractal takes up, down or either" in r.stderr
    assert "support" not in r.stderr.split("side:")[1].splitlines()[0], r.stderr
    assert names(user) == after
    # over the FREE limit (5 active): refused whole by the server, naming the entries over it
    many = tmp_path / "many.json"
    entries = [{"name": f"n{i}", "symbol": "EURUSD", "timeframe": "H1",
                "condition": "crossing_up", "level": HIGH + i} for i in range(5)]  # fmt: skip
    many.write_text(json.dumps({"alert": entries}))
    r = user.run("alerts", "apply", str(many))
    assert r.returncode == 4, r.stderr
    assert "(n3)" in r.stderr and "(n4)" in r.stderr and "(n2)" not in r.stderr
    # the server refused it: sent, not "nothing was sent" (that is the local check's word)
    assert "nothing was sent" not in r.stderr and "Nothing was changed" in r.stderr, r.stderr
    assert names(user) == after
    # a pair the tier does not allow: refused whole, naming the entry and field
    entries = [entries[0], {**entries[1], "symbol": "GBPUSD"}]
    many.write_text(json.dumps({"alert": entries}))
    r = user.run("alerts", "apply", str(many))
    assert r.returncode == 1 and "(n1): symbol" in r.stderr, r.stderr
    assert names(user) == after
