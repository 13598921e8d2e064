"""``tradealerts channels`` and ``--notify`` against a real server, real Apprise and an
ntfy-speaking receiver on loopback (allow-listed by the server's owner): add, list (masked),
test, an alert that pushes when it fires, update, export, remove; FREE exits 4 naming PRO."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, _serve
from tests.server.pushkit import PushReceiver
from tests.server.serverkit import Running, set_tier

SECRET = "my-secret-topic"


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    yield from _serve(module_tmp, tick_rate=20, webhook_allowlist=["127.0.0.1/32"])


@pytest.fixture(scope="module")
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver()
    yield r
    r.close()


def test_channels_from_the_command_line(user: Cli, receiver: PushReceiver) -> None:
    free = user.run("channels", "add", "phone", f"ntfy://127.0.0.1:{receiver.port}/{SECRET}")
    assert free.returncode == 4 and "PRO" in free.stderr + free.stdout, free
    set_tier(user.server, user.email, "PRO")
    url = f"ntfy://127.0.0.1:{receiver.port}/{SECRET}"
    added = user.ok("channels", "add", "phone", url)
    assert "Added channel phone (ntfy" in added and SECRET not in added
    table = user.ok("channels", "list")
    assert "phone" in table and "my-s…" in table and SECRET not in table
    [listed] = user.json("channels", "list")
    assert listed["name"] == "phone" and listed["service"] == "ntfy"
    assert SECRET not in str(listed)
    assert "test push went to 'phone'" in user.ok("channels", "test", "phone")
    [test] = receiver.wait(1)
    assert test.body["topic"] == SECRET
    unknown = user.run("alerts", "create", "EURUSD", "H1", "greater_than", "0.5",
                       "--notify", "phone,team")  # fmt: skip
    assert unknown.returncode == 1 and "team" in unknown.stderr, unknown
    alert = user.json("alerts", "create", "EURUSD", "H1", "greater_than", "0.5",
                      "--notify", "Phone")  # fmt: skip
    assert alert["channels"]["notify"] == ["phone"]
    pushed = receiver.wait(2)[1]
    assert pushed.body["title"] == "EURUSD H1: greater_than"
    assert "Push" in user.ok("alerts", "show", str(alert["id"]))
    exported = user.ok("alerts", "export", "--format", "json")
    assert '"notify": [\n' in exported and '"phone"' in exported
    updated = user.json("alerts", "update", str(alert["id"]), "--notify", "")
    assert updated["channels"]["notify"] == []
    user.ok("channels", "remove", "phone")
    assert user.json("channels", "list") == []
    gone = user.run("channels", "test", "phone")
    assert gone.returncode == 1 and "no channel named 'phone'" in gone.stderr, gone
