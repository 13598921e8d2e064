"""``tradealerts-server admin announce`` as the owner runs it: its own process, on the
server's database (issue #29). Shared by the server, TUI, daemon and CLI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

EXE = Path(sys.executable).parent / "tradealerts-server"


def announce_cmd(
    db_url: str, home: Path, *args: str, tz: str = "UTC"
) -> subprocess.CompletedProcess[str]:
    """``tradealerts-server admin announce ARGS`` against ``db_url`` (exit code not checked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    env.update(TRADEALERTS_HOME=str(home), TRADEALERTS_DATABASE_URL=db_url, TZ=tz)
    return subprocess.run(
        [str(EXE), "admin", "announce", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def announce(db_url: str, home: Path, *args: str, tz: str = "UTC") -> Any:
    """Announce and return the notice's JSON (``--list``: the list); it must succeed."""
    r = announce_cmd(db_url, home, *args, "--json", tz=tz)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)
