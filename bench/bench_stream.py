"""Tick -> SSE client latency on loopback, with alerts created through the API: 1,000 open
streams (100 users x 10), alerts created by ``POST /api/alerts`` at 100 a second from 60
concurrent clients (each alert fires at the next tick), one uvicorn worker, the stream
clients in another process. Run on SQLite, then on PostgreSQL when
TRADEALERTS_TEST_DATABASE_URL (or BENCH_DATABASE_URL) names a server to create a database
on. Targets, for each database: 0 creation errors, creation p99 <= 250 ms (from each
request's intended start on the 100/s timetable, so a stall counts for every request it
delays), tick -> client p99 <= 25 ms.

Latency is the client's receive time minus the time of the tick that fired the alert (the
live synthetic feed stamps ticks with the wall clock). The figures are the steady state:
alerts are created for BENCH_WARMUP seconds (20) before the measured BENCH_SECONDS (15).
Opening a thousand connections leaves ~200k new objects for the cycle collector's next full
pass (~0.1 s, once); the warm-up lets it happen before the measurement, and the bench prints
how many frames, warm-up included, took over 25 ms.

Every frame is accounted for, warm-up included: each stream must receive each alert event
its user's log holds (read from the database after the last alert fired) exactly once. Lost,
doubled and unexpected frames are counted per stream, and any of them fails the bench, as
does an alert that never fired: a lost frame would otherwise just leave the latency sample.
BENCH_USERS, BENCH_RATE, BENCH_SECONDS and BENCH_WARMUP scale it down; BENCH_SMOKE=1 is a
tiny run (10 users, 100 streams, 20 alerts/s, 2 + 3 s). Exits 1 when a target is missed."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, select, text

from benchkit import BIN, HERE, SMOKE, Targets, free_port, wait_up
from tradealerts.server.db.models import Event, User
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.security import issue_access_token

USERS = int(os.environ.get("BENCH_USERS", "10" if SMOKE else "100"))
STREAMS_PER_USER = 10
SECONDS = float(os.environ.get("BENCH_SECONDS", "3" if SMOKE else "15"))
RATE = int(os.environ.get("BENCH_RATE", "20" if SMOKE else "100"))  # alerts created a second
WARMUP = float(os.environ.get("BENCH_WARMUP", "2" if SMOKE else "20"))
CLIENTS = 60  # concurrent creating clients (connections)
PG_ADMIN = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TRADEALERTS_TEST_DATABASE_URL")
SECRET = "bench-secret-key-0123456789abcdef-0123"  # noqa: S105 - a throwaway server


def account(
    frames: list[list[float]], expected: dict[int, set[int]], streams: int
) -> tuple[int, int, int]:
    """Lost, doubled and unexpected alert frames over all streams: stream ``i`` belongs to
    user number ``i // STREAMS_PER_USER`` and must get each of its user's events once."""
    got: dict[int, Counter[int]] = {i: Counter() for i in range(streams)}
    for _, _, stream, event_id in frames:
        got[int(stream)][int(event_id)] += 1
    lost = doubled = unexpected = 0
    for i, seen in got.items():
        want = expected.get(i // STREAMS_PER_USER, set())
        lost += len(want - seen.keys())
        doubled += sum(n - 1 for n in seen.values() if n > 1)
        unexpected += len(seen.keys() - want)
    return lost, doubled, unexpected


async def create_alerts(
    base: str, tokens: list[str], seconds: float, rate: float
) -> tuple[list[tuple[float, float]], list[str]]:
    """``POST /api/alerts`` on a fixed timetable of ``rate`` a second for ``seconds``, by
    CLIENTS concurrent clients, request k as user k % len(tokens): for each 201, (intended
    start as wall time, seconds from it to the answer); the errors, described."""
    body = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": 0.5}
    queue: asyncio.Queue[tuple[int, float, float]] = asyncio.Queue()
    created: list[tuple[float, float]] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while True:
                k, due, due_wall = await queue.get()
                if k < 0:
                    return
                headers = {"Authorization": f"Bearer {tokens[k % len(tokens)]}"}
                try:
                    r = await client.post("/api/alerts", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                if r.status_code == 201:
                    created.append((due_wall, time.perf_counter() - due))
                else:
                    errors.append(f"{r.status_code} {r.text[:120]}")

        workers = [asyncio.create_task(worker()) for _ in range(CLIENTS)]
        t0, wall0 = time.perf_counter(), time.time()
        for k in range(int(seconds * rate)):
            due = t0 + k / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((k, due, wall0 + k / rate))
        for _ in workers:
            queue.put_nowait((-1, 0.0, 0.0))
        await asyncio.gather(*workers)
    return created, errors


def pg_database(admin_url: str) -> tuple[str, str]:
    """A new, empty PostgreSQL database next to ``admin_url``'s: (its URL, its name)."""
    name = f"tradealerts_bench_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_pg_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    targets = Targets()
    runs = [("SQLite", None)] + ([("PostgreSQL", PG_ADMIN)] if PG_ADMIN else [])
    if not PG_ADMIN:
        print("PostgreSQL: not run (set TRADEALERTS_TEST_DATABASE_URL or BENCH_DATABASE_URL)")
    for label, admin_url in runs:
        print(f"== {label}")
        pg = pg_database(admin_url) if admin_url else None
        try:
            run(targets, pg[0] if pg else None)
        finally:
            if admin_url and pg:
                drop_pg_database(admin_url, pg[1])
    targets.exit()


def run(targets: Targets, db_url: str | None) -> None:
    home = Path(tempfile.mkdtemp(prefix="tradealerts-bench-stream-"))
    db_url = db_url or f"sqlite:///{home / 'server.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")},
        "TRADEALERTS_DATABASE_URL": db_url,
        "TRADEALERTS_HOME": str(home),
        "TRADEALERTS_SECRET_KEY": SECRET,
        "TRADEALERTS_HISTORY_BARS": "300",
        "TRADEALERTS_TICK_RATE": "10",
        "TRADEALERTS_LOG_LEVEL": "WARNING",
        "TRADEALERTS_ALERT_SYNC_SECONDS": "0.2",
    }
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "tradealerts-server"), "serve", "--port", str(port)], env=env
    )
    clients = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/api/system/health", server)
        db = make_engine(db_url)
        sessions = make_sessionmaker(db)
        now = datetime.now(UTC)
        with sessions() as s:
            users = [
                User(
                    email=f"u{i}@example.com",
                    password_hash="-",  # noqa: S106 - never logs in: the bench signs its tokens
                    tier="PRO",
                    email_verified=True,
                    created_at=now,
                    updated_at=now,
                )
                for i in range(USERS)
            ]
            s.add_all(users)
            s.commit()
        tokens = [
            issue_access_token(SECRET, u.id, "PRO", "user", now, 60, f"bench-{u.id}")[0]
            for u in users
            for _ in range(STREAMS_PER_USER)
        ]
        tokens_file = home / "tokens.json"
        tokens_file.write_text(json.dumps(tokens))
        opened = time.monotonic()
        clients = subprocess.Popen(
            [sys.executable, str(HERE / "sse_clients.py"), base, str(tokens_file),
             str(WARMUP + SECONDS + 130)],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        ready = tokens_file.with_suffix(".ready")
        deadline = time.monotonic() + 120
        while not ready.exists():  # every stream open before the first alert
            if time.monotonic() > deadline:
                raise RuntimeError("the streams did not all open in 120 s")
            time.sleep(0.1)
        print(f"{len(tokens)} streams open after {time.monotonic() - opened:.1f} s")
        measured_from = time.time() + WARMUP  # wall clock: the client stamps frames with it
        user_tokens = [tokens[k * STREAMS_PER_USER] for k in range(USERS)]
        created, errors = asyncio.run(create_alerts(base, user_tokens, WARMUP + SECONDS, RATE))
        fired = len(created)
        time.sleep(3)  # the last alerts fire and arrive
        with sessions() as s:
            logged = s.execute(
                select(Event.id, Event.user_id, Event.alert_id).where(Event.kind == "alert")
            ).all()
        tokens_file.with_suffix(".stop").write_text("")
        out, _ = clients.communicate(timeout=60)
        got = json.loads(out)
        prices = np.array(got["prices"]).reshape(-1, 2)
        every = np.array(got["alerts"]).reshape(-1, 4)
        alerts = every[every[:, 0] >= measured_from]
        lat_ms = alerts[:, 1] * 1000
        price_ms = prices[prices[:, 0] >= measured_from][:, 1] * 1000
        number = {u.id: k for k, u in enumerate(users)}
        expected: dict[int, set[int]] = {}
        for event_id, user_id, _ in logged:
            expected.setdefault(number[user_id], set()).add(event_id)
        fires = Counter(alert_id for _, _, alert_id in logged)
        unfired = fired - len(fires)
        twice = sum(1 for n in fires.values() if n > 1)
        lost, doubled, unexpected = account(every.tolist(), expected, len(tokens))
        print(
            f"{USERS * STREAMS_PER_USER} streams, {fired} alerts created over "
            f"{WARMUP + SECONDS:.0f} s (~{fired / (WARMUP + SECONDS):.0f}/s), {len(logged)} "
            f"events logged, {len(every)} alert frames received (expected "
            f"{len(logged) * STREAMS_PER_USER}); {int((every[:, 1] > 0.025).sum())} over 25 ms, "
            "warm-up included"
        )
        print(
            f"accounting, warm-up included: alerts never fired {unfired}, fired twice {twice}; "
            f"frames lost {lost}, doubled {doubled}, unexpected {unexpected}; streams failed "
            f"{got['failed_streams']}  "
            + targets.exactly(
                unfired + twice + lost + doubled + unexpected + got["failed_streams"],
                0,
                "every alert fired once and every frame arrived once",
            )
        )
        made_ms = np.array([s for due, s in created if due >= measured_from]) * 1000
        print(
            f"creations (POST /api/alerts, {RATE}/s from {CLIENTS} clients): {len(created)} "
            f"created, {len(errors)} errors"
            + (f" (e.g. {errors[0]})" if errors else "")
            + "  "
            + targets.exactly(len(errors), 0, "creation errors")
        )
        if len(made_ms):
            print(
                f"  creation latency from the intended start, measured seconds: p50 "
                f"{np.percentile(made_ms, 50):.1f} ms, p99 {np.percentile(made_ms, 99):.1f} ms, "
                f"max {made_ms.max():.1f} ms  "
                + targets.at_most(float(np.percentile(made_ms, 99)), 250, " ms", "creation p99")
            )
        print(f"measured: the last {SECONDS:.0f} s, {len(alerts)} alert frames")
        if len(lat_ms):
            print(
                f"tick -> SSE client latency: p50 {np.percentile(lat_ms, 50):.1f} ms, "
                f"p99 {np.percentile(lat_ms, 99):.1f} ms, max {lat_ms.max():.1f} ms  "
                + targets.at_most(float(np.percentile(lat_ms, 99)), 25, " ms", "p99")
            )
        else:
            print("no alert frame in the measured seconds  " + targets.exactly(1, 0, "frames"))
        if len(price_ms):
            print(
                f"  live price frames meanwhile: p50 {np.percentile(price_ms, 50):.1f} ms, "
                f"p99 {np.percentile(price_ms, 99):.1f} ms"
            )
        db.dispose()
    finally:
        for p in (server, clients):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:  # open streams can hold a graceful stop
                    p.kill()


if __name__ == "__main__":
    main()
