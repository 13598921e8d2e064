"""A real ``tradealerts-server serve`` process killed with SIGKILL mid-stream and restarted:
every alert event a client saw is still in the log, resumable, and nothing fires twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests.server.serverkit import SSE, free_port, wait_until

EXE = Path(sys.executable).parent / "tradealerts-server"
PASSWORD = "a good long passphrase"


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRADEALERTS_HOME": str(home),
        "TRADEALERTS_TICK_RATE": "20",
        "TRADEALERTS_HISTORY_BARS": "300",
    }
    env.pop("TRADEALERTS_DATABASE_URL", None)
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def up() -> bool:
        try:
            return httpx.get(
                f"http://127.0.0.1:{port}/api/system/health", timeout=1
            ).status_code in (
                200,
                503,
            )
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=60, what="the server to start")
    return proc


def login(base: str) -> httpx.Client:
    r = httpx.post(f"{base}/api/auth/login", json={"email": "k@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {r.json()['access_token']}"}, timeout=15
    )


def test_sigkill_loses_no_committed_event_and_fires_nothing_twice(tmp_path: Path) -> None:
    env = {**os.environ, "TRADEALERTS_HOME": str(tmp_path)}
    env.pop("TRADEALERTS_DATABASE_URL", None)
    subprocess.run(
        [str(EXE), "admin", "create-user", "k@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(tmp_path, port)
    seen: list[dict[str, Any]] = []
    try:
        c = login(base)
        with c.stream("GET", "/api/stream") as r:
            sse = SSE(r)
            for level in (0.5, 0.6, 0.7):
                body = {
                    "symbol": "EURUSD",
                    "timeframe": "H1",
                    "condition": "greater_than",
                    "level": level,
                }
                assert c.post("/api/alerts", json=body).status_code == 201
            seen = [sse.until("alert") for _ in range(3)]
        proc.send_signal(signal.SIGKILL)  # no shutdown, no flush, no goodbye
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    ids = [int(f["id"]) for f in seen]

    proc = serve(tmp_path, port)
    try:
        c = login(base)
        with c.stream("GET", "/api/stream", headers={"Last-Event-ID": "0"}) as r:
            sse = SSE(r)
            replayed = [sse.until("alert") for _ in range(3)]
        assert [int(f["id"]) for f in replayed] == ids
        assert [f["data"] for f in replayed] == [f["data"] for f in seen]
        time.sleep(1.0)  # ticks keep coming: a triggered `once` alert never fires again
        history = c.get("/api/alerts/history").json()
        assert history["total"] == 3
        alerts = c.get("/api/alerts").json()["items"]
        assert [(a["status"], a["fire_count"]) for a in alerts] == [("triggered", 1)] * 3
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
