"""Tick -> SSE client latency on loopback: 1,000 open streams (100 users x 10), about 100
alerts firing per second, one uvicorn worker, the clients in another process. Latency is
the client's receive time minus the time of the tick that fired the alert (the live
synthetic feed stamps ticks with the wall clock). Target p99 <= 25 ms.

The figures are the steady state: alerts fire for BENCH_WARMUP seconds (20) before the
measured BENCH_SECONDS (15). Opening a thousand connections leaves ~200k new objects for the
cycle collector's next full pass (~0.1 s, once); the warm-up lets it happen before the
measurement, and the bench prints how many frames, warm-up included, took over 25 ms.

Every frame is accounted for, warm-up included: each stream must receive each alert event
its user's log holds (read from the database after the last alert fired) exactly once. Lost,
doubled and unexpected frames are counted per stream, and any of them fails the bench, as
does an alert that never fired: a lost frame would otherwise just leave the latency sample.
BENCH_USERS, BENCH_RATE and BENCH_SECONDS scale it down. Exits 1 when a target is missed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select

from benchkit import BIN, HERE, Targets, free_port, wait_up
from tradealerts.core.alerts import AlertCreate
from tradealerts.server.db.models import AlertChange, AlertRow, Event, User
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.security import issue_access_token

USERS = int(os.environ.get("BENCH_USERS", "100"))
STREAMS_PER_USER = 10
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
RATE = int(os.environ.get("BENCH_RATE", "100"))  # alerts fired per second
WARMUP = float(os.environ.get("BENCH_WARMUP", "20"))
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


def main() -> None:
    targets = Targets()
    home = Path(tempfile.mkdtemp(prefix="tradealerts-bench-stream-"))
    env = {
        **os.environ,
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
        db = make_engine(f"sqlite:///{home / 'server.db'}")
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
        spec_json = AlertCreate.model_validate(
            {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": 0.5}
        ).model_dump(mode="json", exclude={"name"})
        fired = 0
        t0 = time.monotonic()
        measured_from = time.time() + WARMUP  # wall clock: the client stamps frames with it
        while time.monotonic() - t0 < WARMUP + SECONDS:
            with sessions() as s:
                stamp = datetime.now(UTC)
                rows = [
                    AlertRow(
                        user_id=users[(fired + k) % USERS].id,
                        name=f"bench-{fired + k}",
                        symbol="EURUSD",
                        timeframe="H1",
                        condition="greater_than",
                        spec=spec_json,
                        status="active",
                        fire_count=0,
                        version=1,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                    for k in range(RATE // 5)  # 20 new alerts every 0.2 s, over the users
                ]
                s.add_all(rows)
                s.flush()
                s.add_all(AlertChange(alert_id=r.id, created_at=stamp) for r in rows)
                s.commit()
            fired += RATE // 5
            time.sleep(0.2)
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
    targets.exit()


if __name__ == "__main__":
    main()
