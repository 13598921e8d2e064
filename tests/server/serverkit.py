"""Real parts for server tests: uvicorn on a loopback port, SQLite or PostgreSQL, aiosmtpd.

Set TRADEALERTS_TEST_DATABASE_URL (CI does) to run every ``db_url`` test on PostgreSQL too:
each test gets a database of its own, created and dropped here.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tradealerts.server.app import create_app
from tradealerts.server.serving import make_server
from tradealerts.server.settings import Settings

PW = "correct horse battery"
PG_URL = os.environ.get("TRADEALERTS_TEST_DATABASE_URL")
DATA = Path(__file__).parent.parent / "data"

#: Waits on conditions fail after their timeout times this: a timeout bounds how long a
#: failure takes to show, never a claim (figures are the benchmarks'), and on a loaded
#: machine (2 cores, 4 xdist workers, other jobs) a process start alone can take 20 s.
#: pytest-timeout (300 s) still ends a test that hangs.
DEADLINE_SCALE = float(os.environ.get("TRADEALERTS_TEST_DEADLINE_SCALE", "3"))


def deadline_after(seconds: float) -> float:
    """The monotonic time a wait of ``seconds`` gives up at (``DEADLINE_SCALE``)."""
    return time.monotonic() + seconds * DEADLINE_SCALE


class Clock:
    """The server's clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.cond:
            self.messages.append(message_from_bytes(envelope.content))
            self.cond.notify_all()
        return "250 OK"

    def wait_for(self, to: str, count: int = 1, timeout: float = 10.0) -> list[Message]:
        """Messages to ``to``, waiting until there are ``count`` of them."""
        deadline = deadline_after(timeout)
        with self.cond:
            while True:
                got = [m for m in self.messages if m["To"] == to]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {to} after {timeout} s: {got}")
                self.cond.wait(left)

    def code_for(self, to: str, count: int = 1) -> str:
        body = self.wait_for(to, count)[count - 1].get_payload(decode=True).decode()
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections (Linux), else 32768."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


#: free_port hands out ports below the kernel's range for outgoing connections: a port checked
#: free there cannot be taken by some client's connect() before the server binds it (as a
#: port from bind(0) can). The range is split between pytest-xdist workers, so two workers
#: never hand out the same port; each starts at a random place in its share, so two runs on
#: one machine rarely walk the same ports at once (the bind check skips any in use).
_PORTS = (10000, min(_ephemeral_low(), 32768))
_port_lock = threading.Lock()
_port_walk: list[int] = []


def _worker_share() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # unset without xdist
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), index + 1)
    span = (_PORTS[1] - _PORTS[0]) // count
    return range(_PORTS[0] + index * span, _PORTS[0] + (index + 1) * span)


def free_port() -> int:
    """A loopback port nothing listens on, this worker's own (see ``_PORTS``)."""
    share = _worker_share()
    if len(share) < 100:  # an odd kernel range: let the kernel choose
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    with _port_lock:
        if not _port_walk:
            _port_walk.append(secrets.randbelow(len(share)))
        for _ in range(len(share)):
            port = share[_port_walk[0] % len(share)]
            _port_walk[0] += 1
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:  # in use, or in TIME_WAIT: the next one
                    continue
            return port
    raise RuntimeError(f"no free port in {share}")


@dataclass
class Running:
    """A live server: its URL, settings, clock and the mail it sent."""

    url: str
    settings: Settings
    clock: Clock
    inbox: Inbox
    app: Any
    _server: uvicorn.Server
    _thread: threading.Thread
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.Client(base_url=self.url, headers=headers, timeout=10)
        self.clients.append(c)
        return c

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self._server.should_exit = True
        self._thread.join(15)


def server_settings(home: Path, database_url: str, smtp_port: int, **overrides: Any) -> Settings:
    """A test server's settings: a free loopback port, the test SMTP server, the synthetic
    feed with 300 bars of history; ``overrides`` replace any of them."""
    values: dict[str, Any] = {
        "home": home,
        "database_url": database_url,
        "port": free_port(),
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "feed": "synthetic",
        "history_bars": 300,
        "owner_email": "owner@example.com",
        "secret_key": "test-secret-key-0123456789abcdef",
        # a test's server is not told "data delayed" / "market closed" unless the test asks
        # (tests/server/feedkit.py): a replay that played its file, or a Saturday's run,
        # would otherwise change the TUI's status bar and snapshots after a minute
        "feed_delayed_seconds": 10.0**9,
    }
    values.update(overrides)
    return Settings(**values)


def start_server(settings: Settings, clock: Clock, inbox: Inbox, **app_options: Any) -> Running:
    """Serve ``create_app(settings, clock=clock, **app_options)`` on its loopback port."""
    app = create_app(settings, clock=clock, **app_options)
    server = make_server(app, "127.0.0.1", settings.port, log_level="warning", lifespan="on")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return Running(f"http://127.0.0.1:{settings.port}", settings, clock, inbox, app, server,
                   thread)  # fmt: skip


def register_and_login(
    srv: Running, email: str, password: str = "correct horse battery"
) -> dict[str, Any]:
    """A verified, logged-in FREE user through the real flow; returns the token pair."""
    with srv.client() as c:
        assert (
            c.post("/api/auth/register", json={"email": email, "password": password}).status_code
            == 202
        )
        code = srv.inbox.code_for(email)
        assert (
            c.post("/api/auth/verify-email", json={"email": email, "code": code}).status_code == 200
        )
        r = c.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return dict(r.json())


def set_tier(srv: Running, email: str, tier: str) -> None:
    """Change a tier the way the owner does: through the admin service on the same database."""
    from tradealerts.core.tiers import Tier
    from tradealerts.server import accounts

    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        accounts.set_tier(s, user, Tier(tier), srv.clock())
        s.commit()


def user_client(srv: Running, email: str, tier: str = "FREE") -> httpx.Client:
    """An API client logged in as a new verified user of ``tier``."""
    token = register_and_login(srv, email)["access_token"]
    if tier != "FREE":
        set_tier(srv, email, tier)
    return srv.client(token)


def runtime_with_one_alert(
    db_url: str, home: Path, email: str, now: datetime, **spec: Any
) -> tuple[Any, Any, Any, int]:
    """A migrated database holding one user with one alert (EURUSD H1 above 1.0; ``spec`` adds
    to it), and an ``AlertRuntime`` on it at ``now``, not loaded yet: (the engine, sessions,
    the runtime, the alert's id)."""
    from tradealerts.core.alerts import AlertCreate
    from tradealerts.server.accounts import create_user
    from tradealerts.server.alerts import records
    from tradealerts.server.alerts.guard import WebhookGuard
    from tradealerts.server.alerts.runtime import AlertRuntime
    from tradealerts.server.db.migrate import upgrade
    from tradealerts.server.db.session import make_engine, make_sessionmaker
    from tradealerts.server.events import Bus

    db = make_engine(db_url)
    upgrade(db)
    sessions = make_sessionmaker(db)
    with sessions() as s:
        user = create_user(s, email, PW, now)
        alert = AlertCreate.model_validate(
            {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": 1.0}
            | spec
        )
        alert_id = records.create_alert(s, user, alert, now, WebhookGuard()).id
        s.commit()
    runtime = AlertRuntime(Settings(home=home, secret_key="k" * 40), sessions, Bus(), lambda: now)
    return db, sessions, runtime, alert_id


class SSE:
    """Reads Server-Sent Events frames from a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.iter_lines()

    def frame(self) -> dict[str, Any]:
        """The next frame: keys among id, event, data (parsed JSON), retry, comment."""
        out: dict[str, Any] = {}
        for line in self._lines:
            if line == "":
                if out:
                    return out
                continue
            if line.startswith(":"):
                out["comment"] = line[1:].strip()
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            out[key] = json.loads(value) if key == "data" else value
        raise EOFError("the stream ended")

    def until(self, event: str, limit: int = 500) -> dict[str, Any]:
        for _ in range(limit):
            f = self.frame()
            if f.get("event") == event:
                return f
        raise AssertionError(f"no {event} event in {limit} frames")


def fire_event(
    srv: Running,
    email: str,
    price: float = 1.09,
    symbol: str = "EURUSD",
    *,
    condition: str = "crossing_up",
    level: float = 1.09,
    message: str | None = None,
) -> int:
    """Log an alert event and wake the user's streams, as the alert engine does."""
    from tradealerts.server import accounts
    from tradealerts.server.db.models import Event
    from tradealerts.server.events import append_event

    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        ev = Event(
            user_id=user.id,
            symbol=symbol,
            timeframe="H1",
            condition=condition,
            level=level,
            price=price,
            time=srv.clock(),
            created_at=srv.clock(),
            message=message or f"{symbol} crossed up {level}",
        )
        append_event(s, ev)
        s.commit()
        event_id, user_id = ev.id, user.id
    srv.app.state.loop.call_soon_threadsafe(srv.app.state.bus.alert, user_id)
    return int(event_id)


class WebhookReceiver:
    """A real HTTP server on loopback that records each POST (headers and raw body) and
    answers with the next of ``statuses`` (a status, or a status and its headers; then 200).
    ``host``/``port``: where it listens (any 127.x address; port 0: a free one)."""

    def __init__(
        self,
        statuses: list[int | tuple[int, dict[str, str]]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        import http.server

        received: list[tuple[dict[str, str], bytes]] = []
        plan = [(s, {}) if isinstance(s, int) else s for s in statuses or []]
        self.received = received
        arrived = threading.Event()
        self.arrived = arrived

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = plan.pop(0) if plan else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 15.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = deadline_after(timeout)
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} webhook calls, expected {count}")
            time.sleep(0.02)
        return self.received

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(predicate: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` (scaled
    by ``DEADLINE_SCALE``)."""
    deadline = deadline_after(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def running_smtp(inbox: Inbox | None = None) -> Iterator[tuple[Inbox, int]]:
    """A real aiosmtpd server on a free loopback port, its mails in ``inbox`` (a new
    :class:`Inbox` by default; a subclass may refuse recipients)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox() if inbox is None else inbox
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
