"""Hourly quotas are exact under load: 2 x Q parallel requests to a running server get exactly Q
answers and Q refusals with Retry-After, in memory and in Redis; Redis counts outlive a
restart. And a tier change made by the owner's command in another process applies within
the documented second."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.server.serverkit import Running, register_and_login, set_tier, wait_until

EXE = Path(sys.executable).parent / "tradealerts-server"  # the owner's console script
REDIS_URL = os.environ.get("TRADEALERTS_TEST_REDIS_URL")
Q = 60  # FREE requests per hour
URL = "/api/indicators/EURUSD/H1?bars=5"  # the fast path, and the route when it declines


def storages() -> list[Any]:
    return [
        pytest.param({}, id="memory"),
        pytest.param(
            {"redis_url": REDIS_URL},
            id="redis",
            marks=pytest.mark.skipif(not REDIS_URL, reason="TRADEALERTS_TEST_REDIS_URL unset"),
        ),
    ]


def burst(srv: Running, token: str, n: int) -> list[httpx.Response]:
    with (
        httpx.Client(
            base_url=srv.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            limits=httpx.Limits(max_connections=16),
        ) as c,
        ThreadPoolExecutor(16) as pool,
    ):
        return list(pool.map(lambda _: c.get(URL), range(n)))


@pytest.mark.parametrize("storage", storages())
def test_2q_parallel_requests_get_exactly_q_answers(make_server: Any, storage: dict) -> None:
    srv = make_server(redis_prefix=f"test-{secrets.token_hex(6)}", **storage)
    token = register_and_login(srv, "burst@example.com")["access_token"]
    answers = burst(srv, token, 2 * Q)
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * Q + [429] * Q
    for r in answers:
        assert r.headers["x-ratelimit-limit"] == str(Q)
        if r.status_code == 429:
            assert 3500 <= int(r.headers["retry-after"]) <= 3601
            assert r.headers["x-ratelimit-remaining"] == "0"
            assert r.json()["error"]["code"] == "rate_limited"
    # every answer counted once: the remaining counts of the answers are 0 .. Q-1, each once
    left = sorted(int(r.headers["x-ratelimit-remaining"]) for r in answers if r.status_code == 200)
    assert left == list(range(Q))
    assert any(r.headers.get("server-timing") for r in answers)  # the fast path took part


@pytest.mark.skipif(not REDIS_URL, reason="TRADEALERTS_TEST_REDIS_URL is not set")
def test_redis_counts_outlive_a_restart(make_server: Any) -> None:
    prefix = f"test-{secrets.token_hex(6)}"
    first = make_server(redis_url=REDIS_URL, redis_prefix=prefix)
    token = register_and_login(first, "restart@example.com")["access_token"]
    assert all(r.status_code == 200 for r in burst(first, token, 10))
    first.stop()
    # a new process on the same database and Redis (the test's clock: the token is valid)
    second = make_server(redis_url=REDIS_URL, redis_prefix=prefix, port=first.settings.port)
    r = second.client(token).get(URL)
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == str(Q - 11)


@pytest.mark.skipif(not REDIS_URL, reason="TRADEALERTS_TEST_REDIS_URL is not set")
def test_a_user_who_keeps_spending_is_leased_bigger_blocks(make_server: Any) -> None:
    """A lease reserved ahead doubles its block (FREE 3, 6, 12 …, at most limit / 5): a
    steady user's hour costs the process a few trips to Redis, not limit / 3 of them; every
    request is still counted once in the one window."""
    import redis

    prefix = f"test-{secrets.token_hex(6)}"
    srv = make_server(redis_url=REDIS_URL, redis_prefix=prefix)
    c = srv.client(register_and_login(srv, "steady@example.com")["access_token"])
    left = []
    for _ in range(Q):
        r = c.get(URL)
        assert r.status_code == 200
        left.append(int(r.headers["x-ratelimit-remaining"]))
        time.sleep(0.005)  # a steady client: the lease thread reserves ahead in between
    assert left == list(range(Q - 1, -1, -1))
    assert c.get(URL).status_code == 429
    r = redis.Redis.from_url(REDIS_URL)
    (key,) = list(r.scan_iter(f"{prefix}:quota*"))
    stamps = r.lrange(key, 0, -1)
    assert len(stamps) == Q  # the window holds each request once
    # one stamp per reservation: 3 + 6 + 12 + 12 + 12 + 12 + 3 is 7 (fixed blocks of 3: 20)
    assert len(set(stamps)) <= 9, len(set(stamps))
    r.delete(key)
    r.close()


@pytest.mark.skipif(not REDIS_URL, reason="TRADEALERTS_TEST_REDIS_URL is not set")
def test_a_first_request_waiting_for_redis_does_not_hold_the_others(make_server: Any) -> None:
    """A user's first request reserves a block in Redis: it waits for Redis in a thread, so
    a slow Redis (every reply 1 s late, through a proxy) delays that request, not the
    requests of a user whose process holds a block already: theirs are answered first.
    Redis turns slow once both users are set up (the start, the sign-ups and a's block
    would otherwise wait out a second per Redis reply)."""
    from urllib.parse import urlsplit

    from tests.faultproxy import FaultProxy

    target = urlsplit(REDIS_URL)
    with FaultProxy(target.port or 6379) as proxy:
        srv = make_server(
            redis_url=f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}",
            redis_prefix=f"test-{secrets.token_hex(6)}",
        )
        a_tokens = register_and_login(srv, "holds-a-block@example.com")
        set_tier(srv, "holds-a-block@example.com", "PRO")  # a block of 15: none to wait for
        a = srv.client(a_tokens["access_token"])
        b = srv.client(register_and_login(srv, "first-request@example.com")["access_token"])
        assert [a.get(URL).status_code for _ in range(2)] == [200, 200]  # a block held
        proxy.slow_answers = 1.0  # every Redis reply 1 s late, on the pooled connections too
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(b.get, URL)
            time.sleep(0.2)  # b's reservation is on its way to Redis
            for _ in range(3):
                assert a.get(URL).status_code == 200
            assert not first.done(), "a's requests waited for b's reservation"
            assert first.result().status_code == 200


def test_memory_counts_start_over_after_a_restart(make_server: Any) -> None:
    """The embedded default keeps counts in the process (documented)."""
    first = make_server()
    token = register_and_login(first, "mem@example.com")["access_token"]
    burst(first, token, 5)
    first.stop()
    second = make_server(port=first.settings.port)
    r = second.client(token).get(URL)
    assert r.headers["x-ratelimit-remaining"] == str(Q - 1)


def test_a_tier_change_by_the_owners_command_applies_within_a_second(make_server: Any) -> None:
    srv = make_server()
    c = srv.client(register_and_login(srv, "owner-made@example.com")["access_token"])
    pro_only = "/api/indicators/GBPUSD/H1?bars=5"
    for _ in range(2):  # the caller is cached in the server now, as FREE
        assert c.get(pro_only).status_code == 403
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    env.update(
        TRADEALERTS_HOME=str(srv.settings.home),
        TRADEALERTS_DATABASE_URL=srv.settings.db_url,
        TRADEALERTS_SECRET_KEY="test-secret-key-0123456789abcdef",
    )
    done = subprocess.run(
        [str(EXE), "admin", "set-tier", "owner-made@example.com", "PRO"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # the cached copy of the caller expires after caller_cache_seconds (1 s): 403 while it
    # is cached, then 200 and nothing else
    seen = wait_until(lambda: (r := c.get(pro_only)).status_code != 403 and r, 30, "PRO")
    assert seen.status_code == 200
    assert c.get("/api/symbols").headers["x-ratelimit-limit"] == "300"


def test_the_memory_window_keeps_at_most_max_keys_users() -> None:
    """Memory per user is bounded: past ``max_keys`` users the least recently counted one
    is forgotten, and the others' counts stay exact."""
    from tradealerts.server.quota import MemoryWindow

    window = MemoryWindow(max_keys=3)
    for key in ("a", "b", "c"):
        assert window.hit(key, 2)[:2] == (True, 1)
    assert window.hit("a", 2)[:2] == (True, 0)  # "a" is now the most recent
    assert window.hit("d", 2)[:2] == (True, 1)  # "b", the least recent, makes room
    assert len(window) == 3
    assert window.hit("a", 2)[0] is False  # kept, exactly: its two requests are counted
    assert window.hit("c", 2)[:2] == (True, 0)
    assert window.hit("b", 2)[:2] == (True, 1)  # forgotten: its count started again
