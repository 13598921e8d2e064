"""Sessions that end, over real HTTP: an access token dies with its session (logout, password
or 2FA change, reuse of a spent refresh token), on the indicators fast path too and in another
API process; a refresh whose answer was lost can be retried within the grace window."""

from __future__ import annotations

import os
import secrets
import threading
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from tests.faultproxy import Fault, FaultProxy
from tests.server.serverkit import PW, Running, register_and_login, wait_until

from tradealerts.server.security import AUDIENCE

REDIS_URL = os.environ.get("TRADEALERTS_TEST_REDIS_URL")
URL = "/api/indicators/EURUSD/H1?bars=5"


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


def fast(r: httpx.Response) -> bool:
    """Whether the indicators fast path answered (it names itself in Server-Timing)."""
    return r.headers.get("server-timing", "").startswith("fastpath")


def test_logout_ends_the_access_token_at_once_on_every_path(server: Running) -> None:
    tokens = register_and_login(server, "bye@example.com")
    c = server.client(tokens["access_token"])
    assert c.get("/api/user").status_code == 200
    assert c.get(URL).status_code == 200
    warm = c.get(URL)  # the caller is cached now: the fast path answers
    assert warm.status_code == 200 and fast(warm)
    r = server.client().post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    for path in ("/api/user", URL, "/api/symbols", "/api/alerts"):
        r = c.get(path)
        assert r.status_code == 401 and code(r) == "session_ended", path
        assert not fast(r)
    # another login of the same account is untouched
    other = server.client().post(
        "/api/auth/login", json={"email": "bye@example.com", "password": PW}
    )
    assert server.client(other.json()["access_token"]).get("/api/user").status_code == 200


def test_a_reused_refresh_token_ends_the_access_tokens_of_its_session(server: Running) -> None:
    tokens = register_and_login(server, "theft@example.com")
    anon = server.client()
    new = anon.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    c = server.client(new["access_token"])
    assert c.get("/api/user").status_code == 200
    server.clock.advance(seconds=server.settings.refresh_grace_seconds + 1)
    r = anon.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401  # the stolen copy came back: the session ends ...
    r = c.get("/api/user")
    assert r.status_code == 401 and code(r) == "session_ended"  # ... its live token too


def test_two_factor_changes_end_the_other_sessions(server: Running) -> None:
    mine = register_and_login(server, "2fa@example.com")
    other = (
        server.client()
        .post("/api/auth/login", json={"email": "2fa@example.com", "password": PW})
        .json()
    )
    me, them = server.client(mine["access_token"]), server.client(other["access_token"])
    assert them.get(URL).status_code == 200 and fast(them.get(URL))
    totp = pyotp.TOTP(me.post("/api/auth/2fa/setup").json()["secret"])
    assert (
        me.post("/api/auth/2fa/enable", json={"code": totp.at(server.clock())}).status_code == 200
    )
    r = them.get(URL)
    assert r.status_code == 401 and code(r) == "session_ended"
    assert me.get("/api/user").json()["totp_enabled"] is True  # the changer's session goes on
    # and off again: a session opened with 2FA on ends too
    server.clock.advance(seconds=30)
    third = server.client().post(
        "/api/auth/login",
        json={"email": "2fa@example.com", "password": PW, "otp": totp.at(server.clock())},
    )
    assert third.status_code == 200
    server.clock.advance(seconds=30)
    r = me.post("/api/auth/2fa/disable", json={"password": PW, "code": totp.at(server.clock())})
    assert r.status_code == 200
    r = server.client(third.json()["access_token"]).get("/api/user")
    assert r.status_code == 401 and code(r) == "session_ended"


def test_access_tokens_name_their_session_and_audience(server: Running) -> None:
    tokens = register_and_login(server, "aud@example.com")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["aud"] == AUDIENCE and len(claims["sid"]) == 32
    key = server.settings.secret_key.get_secret_value()  # type: ignore[union-attr]
    # signed with the right key, but for another audience, or naming no session
    for forged in (
        {**claims, "aud": "another-service"},
        {k: v for k, v in claims.items() if k != "aud"},
        {k: v for k, v in claims.items() if k != "sid"},
    ):
        token = jwt.encode(forged, key, algorithm="HS256")
        r = server.client(token).get("/api/user")
        assert r.status_code == 401 and code(r) == "not_logged_in", forged
        assert server.client(token).get(URL).status_code == 401


def test_a_refresh_retried_within_the_grace_window_gets_the_same_pair(server: Running) -> None:
    tokens = register_and_login(server, "retry@example.com")
    anon = server.client()
    first = anon.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    server.clock.advance(seconds=server.settings.refresh_grace_seconds - 1)
    again = anon.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()  # the same pair, byte for byte
    # the pair works, and rotates on as usual
    pair = first.json()
    assert server.client(pair["access_token"]).get("/api/user").status_code == 200
    nxt = anon.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert nxt.status_code == 200
    # once the successor is spent, the old token is no longer a retry but a stolen copy
    r = anon.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    r = anon.post("/api/auth/refresh", json={"refresh_token": nxt.json()["refresh_token"]})
    assert r.status_code == 401  # the whole session ended


def test_concurrent_refreshes_of_one_token_all_get_one_pair(server: Running) -> None:
    """Processes sharing one login (CLI, daemon, TUI) that refresh at the same moment."""
    tokens = register_and_login(server, "race@example.com")
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(6)

    def refresh() -> None:
        with httpx.Client(base_url=server.url, timeout=20) as c:
            barrier.wait()
            answers.append(
                c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            )

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert len({r.json()["refresh_token"] for r in answers}) == 1
    pair = answers[0].json()
    assert server.client(pair["access_token"]).get("/api/user").status_code == 200


def test_a_refresh_cut_mid_answer_can_be_retried(server: Running) -> None:
    tokens = register_and_login(server, "cut@example.com")
    proxy = FaultProxy(server.settings.port).start()
    try:
        for after in (0, 40):  # nothing of the answer arrives, then only part of its head
            proxy.set_plan([Fault(cut_at=after)])
            with httpx.Client(base_url=proxy.url, timeout=10) as c, pytest.raises(httpx.HTTPError):
                c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
        assert proxy.faults_applied["cut"] == 2
        with httpx.Client(base_url=proxy.url, timeout=10) as c:
            r = c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 200, r.text
        pair = r.json()
        assert server.client(pair["access_token"]).get("/api/user").status_code == 200
        nxt = server.client().post(
            "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert nxt.status_code == 200  # the session lives on
    finally:
        proxy.close()


def _wait_refused(c: httpx.Client) -> None:
    """Until ``c``'s token is refused as an ended session (accepted until then)."""

    def refused() -> bool:
        r = c.get(URL)
        assert r.status_code in (200, 401), r.text
        return r.status_code == 401 and code(r) == "session_ended"

    wait_until(refused, 30, "the other process to refuse the token")


def _two_servers(make_server: Any, **overrides: Any) -> tuple[Running, Running]:
    a = make_server(**overrides)
    b = make_server(**overrides)
    return a, b


def test_another_process_refuses_the_token_within_the_sync_interval(make_server: Any) -> None:
    """Without Redis, each API process re-reads ended sessions from the database."""
    a, b = _two_servers(make_server, revocation_sync_seconds=0.5)
    tokens = register_and_login(a, "two@example.com")
    on_b = b.client(tokens["access_token"])
    on_b.get(URL)
    assert fast(on_b.get(URL))
    assert (
        a.client()
        .post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        .status_code
        == 204
    )
    _wait_refused(on_b)


@pytest.mark.skipif(not REDIS_URL, reason="TRADEALERTS_TEST_REDIS_URL is not set")
def test_with_redis_another_process_refuses_the_token_at_once(make_server: Any) -> None:
    """Scaled out: the ending process tells the others through Redis. The database re-read is
    hourly here, so only Redis can carry it."""
    a, b = _two_servers(
        make_server,
        redis_url=REDIS_URL,
        redis_prefix=f"test-{secrets.token_hex(6)}",
        revocation_sync_seconds=3600,
    )
    tokens = register_and_login(a, "redis@example.com")
    on_b = b.client(tokens["access_token"])
    on_b.get(URL)
    assert fast(on_b.get(URL))
    assert (
        a.client()
        .post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        .status_code
        == 204
    )
    _wait_refused(on_b)
