"""The owner's maintenance notice on the CLI (issue #29): after ``admin announce`` (its own
process, on the server's database), the next ``tradealerts`` command prints one line about it
on stderr (its ``--json`` stays clean), and no command after that prints it again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.cli.conftest import Cli, _serve
from tests.server.noticekit import announce
from tests.server.serverkit import Running, wait_until


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    """This module's own server: its notice must not reach other modules' commands."""
    yield from _serve(module_tmp, notice_poll_seconds=0.2)


def test_the_next_command_says_it_once(user: Cli, server: Running, module_tmp: Path) -> None:
    quiet = user.run("whoami")
    assert quiet.returncode == 0 and "Notice" not in quiet.stderr  # nothing announced yet
    db_url = f"sqlite:///{module_tmp / 'server.db'}"
    n = announce(db_url, module_tmp / "owner", "Upgrading the feed", "--duration", "30m")
    wait_until(
        lambda: (
            str(n["id"])
            in httpx.get(f"{server.url}/api/system/health").headers.get("X-TradeAlerts-Notice", "")
        ),
        10,
        "the server to pick the notice up",
    )
    r = user.run("alerts", "list", "--json")
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)  # the listing stays machine-readable
    lines = [line for line in r.stderr.splitlines() if line.startswith("Notice: ")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("Notice: Maintenance ") and lines[0].endswith(": Upgrading the feed")
    again = user.run("whoami")
    assert again.returncode == 0 and "Notice" not in again.stderr  # once per notice
