"""Accounts over real HTTP: register, mailed code, verify, login, refresh, logout, reset, 2FA,
throttles, and tokens that must be refused."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pyotp
import pytest
from tests.server.serverkit import Running, register_and_login

PW = "correct horse battery"


def error(r) -> dict:
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    return body["error"]


def test_register_verify_login_refresh_logout(server: Running) -> None:
    c = server.client()
    r = c.post("/api/auth/register", json={"email": "Ann@Example.com", "password": PW})
    assert r.status_code == 202
    mail = server.inbox.wait_for("ann@example.com")[0]
    body = mail.get_payload(decode=True).decode()
    code = server.inbox.code_for("ann@example.com")
    assert f"{server.settings.public_url}/verify?email=ann%40example.com&code={code}" in body
    # not verified yet: the right password is still refused with a clear reason
    r = c.post("/api/auth/login", json={"email": "ann@example.com", "password": PW})
    assert r.status_code == 403 and error(r)["code"] == "email_not_verified"
    assert (
        c.post(
            "/api/auth/verify-email", json={"email": "ann@example.com", "code": code}
        ).status_code
        == 200
    )
    # single use
    r = c.post("/api/auth/verify-email", json={"email": "ann@example.com", "code": code})
    assert r.status_code == 200  # already verified: nothing to do, no error
    server.inbox.wait_for("ann@example.com", 2)  # the welcome mail
    r = c.post("/api/auth/login", json={"email": "ANN@example.com", "password": PW})
    assert r.status_code == 200
    tokens = r.json()
    me = server.client(tokens["access_token"]).get("/api/user")
    assert me.json()["email"] == "ann@example.com" and me.json()["tier"] == "FREE"
    # refresh rotates: the new pair works, the old refresh token is spent
    r2 = c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r2.status_code == 200
    new = r2.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    # the old one coming back after the grace window means theft: the family is revoked
    server.clock.advance(seconds=31)
    r3 = c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r3.status_code == 401 and error(r3)["code"] == "session_ended"
    r4 = c.post("/api/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert r4.status_code == 401
    # logout ends a session
    t = c.post("/api/auth/login", json={"email": "ann@example.com", "password": PW}).json()
    assert c.post("/api/auth/logout", json={"refresh_token": t["refresh_token"]}).status_code == 204
    assert (
        c.post("/api/auth/refresh", json={"refresh_token": t["refresh_token"]}).status_code == 401
    )


def test_verification_link_page(server: Running) -> None:
    c = server.client()
    c.post("/api/auth/register", json={"email": "page@example.com", "password": PW})
    code = server.inbox.code_for("page@example.com")
    page = c.get("/verify", params={"email": "page@example.com", "code": code})
    assert page.status_code == 200 and f'value="{code}"' in page.text
    bad = c.post("/verify", data={"email": "page@example.com", "code": "000000"})
    assert bad.status_code == 422 and "the code is wrong" in bad.text
    ok = c.post("/verify", data={"email": "page@example.com", "code": code})
    assert ok.status_code == 200 and "verified" in ok.text


def test_codes_expire_and_allow_five_tries(server: Running) -> None:
    c = server.client()
    c.post("/api/auth/register", json={"email": "bo@example.com", "password": PW})
    code = server.inbox.code_for("bo@example.com")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        r = c.post("/api/auth/verify-email", json={"email": "bo@example.com", "code": wrong})
        assert r.status_code == 422 and "wrong" in error(r)["message"]
    r = c.post("/api/auth/verify-email", json={"email": "bo@example.com", "code": wrong})
    assert r.status_code == 422 and error(r)["code"] == "invalid_code"
    r = c.post("/api/auth/verify-email", json={"email": "bo@example.com", "code": code})
    # the code is dead after 5 tries (one answer for every reason: no account oracle)
    assert r.status_code == 422 and error(r)["code"] == "invalid_code"
    c.post("/api/auth/resend-verification", json={"email": "bo@example.com"})
    fresh = server.inbox.code_for("bo@example.com", 2)
    server.clock.advance(minutes=31)
    r = c.post("/api/auth/verify-email", json={"email": "bo@example.com", "code": fresh})
    assert r.status_code == 422 and "expired" in error(r)["message"]


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least 10 characters"), ("password123", "too common")],
)
def test_weak_passwords_refused(server: Running, password: str, problem: str) -> None:
    r = server.client().post(
        "/api/auth/register", json={"email": "weak@example.com", "password": password}
    )
    assert r.status_code == 422 and problem in error(r)["message"]
    assert error(r)["field"] == "password"


def test_bad_email_names_the_field(server: Running) -> None:
    r = server.client().post("/api/auth/register", json={"email": "not-an-email", "password": PW})
    assert r.status_code == 422 and error(r)["field"] == "email"


def test_no_response_tells_whether_an_email_is_registered(server: Running) -> None:
    register_and_login(server, "known@example.com")
    c = server.client()
    a = c.post("/api/auth/register", json={"email": "known@example.com", "password": PW})
    b = c.post("/api/auth/register", json={"email": "unknown@example.com", "password": PW})
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    a = c.post("/api/auth/forgot-password", json={"email": "known@example.com"})
    b = c.post("/api/auth/forgot-password", json={"email": "nobody@example.com"})
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    server.app.state.signups.wait_all()  # the sign-ups' hashes, after their answers, are done
    timings = {}
    for email in ("known@example.com", "nobody2@example.com"):
        t0 = time.perf_counter()
        r = c.post("/api/auth/login", json={"email": email, "password": "wrong password!"})
        timings[email] = time.perf_counter() - t0
        assert r.status_code == 401
        assert error(r)["message"] == "Wrong email or password."
    # both paths pay for one argon2 verification: within a factor of 3 of each other
    fast, slow = sorted(timings.values())
    assert slow < 3 * fast + 0.05


def test_login_throttled_after_five_failures(server: Running) -> None:
    register_and_login(server, "t@example.com")
    c = server.client()
    for _ in range(5):
        r = c.post("/api/auth/login", json={"email": "t@example.com", "password": "nope nope nope"})
        assert r.status_code == 401
    r = c.post("/api/auth/login", json={"email": "t@example.com", "password": PW})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many failed logins" in error(r)["message"]


def test_reset_password_ends_every_session(server: Running) -> None:
    tokens = register_and_login(server, "r@example.com")
    c = server.client()
    c.post("/api/auth/forgot-password", json={"email": "r@example.com"})
    code = server.inbox.code_for("r@example.com", 3)  # verify, welcome, reset
    r = c.post(
        "/api/auth/reset-password",
        json={"email": "r@example.com", "code": code, "password": "a brand new secret"},
    )
    assert r.status_code == 200
    assert (
        c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )
    again = c.post(
        "/api/auth/reset-password",
        json={"email": "r@example.com", "code": code, "password": "another new one!"},
    )
    assert again.status_code == 422  # single use
    assert (
        c.post("/api/auth/login", json={"email": "r@example.com", "password": PW}).status_code
        == 401
    )
    assert (
        c.post(
            "/api/auth/login", json={"email": "r@example.com", "password": "a brand new secret"}
        ).status_code
        == 200
    )


def test_two_factor(server: Running) -> None:
    tokens = register_and_login(server, "otp@example.com")
    me = server.client(tokens["access_token"])
    setup = me.post("/api/auth/2fa/setup").json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/tradealerts:otp%40example.com")
    totp = pyotp.TOTP(setup["secret"])
    bad = me.post(
        "/api/auth/2fa/enable", json={"code": "000000" if totp.now() != "000000" else "111111"}
    )
    assert bad.status_code == 422
    assert (
        me.post("/api/auth/2fa/enable", json={"code": totp.at(server.clock())}).status_code == 200
    )
    c = server.client()
    r = c.post("/api/auth/login", json={"email": "otp@example.com", "password": PW})
    assert r.status_code == 401 and error(r)["code"] == "otp_required"


def test_a_totp_code_is_accepted_once(server: Running) -> None:
    """A code seen (shoulder-surfed, phished, logged) cannot be replayed within its window."""
    tokens = register_and_login(server, "once@example.com")
    me = server.client(tokens["access_token"])
    totp = pyotp.TOTP(me.post("/api/auth/2fa/setup").json()["secret"])
    enabling = totp.at(server.clock())
    assert me.post("/api/auth/2fa/enable", json={"code": enabling}).status_code == 200
    c = server.client()

    def login(code: str):
        return c.post(
            "/api/auth/login", json={"email": "once@example.com", "password": PW, "otp": code}
        )

    r = login(enabling)  # the code that turned 2FA on is spent
    assert r.status_code == 401 and error(r)["code"] == "invalid_otp"
    assert "already used" in error(r)["message"]
    server.clock.advance(seconds=30)
    code = totp.at(server.clock())
    assert login(code).status_code == 200
    r = login(code)  # the same code again, still inside its 30 s step
    assert r.status_code == 401 and error(r)["code"] == "invalid_otp"
    # nor the previous step's code, which the window would otherwise still accept
    assert login(totp.at(server.clock() - timedelta(seconds=30))).status_code == 401
    server.clock.advance(seconds=30)
    assert login(totp.at(server.clock())).status_code == 200


def _claims(server: Running, tokens: dict) -> dict:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})


def test_expired_tampered_wrong_key_and_alg_none_tokens_are_refused(server: Running) -> None:
    tokens = register_and_login(server, "sec@example.com")
    good = tokens["access_token"]
    assert server.client(good).get("/api/user").status_code == 200
    claims = _claims(server, tokens)
    forged_pro = jwt.encode(
        {**claims, "tier": "PRO", "sub": "1"},
        "another-key-0123456789abcdef-0123456789",
        algorithm="HS256",
    )
    header, _payload, sig = good.split(".")
    other = jwt.utils.base64url_encode(b'{"sub":"1","typ":"access","exp":9999999999}')
    tampered = f"{header}.{other.decode()}.{sig}"
    unsigned = jwt.encode({**claims}, key="", algorithm="none")
    for token in (forged_pro, tampered, unsigned, "not.a.jwt", good + "x"):
        r = server.client(token).get("/api/user")
        assert r.status_code == 401, token
        assert error(r)["code"] == "not_logged_in"
        assert r.headers["www-authenticate"] == "Bearer"
    server.clock.advance(minutes=16)
    r = server.client(good).get("/api/user")
    assert r.status_code == 401 and error(r)["code"] == "token_expired"


def test_tier_change_applies_on_the_next_request(server: Running) -> None:
    from tests.server.serverkit import set_tier

    tokens = register_and_login(server, "up@example.com")
    c = server.client(tokens["access_token"])
    assert c.get("/api/indicators/GBPUSD/H1?bars=5").status_code == 403
    set_tier(server, "up@example.com", "PRO")
    # the same token, minted while FREE
    assert c.get("/api/indicators/GBPUSD/H1?bars=5").status_code == 200
    notes = c.get("/api/notifications").json()
    assert notes["items"][0]["kind"] == "tier_changed"


def test_tokens_follow_the_servers_clock_not_the_wall_clock(server: Running) -> None:
    """A server whose clock runs ahead (the tests' injectable clock) accepts the tokens it
    issues: their issue time is in the wall clock's future, which PyJWT alone would refuse."""
    tokens = register_and_login(server, "ahead@example.com")
    server.clock.advance(hours=2)  # the first access token is now expired
    r = server.client(tokens["access_token"]).get("/api/user")
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    with server.client() as c:
        fresh = c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 200, fresh.text
    assert server.client(fresh.json()["access_token"]).get("/api/user").status_code == 200
