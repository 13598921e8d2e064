"""Abuse limits over real HTTP (issue #22): no account oracle, lock-outs an attacker cannot
aim at someone else, limits on password checks inside a session, mails per recipient, and
the client address behind a trusted proxy.

Sources are simulated the way a reverse proxy reports them: the test server trusts its
loopback peer (the default ``TRUSTED_PROXIES``), so ``X-Forwarded-For`` names the client.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from itertools import count
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import func, select
from tests.server.serverkit import PW, Running, register_and_login

from tradealerts.server.db.models import MailMessage
from tradealerts.server.proxies import TrustedProxies

_sources = count(1)


def source(address: str | None = None) -> dict[str, str]:
    """Headers of a request from ``address`` (a new one each call by default)."""
    if address is None:
        n = next(_sources)
        address = f"198.18.{n // 250}.{n % 250 + 1}"
    return {"X-Forwarded-For": address}


def answer(r: httpx.Response) -> tuple[int, Any]:
    """Status and body, without the request id every error carries."""
    body = r.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = {"error": {k: v for k, v in body["error"].items() if k != "request_id"}}
    return r.status_code, body


def mails_to(srv: Running, to: str) -> int:
    with srv.app.state.sessions() as s:
        return int(
            s.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.to == to)) or 0
        )


# -- no oracle ---------------------------------------------------------------------------


def test_register_verify_forgot_reset_answer_alike_for_known_and_unknown_emails(
    server: Running,
) -> None:
    """The four routes give the same status and body for a registered (verified, or not
    yet verified) address and an unknown one, and their median times over 20 tries differ
    by less than 50 ms (register hashed a password only for a new address: 66 vs 416 ms)."""
    register_and_login(server, "known@example.com")
    c = server.client()
    assert c.post(
        "/api/auth/register", json={"email": "pending@example.com", "password": PW}
    ).status_code == 202  # fmt: skip
    fresh = count()

    def register(known: bool) -> httpx.Response:
        email = "known@example.com" if known else f"new{next(fresh)}@example.com"
        return c.post("/api/auth/register", json={"email": email, "password": PW}, headers=source())

    def verify(known: bool) -> httpx.Response:
        email = "pending@example.com" if known else "nobody@example.com"
        return c.post(
            "/api/auth/verify-email", json={"email": email, "code": "000000"}, headers=source()
        )

    def forgot(known: bool) -> httpx.Response:
        email = "known@example.com" if known else "nobody@example.com"
        return c.post("/api/auth/forgot-password", json={"email": email}, headers=source())

    def reset(known: bool) -> httpx.Response:
        email = "known@example.com" if known else "nobody@example.com"
        body = {"email": email, "code": "000000", "password": "a brand new password 1"}
        return c.post("/api/auth/reset-password", json=body, headers=source())

    # a verified account with a wrong code answers like the others too (it was a 200)
    verified = c.post(
        "/api/auth/verify-email", json={"email": "known@example.com", "code": "000000"}
    )
    assert answer(verified) == answer(verify(False))

    routes: dict[str, Callable[[bool], httpx.Response]] = {
        "register": register,
        "verify-email": verify,
        "forgot-password": forgot,
        "reset-password": reset,
    }
    for name, call in routes.items():
        # each route on a quiet server: the sign-ups' hashes, done after their answers,
        # would slow whatever is measured next
        server.app.state.signups.wait_all()
        call(True), call(False)  # warm up: the first request of a route pays its imports
        times: dict[bool, list[float]] = {True: [], False: []}
        answers: dict[bool, set[str]] = {True: set(), False: set()}
        for _ in range(20):
            for known in (True, False):  # interleaved: a slow moment hits both alike
                # the answer's own time: the work done after the last answer (a sign-up's
                # hash) would slow this one whichever address it was for
                server.app.state.signups.wait_all()
                t0 = time.perf_counter()
                r = call(known)
                times[known].append(time.perf_counter() - t0)
                answers[known].add(repr(answer(r)))
        assert answers[True] == answers[False] and len(answers[True]) == 1, (name, answers)
        known_ms = statistics.median(times[True]) * 1e3
        unknown_ms = statistics.median(times[False]) * 1e3
        print(f"{name}: median known {known_ms:.1f} ms, unknown {unknown_ms:.1f} ms")
        assert abs(known_ms - unknown_ms) < 50, (name, known_ms, unknown_ms)


# -- lock-outs ---------------------------------------------------------------------------


def login(c: httpx.Client, email: str, password: str, at: str) -> httpx.Response:
    return c.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=source(at)
    )


def test_an_attackers_wrong_passwords_elsewhere_never_lock_the_owner_out(
    server: Running,
) -> None:
    register_and_login(server, "victim@example.com")
    c = server.client()
    attackers = [f"203.0.113.{i}" for i in (7, 8, 9)]
    statuses = [
        login(c, "victim@example.com", "not the password", attackers[i % 3]).status_code
        for i in range(30)
    ]
    # the attacker is slowed down: 5 tries a minute from each of their addresses
    assert statuses.count(401) == 15 and statuses.count(429) == 15, statuses
    slowed = login(c, "victim@example.com", "not the password", attackers[0])
    assert slowed.status_code == 429 and 1 <= int(slowed.headers["Retry-After"]) <= 60
    assert slowed.json()["error"]["code"] == "rate_limited"
    # the owner, from their own address, logs in at once (it was locked for 15 minutes)
    assert login(c, "victim@example.com", PW, "198.51.100.20").status_code == 200


def test_a_password_reset_lifts_the_owners_own_lock_out(server: Running) -> None:
    register_and_login(server, "forgetful@example.com")
    c = server.client()
    home = "198.51.100.30"
    for _ in range(5):
        assert login(c, "forgetful@example.com", "a wrong guess!", home).status_code == 401
    assert login(c, "forgetful@example.com", PW, home).status_code == 429
    c.post("/api/auth/forgot-password", json={"email": "forgetful@example.com"})
    code = server.inbox.code_for("forgetful@example.com", 3)  # verify, welcome, reset
    new = "my new password is long"
    r = c.post(
        "/api/auth/reset-password",
        json={"email": "forgetful@example.com", "code": code, "password": new},
    )
    assert r.status_code == 200, r.text
    assert login(c, "forgetful@example.com", new, home).status_code == 200


def test_password_and_totp_checks_inside_a_session_are_limited(server: Running) -> None:
    """A stolen access token cannot guess the password (or a 2FA code) that takes the
    account over: wrong answers to every such check share one back-off."""
    tokens = register_and_login(server, "session@example.com")
    me = server.client(tokens["access_token"])
    for _ in range(5):
        r = me.post(
            "/api/user/password",
            json={"current_password": "a wrong guess!", "new_password": "another long one"},
        )
        assert r.status_code == 422, r.text
    r = me.post(
        "/api/user/password", json={"current_password": PW, "new_password": "another long one"}
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited"
    # the other checks share it: deleting the account, turning 2FA off
    assert me.request("DELETE", "/api/user", json={"password": PW}).status_code == 429
    r = me.post("/api/auth/2fa/disable", json={"password": PW, "code": "123456"})
    assert r.status_code == 429


def test_totp_guesses_inside_a_session_are_limited(server: Running) -> None:
    tokens = register_and_login(server, "otp@example.com")
    me = server.client(tokens["access_token"])
    secret = me.post("/api/auth/2fa/setup").json()["secret"]
    good = pyotp.TOTP(secret).at(server.clock())
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        assert me.post("/api/auth/2fa/enable", json={"code": wrong}).status_code == 422
    assert me.post("/api/auth/2fa/enable", json={"code": good}).status_code == 429


# -- mails per recipient -----------------------------------------------------------------


def test_one_address_gets_at_most_three_codes_an_hour_and_the_same_answer(
    server: Running,
) -> None:
    register_and_login(server, "target@example.com")
    before = mails_to(server, "target@example.com")  # the verification and welcome mails
    c = server.client()
    answers = {
        repr(answer(c.post("/api/auth/forgot-password", json={"email": "target@example.com"})))
        for _ in range(8)
    }
    unknown = c.post("/api/auth/forgot-password", json={"email": "nobody@example.com"})
    assert answers == {repr(answer(unknown))}
    server.app.state.signups.wait_all()  # the codes are made and mailed after the answer
    assert mails_to(server, "target@example.com") - before == 3  # it was 8
    # "already registered" notices too
    for _ in range(6):
        r = c.post("/api/auth/register", json={"email": "target@example.com", "password": PW})
        assert r.status_code == 202
    server.app.state.signups.wait("target@example.com")  # their mails are queued after
    assert mails_to(server, "target@example.com") - before == 6


# -- the client behind a proxy -----------------------------------------------------------


def forgot_from(c: httpx.Client, xff: str) -> int:
    r = c.post(
        "/api/auth/forgot-password",
        json={"email": "nobody@example.com"},
        headers={"X-Forwarded-For": xff},
    )
    return r.status_code


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(
    make_server: Callable[..., Running],
) -> None:
    """Resets are limited to 20 an hour per client address: which address a request is
    counted against shows whose ``X-Forwarded-For`` the server believed."""
    srv = make_server(trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    c = srv.client()
    # through two proxies of ours: the client is the right-most address not one of them
    assert {forgot_from(c, "192.0.2.1, 10.0.0.2") for _ in range(20)} == {202}
    assert forgot_from(c, "192.0.2.1, 10.0.0.2") == 429
    assert forgot_from(c, "192.0.2.2, 10.0.0.2") == 202  # another client, same proxy
    # a client cannot pick its address by writing one in front: its real one is counted
    assert forgot_from(c, "192.0.2.99, 192.0.2.1, 10.0.0.2") == 429


def test_an_untrusted_peers_forwarded_for_is_ignored(make_server: Callable[..., Running]) -> None:
    srv = make_server(trusted_proxies=["10.0.0.0/8"])  # loopback, the test's peer, is not
    c = srv.client()
    assert {forgot_from(c, f"192.0.2.{i}") for i in range(1, 21)} == {202}
    assert forgot_from(c, "192.0.2.200") == 429  # all of them were the peer, 127.0.0.1


@pytest.mark.parametrize(
    ("peer", "chain", "client"),
    [
        ("127.0.0.1", ["192.0.2.1"], "192.0.2.1"),
        ("127.0.0.1", ["192.0.2.1", "10.0.0.2"], "192.0.2.1"),
        ("127.0.0.1", ["spoofed", "192.0.2.1"], "192.0.2.1"),
        ("127.0.0.1", ["junk", "10.0.0.2"], "10.0.0.2"),
        ("127.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("127.0.0.1", ["10.0.0.3", "10.0.0.2"], "10.0.0.3"),
        ("192.0.2.50", ["192.0.2.1"], "192.0.2.50"),
    ],
)
def test_the_client_is_the_right_most_untrusted_address(
    peer: str, chain: list[str], client: str
) -> None:
    assert TrustedProxies(["127.0.0.1", "10.0.0.0/8"]).client(peer, chain) == client
