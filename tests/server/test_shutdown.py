"""`tradealerts-server serve` stops on SIGTERM with streams open: each stream gets a final
``reconnect`` frame, the process stops cleanly within the grace period, and a client resumes on the
restarted server with Last-Event-ID without losing an alert."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
    proc = serve(home, port)
    try:
        url = f"http://127.0.0.1:{port}"
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
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            for sse in (a, b):
                f = sse.until("reconnect", limit=300)
                assert f["data"]["last_event_id"] == 0
                assert "reconnect" in f["data"]["message"]
            code = proc.wait(timeout=15)
            took = time.monotonic() - t0
        # uvicorn re-raises the signal once it has shut down cleanly (systemd counts that
        # as a clean stop)
        assert code in (0, -signal.SIGTERM)
        assert took < 10, f"{took:.1f} s to stop"
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0]
    assert "Traceback" not in out, out
    # at INFO uvicorn writes its access lines (above it, make_server turns them off)
    assert '"POST /api/auth/login HTTP/1.1" 200' in out, out
