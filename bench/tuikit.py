"""What the TUI's live and memory benchmarks share: a replay file of M5 bars written for the
run, a real server (``tradealerts-server serve``) replaying it at a chosen speed, a PRO user
logged in the way ``tradealerts login`` does it, and the probe app (``tui_probe.py``) run in a
real terminal (tmux) until it writes its figures."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchkit import HERE, free_port, need, pinned, pro_user_server

EMAIL, PASSWORD = "bench-tui@example.com", "a long benchmark passphrase"
TICKS_PER_BAR = 4  # the replay feed's (server.feeds.replay.TICKS_PER_BAR)
HISTORY_BARS = 600


def write_m5(path: Path, bars: int, seed: int = 7) -> None:
    """``bars`` M5 bars of EURUSD after HISTORY_BARS of history: a seeded random walk."""
    rnd = random.Random(seed)
    t = datetime(2024, 1, 1, tzinfo=UTC)
    price = 1.08
    rows = ["time,open,high,low,close,volume"]
    for _ in range(HISTORY_BARS + bars):
        o = price
        c = max(0.5, o + rnd.gauss(0, 0.0004))
        h, lo = max(o, c) + abs(rnd.gauss(0, 0.0002)), min(o, c) - abs(rnd.gauss(0, 0.0002))
        rows.append(
            f"{t:%Y-%m-%dT%H:%M:%SZ},{o:.5f},{h:.5f},{lo:.5f},{c:.5f},{rnd.randint(50, 900)}"
        )
        price, t = c, t + timedelta(minutes=5)
    path.write_text("\n".join(rows) + "\n")


@contextmanager
def replay_server(tmp: Path, bars: int, speed: float) -> Iterator[dict[str, str]]:
    """A server replaying ``bars`` M5 bars at ``speed`` bars a second (``TICKS_PER_BAR``
    price frames each), with a PRO user logged in; yields the client's environment."""
    data = tmp / "EURUSD_M5.csv"
    write_m5(data, bars)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp / "home"
    home.mkdir()
    client_env = {
        "TRADEALERTS_HOME": str(home),
        "TRADEALERTS_SERVER": base,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "HOME": str(tmp),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(HERE),
        # to read where time or memory goes: a cProfile file, tracemalloc's biggest growth
        **{
            k: os.environ[k]
            for k in ("BENCH_TUI_PROFILE", "BENCH_TUI_TRACEMALLOC")
            if os.environ.get(k)
        },
    }
    server_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")},
        "TRADEALERTS_HOME": str(tmp / "server"),
        "TRADEALERTS_FEED": f"replay:{data}",
        "TRADEALERTS_HISTORY_BARS": str(HISTORY_BARS),
        "TRADEALERTS_REPLAY_SPEED": str(speed),
    }
    # the server on core 0, the terminal and the app on core 1: a client machine's app does
    # not share its core with the server
    login_env = {**os.environ, **client_env}
    with pro_user_server(port, server_env, login_env, EMAIL, PASSWORD, core=0):
        yield client_env


def run_probe(env: dict[str, str], out: Path, args: list[str], timeout: float) -> dict[str, Any]:
    """``tui_probe.py`` in a tmux terminal of 120 x 40; its figures."""
    socket = f"bench-tui-{os.getpid()}-{out.stem}"
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    probe = " ".join(pinned(1, [sys.executable, str(HERE / "tui_probe.py"), *args, str(out)]))
    command = f"env -i {exports} {probe} 2> {out}.err"
    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", "tui", "-x", "120", "-y",
                    "40", command], check=True)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(0.5)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False, capture_output=True)
    if not out.exists():
        err = Path(f"{out}.err")
        raise SystemExit(f"the probe wrote nothing in {timeout:.0f} s; stderr:\n"
                         f"{err.read_text() if err.exists() else ''}")  # fmt: skip
    result: dict[str, Any] = json.loads(out.read_text())
    if "error" in result:
        raise SystemExit(f"the probe failed: {result['error']}")
    return result


def need_tmux(what: str) -> None:
    """Exit 2 with the reason when tmux is missing: a TUI bench that cannot run fails."""
    need(what, "tmux", hint="make test-deps")
