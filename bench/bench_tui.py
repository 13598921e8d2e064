"""TUI benchmark: ``tradealerts tui`` started in a real terminal (tmux) until its first frame
with data (the chart's line legend and the last price on screen), against a local server.
Median of 5 runs; exits non-zero when the target (<= 1.0 s) is missed."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchkit import Targets, free_port, pro_user_server, smoke
from tuikit import EMAIL, PASSWORD, need_tmux

RUNS = smoke(5, 1)
TARGET_S = 1.0


def tmux(socket: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                         check=False)  # fmt: skip
    if out.returncode and args[0] != "kill-server":
        print("tmux:", out.stderr.strip(), file=sys.stderr)
    return out.stdout


def first_frame(env: dict[str, str], socket: str) -> float:
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    command = f"env -i {exports} {sys.executable} -m tradealerts tui --no-bell"
    t0 = time.perf_counter()
    tmux(socket, "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", command)
    try:
        while time.perf_counter() - t0 < 30:
            screen = tmux(socket, "capture-pane", "-p", "-t", "tui")
            if "Lines:" in screen and "last " in screen:
                return time.perf_counter() - t0
            time.sleep(0.005)
        raise SystemExit(f"no chart after 30 s; the screen:\n{screen}")
    finally:
        tmux(socket, "kill-server")


def main() -> int:
    need_tmux("tradealerts tui start")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "TRADEALERTS_HOME": tmp,
            "TRADEALERTS_SERVER": base,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "HOME": tmp,
            "PATH": os.environ.get("PATH", ""),
        }
        server_env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")},
                      "TRADEALERTS_HOME": tmp}  # fmt: skip
        with pro_user_server(port, server_env, {**os.environ, **env}, EMAIL, PASSWORD):
            # a tmux server of our own per run: a new one on a socket just killed can race
            socket = f"bench-tui-{os.getpid()}"
            first_frame(env, f"{socket}-warm")  # warm the bytecode cache
            runs = [first_frame(env, f"{socket}-{n}") for n in range(RUNS)]
    median = statistics.median(runs)
    targets = Targets()
    print(
        f"tradealerts tui start to the first frame with data: {median * 1e3:.0f} ms median of "
        f"{RUNS} (min {min(runs) * 1e3:.0f}, max {max(runs) * 1e3:.0f})  "
        f"{targets.at_most(median * 1e3, TARGET_S * 1e3, ' ms', 'tui start')} "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    targets.exit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
