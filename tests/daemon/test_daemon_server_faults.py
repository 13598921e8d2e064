"""The server fails, the daemon does not: a real ``tradealerts-server serve`` process killed
with SIGKILL mid-stream; while its port is dark, a second server process on the same database
fires alerts into the log; then the server comes back on the same port. Every alert reaches the
daemon exactly once, in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.daemon.daemonkit import DaemonProc, store_login
from tests.server.serverkit import free_port, wait_until

EXE = Path(sys.executable).parent / "tradealerts-server"
EMAIL, PASSWORD = "fault@example.com", "a good long passphrase"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    env.update(
        TRADEALERTS_HOME=str(home),
        TRADEALERTS_TICK_RATE="20",
        TRADEALERTS_HISTORY_BARS="300",
        TRADEALERTS_STREAM_HEARTBEAT_SECONDS="2",
    )
    return env


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port)],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=(home / f"serve-{port}.log").open("ab"),
    )

    def up() -> bool:
        try:
            return httpx.get(
                f"http://127.0.0.1:{port}/api/system/health", timeout=1
            ).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=60, what="the server to start")
    return proc


def _login(base: str) -> dict[str, Any]:
    r = httpx.post(
        f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=15
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _fire_alert(base: str, token: str, level: float) -> None:
    """An alert that fires on the next tick of the synthetic feed (its price is far above)."""
    r = httpx.post(
        f"{base}/api/alerts",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
        json={"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": level},
    )
    assert r.status_code == 201, r.text


def _fired(base: str, token: str) -> int:
    r = httpx.get(
        f"{base}/api/alerts/history", headers={"Authorization": f"Bearer {token}"}, timeout=15
    )
    return int(r.json()["total"])


@pytest.mark.slow
def test_server_sigkill_outage_with_a_second_server_then_restart(tmp_path: Path) -> None:
    srv_home = tmp_path / "server"
    srv_home.mkdir()
    subprocess.run(
        [str(EXE), "admin", "create-user", EMAIL, "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=_env(srv_home),
        check=True,
        capture_output=True,
    )
    port, other = free_port(), free_port()
    base, base2 = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{other}"
    first = serve(srv_home, port)
    procs = [first]
    # Reconnect attempts at most 2 s apart (60 s by default): the outage's length changes only
    # how many attempts fail, not what the daemon asks for when one succeeds (Last-Event-ID).
    d = DaemonProc(tmp_path / "person", base, {"TRADEALERTS_DAEMON_BACKOFF_CAP": "2"})
    try:
        tokens = _login(base)
        store_login(d.home, base, tokens, EMAIL)
        d.start()
        d.wait_connected()
        token = tokens["access_token"]
        _fire_alert(base, token, 0.5)
        d.wait_deliveries(1)

        first.send_signal(signal.SIGKILL)  # mid-stream: no goodbye, no flush
        first.wait(10)
        wait_until(lambda: d.status().get("connected") is False, 20, "the daemon to notice")

        second = serve(srv_home, other)  # another process on the same database fires meanwhile
        procs.append(second)
        _fire_alert(base2, token, 0.6)
        _fire_alert(base2, token, 0.7)
        wait_until(lambda: _fired(base2, token) == 3, 30, "two alerts fired by the second server")
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        assert len(d.deliveries()) == 1  # the daemon's server is still dark

        procs.append(serve(srv_home, port))  # back on the same port and database
        d.wait_deliveries(3, timeout=60)
        _fire_alert(base, token, 0.8)
        d.wait_deliveries(4)
        _fire_alert(base, token, 0.9)  # a sentinel: a doubled delivery would come before it
        got = d.wait_deliveries(5)
        assert [g["id"] for g in got] == [1, 2, 3, 4, 5]  # zero lost, zero doubled, in order
        assert [g["level"] for g in got] == [0.5, 0.6, 0.7, 0.8, 0.9]
        assert "(Last-Event-ID 1)" in d.log_text()
        assert d.status()["reconnects"] >= 1
    finally:
        d.kill()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
