"""``tradealerts-server lines compare`` as a subprocess: it takes serve's settings (the flags
``--feed``, ``--history-bars``, ``--buffer-map`` or the same TRADEALERTS_* variables) and says
which bars it compared (issue #23: run as the guide showed, it compared other bars than
``serve`` was given, silently)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.server.bridgekit import StandInBridge, fractal_buffers, read_bars
from tests.server.serverkit import DATA, Running
from tests.server.test_ea_standin import token_for

EXE = Path(sys.executable).parent / "tradealerts-server"
CSV = DATA / "eurusd_h1.csv"
HISTORY = 1000  # what serve is given (the replay's default is 500)
MAP = {"up_fractal": 0, "down_fractal": 1, "confirm_bars": 1}


def compare(srv: Running, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    base.update(TRADEALERTS_HOME=str(srv.settings.data_dir),
                TRADEALERTS_DATABASE_URL=srv.settings.db_url, COLUMNS="3000",
                TERMINAL_WIDTH="3000", **env)  # fmt: skip
    return subprocess.run([str(EXE), "lines", "compare", "EURUSD", "H1", *args], env=base,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def day(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def test_lines_compare_takes_serves_settings_and_says_which_bars(
    make_server: Callable[..., Running],
) -> None:
    bars = read_bars(CSV)
    times = [int(t) for t in bars["time"]]
    srv = make_server(feed=f"replay:{CSV}", replay_speed=0.0001, history_bars=HISTORY,
                      lines_source="computed,EURUSD:H1=mt5", buffer_map=MAP)  # fmt: skip
    bridge = StandInBridge(srv.url, token_for(srv))
    bridge.start(times[:HISTORY], fractal_buffers(bars)[:HISTORY])
    bridge.close()
    srv.stop()
    flags = ("--feed", f"replay:{CSV}", "--history-bars", str(HISTORY),
             "--buffer-map", json.dumps(MAP))  # fmt: skip
    by_flags = compare(srv, *flags, "--json")
    assert by_flags.returncode == 0, by_flags.stderr
    got: dict[str, Any] = json.loads(by_flags.stdout)
    assert got["compared"] == {"first": times[HISTORY - 300], "last": times[HISTORY - 1],
                               "count": 300, "feed_bars": HISTORY, "owner_bars": 300}  # fmt: skip
    # the same settings as variables give the same answer
    by_env = compare(srv, "--json", TRADEALERTS_FEED=f"replay:{CSV}",
                     TRADEALERTS_HISTORY_BARS=str(HISTORY),
                     TRADEALERTS_BUFFER_MAP=json.dumps(MAP))  # fmt: skip
    assert by_env.returncode == 0, by_env.stderr
    assert json.loads(by_env.stdout) == got
    # the table says which bars, and from which settings
    table = compare(srv, *flags)
    assert table.returncode == 0, table.stderr
    assert (f"Compared 300 bars of EURUSD H1: {day(times[HISTORY - 300])} … "
            f"{day(times[HISTORY - 1])} UTC (the last 300 of {HISTORY} loaded from feed "
            f"replay:{CSV} with history {HISTORY} bars); the bridge sent 300 of them."
            ) in table.stdout.replace("\n", " ")  # fmt: skip
    # without --history-bars the replay loads its default 500: other bars, and it says so
    short = compare(srv, "--feed", f"replay:{CSV}", "--buffer-map", json.dumps(MAP))
    assert short.returncode == 0, short.stderr
    assert f"{day(times[499])} UTC (the last 300 of 500 " in short.stdout.replace("\n", " ")
    # the buffer map given is the one used: buffers swapped, the owner's lines change
    swapped = {**MAP, "up_fractal": 1, "down_fractal": 0}
    other = compare(srv, "--feed", f"replay:{CSV}", "--history-bars", str(HISTORY),
                    "--buffer-map", json.dumps(swapped), "--json")  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["lines"]["owner"] != got["lines"]["owner"]
