"""Server memory under many users: 1,000,000 requests from 20,000 users (50 each, PRO, the
hourly quota counted on every request) to ``GET /api/indicators/EURUSD/H1``, the route every
chart and TUI session polls, and the server's RSS after them. Target: RSS <= 250 MB (the
server holds 15 x 9 x 5,000 bars; issue #22 measured 225 MB at start growing to 301 MB over
1.1 M requests of 23,700 users, from per-user state kept for the hour).

How it is driven: the server (one uvicorn worker) on core 0, ``wrk`` on core 1
(``bench/wrk_tokens.lua``: each token serves its 50 requests, 16 users take turns on 16
connections, ``bench/wrk_users.lua``) until every request is answered.
Users are written to the database and their tokens signed with the
server's key (20,000 password hashes would time argon2, not the server). Any refusal (429)
or error fails the bench.

BENCH_SMOKE=1: 10,000 requests from 200 users. BENCH_REQUESTS and BENCH_USERS set the sizes.
Exits 1 when a target is missed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from benchkit import BIN, HERE, SMOKE, Targets, free_port, need, pinned, wait_up
from tradealerts.server.db.models import User
from tradealerts.server.db.session import make_engine
from tradealerts.server.security import issue_access_token

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "10000" if SMOKE else "1000000"))
USERS = int(os.environ.get("BENCH_USERS", "200" if SMOKE else "20000"))
CONNECTIONS = 16
SECRET = "bench-secret-key-0123456789abcdef-0123"  # noqa: S105 - a throwaway server


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_users(db_url: str, count: int) -> list[str]:
    """``count`` PRO users in the server's database; their access tokens."""
    db = make_engine(db_url)
    now = datetime.now(UTC)
    rows = [
        {
            "email": f"mem{i}@example.com",
            "password_hash": "-",  # never logs in
            "tier": "PRO",
            "email_verified": True,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with db.begin() as conn:
        conn.execute(insert(User), rows)
        ids = list(conn.execute(select(User.id).order_by(User.id)).scalars())
    db.dispose()
    return [issue_access_token(SECRET, i, "PRO", "user", now, 120, f"mem-{i}")[0] for i in ids]


def wrk_run(url: str, tokens: Path, count: int, per: int) -> dict[str, float]:
    """``count`` users' ``per`` requests each, through wrk on core 1, to the last answer."""
    marker = tokens.with_suffix(".done")
    wrk = subprocess.Popen(
        pinned(1, ["wrk", "-t1", f"-c{CONNECTIONS}", "-d36000s",
                   "-s", str(HERE / "wrk_users.lua"), url, "--",
                   str(tokens), "0", str(count), str(per), str(CONNECTIONS), str(marker)]),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not marker.exists() and wrk.poll() is None:
        time.sleep(0.2)
    wrk.send_signal(signal.SIGINT)  # it reports, then exits
    out, _ = wrk.communicate(timeout=60)
    return dict(json.loads([line for line in out.splitlines() if line.startswith("{")][-1]))


def main() -> None:
    need("bench_memory", "wrk")
    targets = Targets()
    home = Path(tempfile.mkdtemp(prefix="tradealerts-bench-memory-"))
    db_url = f"sqlite:///{home / 'server.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")},
        "TRADEALERTS_HOME": str(home),
        "TRADEALERTS_SECRET_KEY": SECRET,
        "TRADEALERTS_HISTORY_BARS": "5000",
        "TRADEALERTS_LOG_LEVEL": "WARNING",
    }
    per = -(-REQUESTS // USERS)
    port = free_port()
    server = subprocess.Popen(
        pinned(0, [str(BIN / "tradealerts-server"), "serve", "--port", str(port)]), env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/api/system/health", server)
        tokens = make_users(db_url, USERS + 1)
        tokens_file = home / "tokens.txt"
        tokens_file.write_text("\n".join(tokens) + "\n")
        url = f"{base}/api/indicators/EURUSD/H1?bars=300"
        time.sleep(2)
        start_rss = rss_mb(server.pid)
        print(f"server RSS after start (15 x 9 x 5,000 bars): {start_rss:.0f} MB")
        began = time.monotonic()
        r = wrk_run(url, tokens_file, USERS, per)
        took = time.monotonic() - began
        sent, errors = int(r["requests"]), int(r["errors"])
        end_rss = rss_mb(server.pid)
        print(
            f"{sent:,} requests from {USERS:,} users in {took:.0f} s ({sent / took:,.0f}/s); "
            f"{errors} "
            "errors or refusals  " + targets.exactly(errors, 0, "errors")
        )
        print(
            f"server RSS after them: {end_rss:.0f} MB (grew {end_rss - start_rss:+.0f} MB)  "
            + targets.at_most(end_rss, 250, " MB", "RSS")
        )
        if sent < per * USERS:
            print(f"only {sent:,} of {per * USERS:,} answered  " + targets.exactly(1, 0, "sent"))
    finally:
        server.terminate()
        server.wait(15)
        shutil.rmtree(home, ignore_errors=True)
    targets.exit()


if __name__ == "__main__":
    main()
