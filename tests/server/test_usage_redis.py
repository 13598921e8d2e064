"""Usage counts when scaled out: every API process pushes its counts to Redis, and the admin
routes of any one process answer with all of them, counted once."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select
from tests.server.serverkit import Running, register_and_login
from tests.server.test_admin_dashboard import login, make_admin

from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.models import UsageMinute
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.usage import Usage

REDIS_URL = os.environ.get("TRADEALERTS_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="TRADEALERTS_TEST_REDIS_URL is not set")


def _symbols(usage: dict[str, Any]) -> int:
    return sum(f["requests"] for f in usage["families"] if f["family"] == "symbols")


def _pushed(r: redis.Redis, prefix: str) -> int:
    """The 2xx ``symbols`` requests the processes have pushed to Redis and nobody has
    claimed yet."""
    total = 0
    for key in r.scan_iter(match=f"{prefix}:usage:*"):
        for field, value in r.hgetall(key).items():
            if field.startswith(b"symbols|") and field.endswith(b"|0"):
                total += int(value)
    return total


@needs_redis
def test_admin_on_one_process_counts_the_requests_of_every_process(
    make_server: Callable[..., Running],
) -> None:
    prefix = f"test-usage-{secrets.token_hex(6)}"
    # neither process writes its own counts to the database within the test (an hour):
    # only the counts pushed to Redis can reach the admin's answer
    a, b = (
        make_server(
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            usage_flush_seconds=3600,
            usage_push_seconds=0.2,
        )
        for _ in range(2)
    )
    admin = make_admin(a, "boss@example.com")
    register_and_login(a, "one@example.com")
    register_and_login(b, "two@example.com")
    one, two = login(a, "one@example.com"), login(b, "two@example.com")
    for _ in range(5):
        assert one.get("/api/symbols").status_code == 200
    for _ in range(7):
        assert two.get("/api/symbols").status_code == 200

    r = redis.Redis.from_url(str(REDIS_URL))
    try:
        deadline = time.monotonic() + 5
        while _pushed(r, prefix) < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pushed(r, prefix) == 12  # both processes' counts are in Redis, not the database
        while True:
            usage = admin.get("/api/admin/api-usage", params={"hours": 1}).json()
            if _symbols(usage) >= 12 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert _symbols(usage) == 12
        top = {u["email"]: u["requests"] for u in usage["top_users"]}
        assert top["one@example.com"] == 5 and top["two@example.com"] == 7
        # counted once: the claimed minutes left Redis, and asking again adds nothing
        assert _pushed(r, prefix) == 0
        time.sleep(0.5)
        again = admin.get("/api/admin/api-usage", params={"hours": 1}).json()
        assert _symbols(again) == 12
    finally:
        for key in r.scan_iter(match=f"{prefix}:*"):
            r.delete(key)
        r.close()


def _usage_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return int(s.scalar(select(func.coalesce(func.sum(UsageMinute.requests), 0))) or 0)
    finally:
        engine.dispose()


async def test_with_redis_down_the_counts_go_to_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    engine = make_engine(url)
    upgrade(engine)
    usage = Usage(
        {"symbols"},
        redis_url="redis://127.0.0.1:1/0",  # nothing listens there
        clock=lambda: datetime.now(UTC),
    )
    usage.sessions = make_sessionmaker(engine)
    t = time.perf_counter()
    for _ in range(3):
        usage.record("symbols", 0, 200, t, t + 0.001)
    await usage.flush()
    engine.dispose()
    assert _usage_rows(url) == 3


@needs_redis
async def test_a_failed_database_write_gives_the_claimed_minute_back(tmp_path: Path) -> None:
    prefix = f"test-usage-{secrets.token_hex(6)}"
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    engine = make_engine(url)
    upgrade(engine)
    usage = Usage({"symbols"}, redis_url=REDIS_URL, redis_prefix=prefix)
    usage.sessions = make_sessionmaker(engine)
    t = time.perf_counter()
    for _ in range(4):
        usage.record("symbols", 0, 200, t, t + 0.001)
    await usage.flush(rollup=False)  # pushed, not yet in the database
    assert _usage_rows(url) == 0
    with engine.begin() as conn:  # the database refuses the write
        conn.exec_driver_sql("ALTER TABLE usage_minutes RENAME TO usage_minutes_away")
    await usage.flush()
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE usage_minutes_away RENAME TO usage_minutes")
    assert _usage_rows(url) == 0
    await usage.flush()  # the minute was given back: the next rollup writes it, once
    assert _usage_rows(url) == 4
    r = redis.Redis.from_url(str(REDIS_URL))
    try:
        assert list(r.scan_iter(match=f"{prefix}:usage:*")) == []
    finally:
        r.close()
    engine.dispose()
