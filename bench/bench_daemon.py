"""Daemon benchmarks on a real desktop stack (D-Bus session bus, dunst on Xvfb) against a real
``tradealerts-server serve`` process:

- event received → notification call returned (desktop-notifier over D-Bus), p50/p99, as the
  daemon measures it for each alert (its "delivered event N in X ms" log line);
- idle RSS and CPU seconds per minute of the connected daemon (heartbeats every 15 s).

Targets: p99 ≤ 50 ms; ≤ 60 MB RSS; ≤ 0.5 CPU-s per minute. BENCH_ALERTS (default 60) and
BENCH_IDLE_SECONDS (default 60; the issue's 10 minutes, shortened) set the sizes. Exits 1
when a target is missed, 2 when the desktop tools are missing (``make test-deps``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchkit import Targets, smoke  # noqa: E402 - after the path that finds tests/

BIN = Path(sys.executable).parent
ALERTS = int(os.environ.get("BENCH_ALERTS", smoke("60", "5")))
IDLE = float(os.environ.get("BENCH_IDLE_SECONDS", smoke("60", "3")))
EMAIL, PASSWORD = "bench@example.com", "a long benchmark passphrase"
TOOLS = ("dbus-daemon", "Xvfb", "dunst", "dunstctl")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bare_notify_ms(env: dict[str, str], count: int) -> list[float]:
    """The notification server's own share: ``count`` desktop-notifier calls from a fresh
    process with nothing else in it, the screen cleared after each, as for the alerts."""
    code = (
        "import asyncio, json, subprocess, time\n"
        "from desktop_notifier import DesktopNotifier\n"
        "async def main():\n"
        "    n = DesktopNotifier(app_name='baseline')\n"
        "    out = []\n"
        f"    for i in range({count}):\n"
        "        t = time.perf_counter()\n"
        "        await n.send(title=f'b{i}', message='baseline')\n"
        "        out.append((time.perf_counter() - t) * 1000)\n"
        "        subprocess.run(['dunstctl', 'close-all'], check=True)\n"
        "        await asyncio.sleep(0.05)\n"
        "    print(json.dumps(out))\n"
        "asyncio.run(main())\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [float(x) for x in json.loads(r.stdout.splitlines()[-1])]


def main() -> int:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        # a check that is skipped would pass unseen: missing tools fail the bench
        print(
            f"NOT RUN: bench_daemon needs {', '.join(missing)} (Debian packages dbus, xvfb, "
            "dunst; run make test-deps)"
        )
        return 2
    targets = Targets()
    from tests.daemon.daemonkit import DaemonProc, start_desktop, store_login
    from tests.server.serverkit import free_port, wait_until

    tmp = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
    srv_env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    srv_env.update(
        TRADEALERTS_HOME=str(tmp / "server"),
        TRADEALERTS_TICK_RATE="20",
        TRADEALERTS_HISTORY_BARS="300",
        TRADEALERTS_RATE_LIMITS_ENABLED="false",
    )
    subprocess.run(
        [
            str(BIN / "tradealerts-server"),
            "admin",
            "create-user",
            EMAIL,
            "--tier",
            "PRO",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        text=True,
        env=srv_env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(BIN / "tradealerts-server"), "serve", "--port", str(port)],
        env=srv_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    desktop = start_desktop(tmp / "desktop")
    d = DaemonProc(tmp / "person", base, dict(desktop.env))
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/api/system/health", timeout=1).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_until(up, 120, "the server")
        tokens = httpx.post(
            f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=15
        ).json()
        store_login(d.home, base, tokens, EMAIL)
        (tmp / "person" / "run").mkdir(parents=True, exist_ok=True)
        d.proc = subprocess.Popen(
            [sys.executable, "-m", "tradealerts", "daemon", "run", "--notifier", "desktop"],
            env=d.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        d.wait_connected()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=15) as c:
            for i in range(ALERTS):
                body = {
                    "symbol": "EURUSD",
                    "timeframe": "H1",
                    "condition": "greater_than",
                    "level": 0.5 + i / 1000,
                }
                r = c.post("/api/alerts", json=body)
                assert r.status_code == 201, r.text
                n = i + 1
                wait_until(
                    lambda n=n: d.log_text().count("delivered event") >= n, 30, f"notification {n}"
                )
                # dismissed, as a person would: dunst redraws every notification on screen
                # for each new one, so sixty piled up would measure dunst's drawing instead
                desktop.dunstctl("close-all")
        took = [
            float(m) for m in re.findall(r"delivered event \d+ \S+ in ([\d.]+) ms", d.log_text())
        ]
        assert len(took) == ALERTS, len(took)
        assert "desktop-notifier)" in d.log_text()
        shown = len(desktop.history())
        bare = bare_notify_ms(desktop.env, ALERTS)
        pid = d.proc.pid
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(IDLE)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        rss = rss_mb(pid)
        per_minute = (cpu1 - cpu0) / (t1 - t0) * 60
        p50, p99 = statistics.median(took), percentile(took, 0.99)
        print(
            f"event received -> notification call returned (desktop-notifier, dunst over D-Bus, "
            f"{ALERTS} alerts, {shown} read back from dunst):"
        )
        print(
            f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(took):.1f} ms  "
            + targets.at_most(p99, 50, " ms", "notification p99")
        )
        print(
            f"  baseline, the same D-Bus call alone (desktop-notifier -> dunst, no daemon): "
            f"p50 {statistics.median(bare):.1f} ms, p99 {percentile(bare, 0.99):.1f} ms"
        )
        print(f"idle, connected, {IDLE:.0f} s (heartbeat every 15 s):")
        print(f"  RSS {rss:.1f} MB  " + targets.at_most(rss, 60, " MB", "idle RSS"))
        print(
            f"  CPU {per_minute:.3f} s per minute  "
            + targets.at_most(per_minute, 0.5, " s", "idle CPU")
        )
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
            d.proc.wait(15)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        desktop.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    targets.exit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
