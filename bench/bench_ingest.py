"""Ingest benchmark (issue #16): the MT5 bridge's posts through their real path (token check,
body checks, the upsert in SQLite, the redraw of the owner's lines over 5,000 bars).

A ``tradealerts-server serve`` subprocess (synthetic feed, 5,000 bars of history, EURUSD H1
served from the owner's lines) on core 0; this process posts from core 1, sequentially:

- **history**: the EA's start, 5,000 bars x 2 buffers in one request (one redraw);
- **per bar**: BENCH_INGEST_POSTS (200) posts of the EA's look-back (10 bars), each changing
  the newest bar's values so that every post writes and redraws (the worst case: a real
  post changes nothing most of the time). Latency percentiles over them.

Exits 1 when a target is missed."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time

import httpx

from benchkit import BIN, Targets, free_port, pinned, smoke, wait_up
from tradealerts.core.ingest import EMPTY_VALUE

POSTS = int(os.environ.get("BENCH_INGEST_POSTS", smoke("200", "10")))
HISTORY = 5000
SECRET = "bench-secret-key-0123456789abcdef-0123"  # noqa: S105 - a throwaway server
H1 = 3600


def buffers(count: int) -> list[list[float]]:
    """Fractal-like buffers: an up mark every 5 bars, a down mark between."""
    up = [1.1 + (i % 7) * 1e-4 if i % 5 == 2 else EMPTY_VALUE for i in range(count)]
    down = [1.0 + (i % 3) * 1e-4 if i % 5 == 4 else EMPTY_VALUE for i in range(count)]
    return [[u, d] for u, d in zip(up, down, strict=True)]


def body(times: list[int], rows: list[list[float]], k: int) -> dict[str, object]:
    rows = [list(r) for r in rows]
    if k:
        rows[-1][0] = 1.2 + (k % 2) * 1e-4  # each post changes the newest bar: write + redraw
    bars = [{"time": t, "values": v} for t, v in zip(times, rows, strict=True)]
    return {"symbol": "EURUSD", "timeframe": "H1", "buffers": [0, 1], "bars": bars}


def main() -> None:
    targets = Targets()
    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        env = {
            **os.environ,
            "TRADEALERTS_HOME": home,
            "TRADEALERTS_SECRET_KEY": SECRET,
            "TRADEALERTS_PORT": str(port),
            "TRADEALERTS_FEED": "synthetic",
            "TRADEALERTS_HISTORY_BARS": str(HISTORY),
            "TRADEALERTS_LINES_SOURCE": "computed,EURUSD:H1=mt5",
            "TRADEALERTS_LOG_LEVEL": "WARNING",
        }
        made = subprocess.run(
            [str(BIN / "tradealerts-server"), "ingest-token", "create"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        token = made.stdout.split()[0]
        proc = subprocess.Popen(pinned(0, [str(BIN / "tradealerts-server"), "serve"]), env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_up(f"{url}/api/system/health", proc)
            now = int(time.time())
            last = now - now % H1 - H1  # the last closed H1 bar
            times = [last - (HISTORY - 1 - i) * H1 for i in range(HISTORY)]
            recent = buffers(HISTORY)[-10:]
            with httpx.Client(base_url=url, timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as c:  # fmt: skip
                t0 = time.perf_counter()
                r = c.post("/api/ingest/indicators", json=body(times, buffers(HISTORY), 0))
                history_s = time.perf_counter() - t0
                assert r.status_code == 200, r.text
                assert r.json()["stored"] == HISTORY, r.text
                lat = []
                for k in range(1, POSTS + 1):
                    t0 = time.perf_counter()
                    r = c.post("/api/ingest/indicators", json=body(times[-10:], recent, k))
                    lat.append((time.perf_counter() - t0) * 1e3)
                    assert r.status_code == 200 and r.json()["stored"] == 1, r.text
            health = httpx.get(f"{url}/api/system/health").json()
            assert health["lines"]["series"]["EURUSD:H1"]["bars"] == HISTORY
        finally:
            proc.terminate()
            proc.wait(30)
    lat.sort()
    p50, p95 = statistics.median(lat), lat[int(0.95 * (len(lat) - 1))]
    print(f"history post, {HISTORY} bars x 2 buffers (write + redraw): {history_s:.2f} s "
          f"{targets.at_most(history_s, 3.0, ' s', 'history post')}")  # fmt: skip
    print(f"per-bar post (10 bars, 1 changed, redraw of {HISTORY} bars), {POSTS} posts: "
          f"p50 {p50:.1f} ms {targets.at_most(p50, 100, ' ms', 'per-bar p50')}, "
          f"p95 {p95:.1f} ms {targets.at_most(p95, 250, ' ms', 'per-bar p95')}")  # fmt: skip
    targets.exit()


if __name__ == "__main__":
    main()
