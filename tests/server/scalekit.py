"""Real processes for the scale-out tests: ``tradealerts-server engine`` and ``serve
--scale-out`` as subprocesses of the real CLI, on the machine's PostgreSQL and Redis (or a
private ``redis-server`` on a free port), loopback only."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from tests.server.serverkit import PG_URL, PW, deadline_after, free_port

REDIS_URL = os.environ.get("TRADEALERTS_TEST_REDIS_URL")
#: the scale-out tests' module mark: they run on the machine's PostgreSQL and Redis
NEEDS_PG_AND_REDIS = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="needs TRADEALERTS_TEST_DATABASE_URL and TRADEALERTS_TEST_REDIS_URL",
)
BIN = Path(sys.executable).parent
SECRET = "scale-test-secret-key-0123456789abcdef"


@contextmanager
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards."""
    assert PG_URL is not None
    name = f"tradealerts_scale_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def private_redis() -> Iterator[tuple[str, Any]]:
    """A ``redis-server`` of our own on a free port (it can be restarted without bothering
    anyone): yields its URL and ``control("stop" | "start")``."""
    exe = shutil.which("redis-server")
    assert exe is not None, "redis-server is not installed"
    port = free_port()
    proc: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        p = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proc.append(p)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop() -> None:
        proc[-1].kill()
        proc[-1].wait()

    def control(what: str) -> None:
        """``"stop"`` or ``"start"`` the server (its data is gone: no persistence)."""
        stop() if what == "stop" else start()

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", control
    finally:
        proc[-1].kill()
        proc[-1].wait()


@dataclass
class Proc:
    """One process of the cluster: its command, log file and (for ``serve``) its URL."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@dataclass
class Cluster:
    """The environment every process of one test shares, and the processes started."""

    tmp: Path
    database_url: str
    redis_url: str
    extra: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"scaletest-{secrets.token_hex(4)}")
    procs: list[Proc] = field(default_factory=list)

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
        env.update(
            TRADEALERTS_DATABASE_URL=self.database_url,
            TRADEALERTS_REDIS_URL=self.redis_url,
            TRADEALERTS_REDIS_PREFIX=self.prefix,
            TRADEALERTS_SECRET_KEY=SECRET,
            TRADEALERTS_HOME=str(self.tmp / "home"),
            TRADEALERTS_LEASE_SECONDS="2",
            TRADEALERTS_SNAPSHOT_SECONDS="1",
            TRADEALERTS_HISTORY_BARS="300",
            TRADEALERTS_LOG_LEVEL="INFO",
        )
        env.update(self.extra)
        env.update(more)
        return env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "tradealerts-server"), *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        log = self.tmp / f"{name}.log"
        fh = log.open("wb")
        popen = subprocess.Popen(
            [str(BIN / "tradealerts-server"), *args],
            env=self.env(**env),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def engine(self, name: str = "engine", **env: str) -> Proc:
        return self.spawn(name, ["engine"], env)

    def api(self, name: str = "api", *, flag: bool = True, **env: str) -> Proc:
        """An API process; ``flag=False`` starts it as the owner's guide does, without
        ``--scale-out`` (the engine's lease on the database makes it API-only)."""
        port = free_port()
        args = ["serve", "--scale-out"] if flag else ["serve"]
        proc = self.spawn(name, [*args, "--port", str(port)], env)
        proc.url = f"http://127.0.0.1:{port}"
        return proc

    def stop(self) -> None:
        """Stop every process, then drop this cluster's Redis keys (others share Redis)."""
        import redis

        for p in self.procs:
            p.stop()
        try:
            r = redis.Redis.from_url(self.redis_url)
            for key in r.scan_iter(f"{self.prefix}:*"):
                r.delete(key)
            r.close()
        except redis.ConnectionError:  # a private Redis already stopped
            pass

    def status(self) -> dict[str, Any]:
        out = self.run("status", "--json")
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout))

    def user(self, email: str, tier: str = "PRO", *, admin: bool = False) -> int:
        """A verified user, written as the owner's ``admin create-user`` does; its id."""
        from tradealerts.core.tiers import Tier
        from tradealerts.server import accounts
        from tradealerts.server.db.migrate import upgrade
        from tradealerts.server.db.session import make_engine, make_sessionmaker

        db = make_engine(self.database_url)
        upgrade(db)
        with make_sessionmaker(db)() as s:
            user = accounts.create_user(
                s, email, PW, datetime.now(UTC), tier=Tier(tier), verified=True, is_admin=admin
            )
            s.commit()
            user_id = int(user.id)
        db.dispose()
        return user_id

    def db_events(self, email: str) -> list[tuple[int, int | None]]:
        """(event id, alert id) of the user's logged alerts, in id order."""
        db = create_engine(self.database_url)
        with db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.id, e.alert_id FROM events e JOIN users u ON u.id = e.user_id "
                    "WHERE u.email = :email ORDER BY e.id"
                ),
                {"email": email},
            ).all()
        db.dispose()
        return [(int(r[0]), r[1]) for r in rows]


def login(url: str, email: str) -> str:
    r = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PW}, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def wait_up(proc: Proc, path: str = "/api/system/health", timeout: float = 30.0) -> None:
    """Until ``proc`` answers ``path`` with 200 (its mirror holds the leader's market)."""
    assert proc.url is not None
    deadline = deadline_after(timeout)
    last = ""
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} ended:\n{proc.text()[-3000:]}")
        try:
            r = httpx.get(proc.url + path, timeout=2)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise AssertionError(f"{proc.name} not up: {last}\n{proc.text()[-3000:]}")


def wait_log(proc: Proc, needle: str, timeout: float = 20.0) -> float:
    """Until ``needle`` is in ``proc``'s log; returns when (monotonic)."""
    deadline = deadline_after(timeout)
    while time.monotonic() < deadline:
        if needle in proc.text():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in {proc.name}'s log:\n{proc.text()[-3000:]}")


class Stream:
    """An SSE client on a thread: every frame it reads, until the connection ends."""

    def __init__(self, url: str, token: str, last_event_id: int | None = None) -> None:
        import threading

        self.frames: list[dict[str, Any]] = []
        self.ended: BaseException | None = None
        self.done = False
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=30))
        self._url, self._headers = url, headers
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from tests.server.serverkit import SSE

        try:
            with self._client.stream("GET", self._url + "/api/stream", headers=self._headers) as r:
                assert r.status_code == 200, r.read()
                sse = SSE(r)
                while True:
                    self.frames.append(sse.frame())
        except BaseException as exc:  # the connection ended (the test killed its server)
            self.ended = exc
        finally:
            self.done = True

    def alerts(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("event") == "alert"]

    def ids(self) -> list[int]:
        return [int(f["id"]) for f in self.alerts()]

    def wait(self, predicate: Any, timeout: float = 15.0, what: str = "frames") -> None:
        deadline = deadline_after(timeout)
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} after {timeout} s: {self.frames[-5:]}")
            time.sleep(0.05)

    def close(self) -> None:
        self._client.close()
