"""`tradealerts-server serve` stops on SIGTERM with streams open: each stream gets a final
``reconnect`` frame, the process stops cleanly within the grace period, and a client resumes on the
restarted server with Last-Event-ID without losing an alert."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from tests.server.serverkit import SSE, free_port, wait_until

EXE = Path(sys.executable).parent / "tradealerts-server"
PW = "a good long passphrase"


def serve(home: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")},
        "TRADEALERTS_HOME": str(home),
        "TRADEALERTS_SECRET_KEY": "shutdown-test-secret-key-0123456789",
        "TRADEALERTS_HISTORY_BARS": "200",
        "TRADEALERTS_STREAM_HEARTBEAT_SECONDS": "60",  # nothing but the shutdown ends a read
    }
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port), "--feed", "synthetic", "--log-level", "info"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/system/health", timeout=1).is_success
        except httpx.HTTPError:
            assert proc.poll() is None, proc.communicate()[0]
            return False

    wait_until(up, timeout=60, what="the server to start")
    return proc


def _fire(c: httpx.Client, message: str) -> int:
    """An alert that fires on the synthetic feed's next tick (its price is far above)."""
    body = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": 0.5,
            "message": message}  # fmt: skip
    r = c.post("/api/alerts", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_sigterm_ends_open_streams_and_stops(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    r = subprocess.run(
        [str(EXE), "admin", "create-user", "s@example.com", "--password-stdin"],
        input=PW + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "TRADEALERTS_HOME": str(home)},
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    url = f"http://127.0.0.1:{port}"
    proc = serve(home, port)
    try:
        token = httpx.post(
            f"{url}/api/auth/login", json={"email": "s@example.com", "password": PW}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": "0"}
        with (
            httpx.Client(base_url=url, headers=headers, timeout=30) as c,
            c.stream("GET", "/api/stream", params={"symbols": "EURUSD:H1"}) as s1,
            c.stream("GET", "/api/stream") as s2,
        ):
            a, b = SSE(s1), SSE(s2)
            assert a.frame() == {"retry": "3000"} and b.frame() == {"retry": "3000"}
            a.until("price")  # the stream is live
            before = _fire(c, "before the restart")
            fired = [sse.until("alert") for sse in (a, b)]
            assert [f["data"]["alert_id"] for f in fired] == [before, before]
            last = int(fired[0]["id"])
            assert int(fired[1]["id"]) == last
            proc.send_signal(signal.SIGTERM)
            for sse in (a, b):
                f = sse.until("reconnect", limit=300)
                assert f["data"]["last_event_id"] == last  # where to resume
                assert "reconnect" in f["data"]["message"]
            code = proc.wait(timeout=60)  # the grace period is 10 s; a hang fails here
        # uvicorn re-raises the signal once it has shut down cleanly (systemd counts that
        # as a clean stop)
        assert code in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0]
    assert "Traceback" not in out, out
    # at INFO uvicorn writes its access lines (above it, make_server turns them off)
    assert '"POST /api/auth/login HTTP/1.1" 200' in out, out

    # The restarted server (same home and database) fires an alert while no stream is open;
    # the client resumes with the Last-Event-ID it was given: that alert, once, and nothing
    # from before (the first alert, triggered, never fires again).
    proc = serve(home, port)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as c:  # fmt: skip
            after = _fire(c, "while away")
            wait_until(lambda: c.get("/api/alerts/history").json()["total"] == 2, 30, "the fire")
            sentinel = _fire(c, "after the resume")
            with c.stream("GET", "/api/stream", headers={"Last-Event-ID": str(last)}) as s:
                sse = SSE(s)
                resumed = [sse.until("alert") for _ in range(2)]
            items = c.get("/api/alerts/history").json()["items"]
        assert [f["data"]["alert_id"] for f in resumed] == [after, sentinel]
        assert last < int(resumed[0]["id"]) < int(resumed[1]["id"])
        history = [(i["alert_id"], i["id"]) for i in items]
        assert sorted(history, key=lambda x: x[1]) == [
            (before, last), (after, int(resumed[0]["id"])), (sentinel, int(resumed[1]["id"]))
        ]  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
