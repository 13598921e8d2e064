"""Scale-out (issue #17) on this machine: an engine, two API processes, PostgreSQL, Redis and
the load generators, all on loopback.

- **bus**: ``bus:market`` price frames offered to the engine's ``Publisher`` as the engine
  offers them, BENCH_BUS_PER_PASS (15) a pass of its loop, the passes on a timetable of
  BENCH_BUS_OFFERED (25,000) frames/s; the engine never waits for the bus, so whatever
  queued while an ``XADD`` was on its way goes in the next one. Read back by another process
  with ``XREAD``, every frame decoded: events/s from the first pass to the last entry read.
  Target >= 20,000/s, with the frames per entry and the deepest queue printed.
- **streams**: BENCH_USERS (500) users x 10 streams = 5,000 open streams, half on each API
  process; ~BENCH_RATE (100) alerts/s created as an API process does (the row, the change
  row, an entry on ``bus:changes``) fire on the engine's next tick. Latency is the client's
  receive time minus the firing tick's time (the synthetic feed stamps the wall clock).
  Every frame is accounted for (each stream must get each of its user's logged events once).
  Targets: p99 <= 100 ms, zero lost.
- **indicators**: ``GET /api/indicators/EURUSD/H1?bars=200`` driven by wrk (core 1) against
  one embedded ``serve`` and one scale-out API process (core 0 each, in turn), quota on.
  Per-request cost is 1 / throughput; target: scale-out <= 1.2 x embedded.
- **failover**: the leader SIGKILLed; seconds until the standby fires the first alert
  (created after the kill). Target <= 10 s (lease 5 s).

Uses TRADEALERTS_TEST_DATABASE_URL (a PostgreSQL the bench may create a database in; default
the machine's, postgres@127.0.0.1:5432) and TRADEALERTS_TEST_REDIS_URL (default
127.0.0.1:6379/0; keys under a prefix of the bench's own, deleted afterwards).
BENCH_ONLY=bus,streams,indicators,failover picks parts. Exits 1 when a target is missed."""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import redis
from sqlalchemy import create_engine, select, text

from bench_stream import STREAMS_PER_USER, account
from benchkit import BIN, HERE, Targets, free_port, need, pinned, smoke, wait_up
from tradealerts.core.alerts import AlertCreate
from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.models import AlertChange, AlertRow, Event, User
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.security import issue_access_token

#: the machine's PostgreSQL, as the tests use it (the bench creates and drops its database)
PG_URL = os.environ.get(
    "TRADEALERTS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TRADEALERTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ONLY = set(os.environ.get("BENCH_ONLY", "bus,streams,indicators,failover").split(","))
USERS = int(os.environ.get("BENCH_USERS", smoke("500", "10")))
RATE = int(os.environ.get("BENCH_RATE", smoke("100", "20")))
SECONDS = float(os.environ.get("BENCH_SECONDS", smoke("15", "3")))
WARMUP = float(os.environ.get("BENCH_WARMUP", smoke("10", "2")))
BUS_EVENTS = int(os.environ.get("BENCH_BUS_EVENTS", smoke("100000", "3000")))
# frames the engine hands the publisher per pass of its loop: one feed event, ~15 symbols' prices
BUS_PER_PASS = int(os.environ.get("BENCH_BUS_PER_PASS", "15"))
BUS_OFFERED = float(os.environ.get("BENCH_BUS_OFFERED", "25000"))
SECRET = "bench-secret-key-0123456789abcdef-0123"  # noqa: S105 - a throwaway deployment
_NAMES = itertools.count(1)
SPEC = AlertCreate.model_validate(
    {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": 0.5}
).model_dump(mode="json")


@contextmanager
def database() -> Iterator[str]:
    name = f"tradealerts_bench_{secrets.token_hex(5)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Deployment:
    """Processes sharing one database, one Redis prefix and one secret."""

    def __init__(self, db_url: str, home: Path, **env: str) -> None:
        self.db_url = db_url
        self.prefix = f"bench-{secrets.token_hex(4)}"
        self.home = home
        self.env = {
            **os.environ,
            "TRADEALERTS_DATABASE_URL": db_url,
            "TRADEALERTS_REDIS_URL": REDIS_URL,
            "TRADEALERTS_REDIS_PREFIX": self.prefix,
            "TRADEALERTS_SECRET_KEY": SECRET,
            "TRADEALERTS_HOME": str(home),
            "TRADEALERTS_HISTORY_BARS": "300",
            "TRADEALERTS_TICK_RATE": "10",
            "TRADEALERTS_LOG_LEVEL": "WARNING",
            **env,
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        db = make_engine(db_url)
        upgrade(db)
        self.sessions = make_sessionmaker(db)

    def start(self, *args: str, core: int | None = None, **env: str) -> subprocess.Popen[bytes]:
        argv = [str(BIN / "tradealerts-server"), *args]
        p = subprocess.Popen(argv if core is None else pinned(core, argv), env={**self.env, **env})
        self.procs.append(p)
        return p

    def api(self, core: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        p = self.start("serve", "--scale-out", "--port", str(port), core=core)
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/api/openapi.json", p)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the mirror holds the leader's market
            import httpx

            if httpx.get(f"{url}/api/system/health").status_code == 200:
                break
            time.sleep(0.2)
        return url, p

    def users(self, count: int) -> tuple[list[int], list[str]]:
        now = datetime.now(UTC)
        with self.sessions() as s:
            rows = [
                User(
                    email=f"b{i}-{secrets.token_hex(3)}@example.com",
                    password_hash="-",  # noqa: S106 - never logs in: the bench signs tokens
                    tier="PRO",
                    email_verified=True,
                    created_at=now,
                    updated_at=now,
                )
                for i in range(count)
            ]
            s.add_all(rows)
            s.commit()
            ids = [u.id for u in rows]
        tokens = [issue_access_token(SECRET, i, "PRO", "user", now, 60, f"b-{i}")[0] for i in ids]
        return ids, tokens

    def create_alerts(self, user_ids: list[int], r: redis.Redis) -> list[int]:
        """Alerts as an API process creates them: the row, its change row, a bus entry."""
        stamp = datetime.now(UTC)
        with self.sessions() as s:
            rows = [
                AlertRow(
                    user_id=u,
                    name=f"bench-{next(_NAMES)}",  # names are unique per user (issue #15)
                    symbol="EURUSD",
                    timeframe="H1",
                    condition="greater_than",
                    spec=SPEC,
                    status="active",
                    fire_count=0,
                    version=1,
                    created_at=stamp,
                    updated_at=stamp,
                )
                for u in user_ids
            ]
            s.add_all(rows)
            s.flush()
            s.add_all(AlertChange(alert_id=row.id, created_at=stamp) for row in rows)
            s.commit()
            ids = [row.id for row in rows]
        pipe = r.pipeline(transaction=False)
        for i in ids:
            pipe.xadd(f"{self.prefix}:bus:changes", {"a": str(i)}, maxlen=100_000, approximate=True)
        pipe.execute()
        return ids

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(f"{self.prefix}*"):  # the bench's "-e" embedded one too
            r.delete(key)


def _reader(url: str, key: str, n: int, out: Any) -> None:
    """Another process reading the stream as an API process does: every frame decoded."""
    from tradealerts.server.scale.mirror import event_of

    r = redis.Redis.from_url(url)
    pos, seen, entries = "0-0", 0, 0
    while seen < n:
        got = r.xread({key: pos}, count=1000, block=5000)
        if not got:
            break
        for entry_id, fields in got[0][1]:
            entries += 1
            for frame in json.loads(fields[b"f"]):
                event_of(frame["k"], frame["d"])
                seen += 1
            pos = entry_id
    out.put((seen, entries, time.time()))


def bench_bus(targets: Targets) -> None:
    from tradealerts.server.scale.bus import MARKET, Publisher, stream_key

    prefix = f"bench-{secrets.token_hex(4)}"
    key = stream_key(prefix, MARKET)
    q: Any = multiprocessing.get_context("fork").Queue()
    reader = multiprocessing.get_context("fork").Process(
        target=_reader, args=(REDIS_URL, key, BUS_EVENTS, q)
    )
    reader.start()
    deepest = [0]

    async def publish() -> float:
        from redis import asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL)
        pub = Publisher(client, prefix, BUS_EVENTS * 2)
        pub.start()
        t0 = time.time()
        start = time.perf_counter()
        for i in range(1, BUS_EVENTS + 1):
            data = json.dumps(
                {"symbol": "EURUSD", "time": t0 + i / 1000, "bid": 1.085 + i % 10 / 1e5,
                 "ask": 1.08512}, separators=(",", ":"),
            )  # fmt: skip
            pub.add(MARKET, {"k": "price", "d": data, "t": f"{t0:.3f}"}, f"1-{i}")
            if i % BUS_PER_PASS == 0:
                # a pass of the engine's loop ends: it hands over to the loop (the publisher
                # runs then) and its next pass comes on the timetable, never waiting for
                # Redis: what queued meanwhile goes in the publisher's next XADD
                deepest[0] = max(deepest[0], pub.waiting)
                due = start + i / BUS_OFFERED
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
        while pub.waiting:
            await asyncio.sleep(0.01)
        await pub.stop()
        await client.aclose()
        return t0

    try:
        t0 = asyncio.run(publish())
        seen, entries, t_last = q.get(timeout=120)
        reader.join(10)
        rate = seen / (t_last - t0)
        print(
            f"bus: {seen} of {BUS_EVENTS} price frames offered {BUS_PER_PASS} a pass at "
            f"{BUS_OFFERED:,.0f}/s (as the engine hands them over, never waiting) went through "
            f"the engine's Publisher in {entries} entries ({seen / max(entries, 1):.0f} frames "
            f"each, deepest queue {deepest[0]}) and were read by another process in "
            f"{t_last - t0:.2f} s: {rate:,.0f} "
            "events/s  " + targets.at_least(rate, 20_000, " events/s", "bus events/s")
        )
    finally:
        redis.Redis.from_url(REDIS_URL).delete(key)


def bench_streams(targets: Targets, db_url: str, home: Path) -> None:
    d = Deployment(db_url, home / "streams", TRADEALERTS_STREAM_HEARTBEAT_SECONDS="15")
    r = redis.Redis.from_url(REDIS_URL)
    clients: list[subprocess.Popen[bytes]] = []
    try:
        engine = d.start("engine")
        apis = [d.api(), d.api()]
        if engine.poll() is not None:
            raise RuntimeError("the engine ended")
        user_ids, tokens = d.users(USERS)
        half = USERS // 2
        groups = [(0, half), (half, USERS)]
        files = []
        opened = time.monotonic()
        for k, ((lo, hi), (url, _p)) in enumerate(zip(groups, apis, strict=True)):
            f = home / f"tokens{k}.json"
            f.write_text(json.dumps([t for t in tokens[lo:hi] for _ in range(STREAMS_PER_USER)]))
            files.append(f)
            clients.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(HERE / "sse_clients.py"),
                        url,
                        str(f),
                        str(WARMUP + SECONDS + 130),
                    ],
                    stdout=subprocess.PIPE,
                )
            )
        for f in files:
            deadline = time.monotonic() + 180
            while not f.with_suffix(".ready").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("the streams did not all open in 180 s")
                time.sleep(0.1)
        streams = USERS * STREAMS_PER_USER
        print(f"streams: {streams} open on 2 API processes after {time.monotonic() - opened:.1f} s")
        created = 0
        t0 = time.monotonic()
        measured_from = time.time() + WARMUP
        while time.monotonic() - t0 < WARMUP + SECONDS:
            batch = [user_ids[(created + k) % USERS] for k in range(RATE // 5)]
            d.create_alerts(batch, r)
            created += len(batch)
            time.sleep(0.2)
        time.sleep(3)
        with d.sessions() as s:
            logged = s.execute(  # this part's users (the failover part's share the database)
                select(Event.id, Event.user_id, Event.alert_id).where(Event.user_id.in_(user_ids))
            ).all()
        for f in files:
            f.with_suffix(".stop").write_text("")
        outs = [json.loads(c.communicate(timeout=120)[0]) for c in clients]
        number = {u: k for k, u in enumerate(user_ids)}
        lost = doubled = unexpected = failed = 0
        lat: list[float] = []
        frames = 0
        for k, got in enumerate(outs):
            lo, hi = groups[k]
            expected: dict[int, set[int]] = {}
            for event_id, user_id, _a in logged:
                n = number[user_id]
                if lo <= n < hi:
                    expected.setdefault(n - lo, set()).add(event_id)
            every = np.array(got["alerts"]).reshape(-1, 4)
            frames += len(every)
            a, b, c = account(every.tolist(), expected, (hi - lo) * STREAMS_PER_USER)
            lost, doubled, unexpected = lost + a, doubled + b, unexpected + c
            failed += got["failed_streams"]
            lat += (every[every[:, 0] >= measured_from][:, 1] * 1000).tolist()
        fires = Counter(a for _, _, a in logged)
        unfired = created - len(fires)
        twice = sum(1 for n in fires.values() if n > 1)
        print(
            f"streams: {created} alerts created over {WARMUP + SECONDS:.0f} s "
            f"(~{created / (WARMUP + SECONDS):.0f}/s), {len(logged)} logged, {frames} alert "
            f"frames received (expected {len(logged) * STREAMS_PER_USER})"
        )
        print(
            f"streams: never fired {unfired}, fired twice {twice}; frames lost {lost}, doubled "
            f"{doubled}, unexpected {unexpected}; streams failed {failed}  "
            + targets.exactly(
                unfired + twice + lost + doubled + unexpected + failed, 0, "zero lost frames"
            )
        )
        if lat:
            arr = np.array(lat)
            print(
                f"streams: tick -> client over the last {SECONDS:.0f} s ({len(arr)} frames): "
                f"p50 {np.percentile(arr, 50):.1f} ms, p99 {np.percentile(arr, 99):.1f} ms, "
                f"max {arr.max():.1f} ms  "
                + targets.at_most(float(np.percentile(arr, 99)), 100, " ms", "stream p99")
            )
        else:
            print("streams: no frame measured  " + targets.exactly(1, 0, "stream frames"))
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
        d.stop()


def _wrk(url: str, tokens: Path, offset: int, count: int, seconds: int) -> float:
    out = subprocess.check_output(
        pinned(1, ["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(HERE / "wrk_tokens.lua"),
                   url, "--", str(tokens), str(offset), str(count), "300", "16"]),
        text=True,
    )  # fmt: skip
    r = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    if r["errors"]:
        raise RuntimeError(f"wrk saw {r['errors']} errors against {url}")
    return float(r["requests"] / r["seconds"])


def bench_indicators(targets: Targets, db_url: str, home: Path) -> None:
    # enough users (300 requests an hour each) for 40,000 req/s: a quota spent is a wrk error
    seconds, rounds = smoke((4, 3), (1, 1))
    users_per_run = 40_000 * seconds // 300 + 1
    d = Deployment(db_url, home / "ind")
    embedded_home = home / "embedded"
    embedded: subprocess.Popen[bytes] | None = None
    try:
        d.start("engine")
        url, _p = d.api(core=0)
        _ids, scale_tokens = d.users(rounds * users_per_run + 1)
        port = free_port()
        env = {k: v for k, v in d.env.items() if not k.startswith("TRADEALERTS_")}
        env.update(
            TRADEALERTS_HOME=str(embedded_home), TRADEALERTS_SECRET_KEY=SECRET,
            TRADEALERTS_HISTORY_BARS="300", TRADEALERTS_TICK_RATE="10",
            TRADEALERTS_LOG_LEVEL="WARNING",
        )  # fmt: skip
        embedded = subprocess.Popen(
            pinned(0, [str(BIN / "tradealerts-server"), "serve", "--port", str(port)]), env=env
        )
        eurl = f"http://127.0.0.1:{port}"
        wait_up(f"{eurl}/api/system/health", embedded)
        e = Deployment.__new__(Deployment)
        e.sessions = make_sessionmaker(make_engine(f"sqlite:///{embedded_home / 'server.db'}"))
        _eids, emb_tokens = Deployment.users(e, rounds * users_per_run + 1)
        # context, no target: embedded with its quota in Redis (what every API process of a
        # scale-out pays per request to share the count), on a second port
        port2 = free_port()
        env2 = {
            **env,
            "TRADEALERTS_REDIS_URL": REDIS_URL,
            "TRADEALERTS_REDIS_PREFIX": d.prefix + "-e",
            "TRADEALERTS_HOME": str(home / "embedded2"),
        }
        embedded2 = subprocess.Popen(
            pinned(0, [str(BIN / "tradealerts-server"), "serve", "--port", str(port2)]), env=env2
        )
        d.procs.append(embedded2)
        eurl2 = f"http://127.0.0.1:{port2}"
        wait_up(f"{eurl2}/api/system/health", embedded2)
        e2 = Deployment.__new__(Deployment)
        e2.sessions = make_sessionmaker(
            make_engine(f"sqlite:///{home / 'embedded2' / 'server.db'}")
        )
        _e2, emb2_tokens = Deployment.users(e2, rounds * users_per_run + 1)
        tf_emb2 = home / "emb2.txt"
        tf_emb2.write_text("\n".join(emb2_tokens) + "\n")
        path = "/api/indicators/EURUSD/H1?bars=200"
        tf_scale, tf_emb = home / "scale.txt", home / "emb.txt"
        tf_scale.write_text("\n".join(scale_tokens) + "\n")
        tf_emb.write_text("\n".join(emb_tokens) + "\n")
        scale_rps, emb_rps, emb2_rps = [], [], []
        for k in range(rounds):  # alternated: the shared machine's speed drifts
            off = k * users_per_run
            emb_rps.append(_wrk(eurl + path, tf_emb, off, users_per_run, seconds))
            scale_rps.append(_wrk(url + path, tf_scale, off, users_per_run, seconds))
            emb2_rps.append(_wrk(eurl2 + path, tf_emb2, off, users_per_run, seconds))
        es, ss = float(np.median(emb_rps)), float(np.median(scale_rps))
        e2s = float(np.median(emb2_rps))
        print(
            f"indicators, context: embedded with its quota in Redis {e2s:,.0f} req/s "
            f"({1e6 / e2s:.0f} us/request)"
        )
        ratio = es / ss
        print(
            f"indicators (wrk -t1 -c16 on core 1, one server process on core 0, quota on; "
            f"median of {rounds}): embedded {es:,.0f} req/s ({1e6 / es:.0f} us/request), "
            f"scale-out API {ss:,.0f} req/s ({1e6 / ss:.0f} us/request): cost ratio "
            f"{ratio:.2f}  " + targets.at_most(ratio, 1.2, "x", "indicators cost ratio")
        )
    finally:
        if embedded is not None and embedded.poll() is None:
            embedded.terminate()
            embedded.wait(15)
        d.stop()


def bench_failover(targets: Targets, db_url: str, home: Path) -> None:
    d = Deployment(db_url, home / "failover")
    r = redis.Redis.from_url(REDIS_URL)
    try:
        first = d.start("engine")
        time.sleep(3)
        second = d.start("engine")
        user_ids, _tokens = d.users(1)
        before = d.create_alerts(user_ids, r)
        deadline = time.monotonic() + 30
        while True:  # the first leader fires
            with d.sessions() as s:
                if s.scalar(select(Event.id).where(Event.alert_id == before[0])):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the first leader fired nothing in 30 s")
            time.sleep(0.1)
        time.sleep(2)  # the standby is waiting on the lease
        first.send_signal(signal.SIGKILL)
        killed = time.time()
        after = d.create_alerts(user_ids * 5, r)
        fired_at = None
        while time.time() - killed < 30:
            with d.sessions() as s:
                got = s.scalar(select(Event.created_at).where(Event.alert_id.in_(after)).limit(1))
            if got is not None:
                fired_at = got.timestamp()
                break
            time.sleep(0.05)
        if fired_at is None or second.poll() is not None:
            print("failover: the standby fired nothing in 30 s  " + targets.exactly(1, 0, "fo"))
            return
        took = fired_at - killed
        print(
            f"failover: leader SIGKILLed -> first alert fired by the new leader {took:.2f} s "
            f"(lease {d.env.get('TRADEALERTS_LEASE_SECONDS', '5')} s)  "
            + targets.at_most(took, 10, " s", "failover")
        )
    finally:
        d.stop()


def main() -> None:
    if "indicators" in ONLY:
        need("bench_scaleout", "wrk")
    targets = Targets()
    home = Path(tempfile.mkdtemp(prefix="tradealerts-bench-scaleout-"))
    if "bus" in ONLY:
        bench_bus(targets)
    with database() as db_url:
        if "failover" in ONLY:
            bench_failover(targets, db_url, home)
        if "indicators" in ONLY:
            bench_indicators(targets, db_url, home)
        if "streams" in ONLY:
            bench_streams(targets, db_url, home)
    targets.exit()


if __name__ == "__main__":
    main()
