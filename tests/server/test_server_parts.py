"""Parts behind the API: quotas in Redis, mail through an SMTP outage, the admin role."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from tests.server.serverkit import Clock, Inbox, Running, free_port, register_and_login

from tradealerts.server.db.models import AuditLog, MailMessage
from tradealerts.server.mail import Mailer, queue_mail
from tradealerts.server.quota import Quota
from tradealerts.server.settings import Settings

REDIS_URL = os.environ.get("TRADEALERTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not redis_up() and not os.environ.get("CI"), reason="no Redis on 127.0.0.1")
def test_quota_is_shared_through_redis() -> None:
    user = f"test-{uuid.uuid4().hex}"
    a, b = Quota(REDIS_URL), Quota(REDIS_URL)  # two API processes
    try:
        for _ in range(30):
            assert a.hit(user, "FREE").allowed
        # a stopping process gives back what it reserved ahead and did not spend (a running
        # one after QUOTA_LEASE_SECONDS idle: tests/server/test_scaleout_quota.py)
        a.close()
        results = [b.hit(user, "FREE") for _ in range(31)]
        assert [r.allowed for r in results] == [True] * 30 + [False]
        assert results[29].remaining == 0 and results[30].headers()["Retry-After"]
    finally:
        a.reset(user, "FREE")


def test_mail_survives_an_smtp_outage(tmp_path: Path) -> None:
    from tradealerts.server.db.migrate import upgrade
    from tradealerts.server.db.session import make_engine, make_sessionmaker

    port = free_port()  # nothing listens yet
    clock = Clock()
    settings = Settings(home=tmp_path, smtp_url=f"smtp://127.0.0.1:{port}", secret_key="x" * 40)
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    mailer = Mailer(settings, sessions, clock)
    with sessions() as s:
        queue_mail(s, "a@example.com", "Hello", "code 123456", clock())
        s.commit()
    assert mailer.send_due() == 0  # SMTP down: kept, retried later
    with sessions() as s:
        m = s.scalar(select(MailMessage))
        assert m is not None and m.sent_at is None and m.attempts == 1
        assert "ConnectionRefusedError" in (m.last_error or "")
    assert mailer.send_due() == 0  # not due yet: back-off
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(seconds=31)
        assert mailer.send_due() == 1
        assert inbox.wait_for("a@example.com")[0]["Subject"] == "Hello"
    finally:
        controller.stop()
    assert mailer.send_due() == 0  # sent once, never again


def test_admin_endpoint_refused_to_others_and_audited(server: Running) -> None:
    user = server.client(register_and_login(server, "plain@example.com")["access_token"])
    r = user.get("/api/admin/users")
    assert r.status_code == 403 and r.json()["error"]["code"] == "admin_only"
    register_and_login(server, "boss@example.com")
    with server.app.state.sessions() as s:
        from tradealerts.server import accounts

        boss = accounts.find_user(s, "boss@example.com")
        assert boss is not None
        boss.is_admin = True
        s.commit()
    token = (
        server.client()
        .post(
            "/api/auth/login",
            json={"email": "boss@example.com", "password": "correct horse battery"},
        )
        .json()["access_token"]
    )
    r = server.client(token).get("/api/admin/users")
    assert r.status_code == 200
    assert {u["email"] for u in r.json()["users"]} == {"plain@example.com", "boss@example.com"}
    with server.app.state.sessions() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.actor == "boss@example.com")) == (
            "list_users"
        )


def test_sqlite_write_lock_is_held_from_the_first_write_to_the_end(tmp_path: Path) -> None:
    """SQLite write transactions queue on one in-process lock per file, shared by every
    engine on it: taken at a transaction's first write (not by reads), given back by its
    commit, its rollback, and its connection's return to the pool."""
    from sqlalchemy import text as sql

    from tradealerts.server.db import session as db_session

    url = f"sqlite:///{tmp_path / 'w.db'}"
    api, log = db_session.make_engine(url), db_session.make_engine(url, pool_size=2)
    lock = db_session._WRITE_LOCKS[str((tmp_path / "w.db").resolve())]
    with api.begin() as c:
        c.execute(sql("CREATE TABLE t (x INTEGER)"))
    assert not lock.locked()
    for end in ("commit", "rollback", "close"):
        with log.connect() as c:
            c.execute(sql("SELECT count(*) FROM t"))
            assert not lock.locked(), "a read took the write lock"
            c.execute(sql("INSERT INTO t VALUES (1)"))
            assert lock.locked(), "a write did not take the lock"
            if end == "commit":
                c.commit()
            elif end == "rollback":
                c.rollback()
            if end != "close":  # the connection is still checked out
                assert not lock.locked(), f"the lock outlived the {end}"
        assert not lock.locked(), f"the lock outlived the {end}"
        # the other engine on the same file writes at once
        with api.begin() as c:
            c.execute(sql("INSERT INTO t VALUES (2)"))
        assert not lock.locked()
    api.dispose()
    log.dispose()
