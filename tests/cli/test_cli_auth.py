"""The account's front door through the real command: register, verify, login, whoami, logout,
and the credentials left behind (keyring or 0600 file), against a real server."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.cli.conftest import PLAINTEXT_KEYRINGRC, Cli, make_home
from tests.server.serverkit import Running, register_and_login

from tradealerts.core.tiers import limits_for


def test_register_verify_login_whoami_logout_with_a_real_keyring(person: Cli) -> None:
    person.register_verify()
    out = person.login()
    assert person.email in out and "FREE" in out and "StandInKeyring" in out
    # the token is in the keyring (the OS keyring's stand-in), not in a credentials file
    assert _keyring_entry(person)["email"] == person.email
    assert not (person.home / "credentials.json").exists()
    me = person.json("whoami")
    lim = limits_for(me["tier"])
    assert me["email"] == person.email and me["tier"] == "FREE"
    assert me["limits"]["requests_per_hour"] == lim.requests_per_hour
    assert me["quota"]["limit"] == lim.requests_per_hour
    assert 0 <= me["quota"]["remaining"] < lim.requests_per_hour
    again = person.json("whoami")
    assert again["quota"]["remaining"] == me["quota"]["remaining"] - 1  # counted once each
    table = person.ok("whoami")
    assert person.email in table and "Requests left" in table
    stored = _keyring_entry(person)
    refresh = stored["refresh_token"]
    out = person.ok("logout")
    assert "revoked" in out
    assert _keyring_secret(person) is None
    assert not (person.home / "credentials.json").exists()
    # revoked on the server: the old refresh token no longer works
    with person.server.client() as c:
        r = c.post("/api/auth/refresh", json={"refresh_token": refresh})
        assert r.status_code == 401
    r = person.run("whoami")
    assert r.returncode == 3 and "tradealerts login" in r.stderr and not r.stdout


def _keyring_secret(person: Cli) -> str | None:
    """Read the entry back from the keyring stand-in's file."""
    try:
        data = json.loads(person.keyring_file.read_text())
    except FileNotFoundError:
        return None
    return data.get(f"tradealerts\n{person.server.url} {person.email}")


def _keyring_entry(person: Cli) -> dict:
    secret = _keyring_secret(person)
    assert secret is not None
    return dict(json.loads(secret))


def test_no_keyring_falls_back_to_a_0600_file_and_warns_once(user: Cli) -> None:
    fail = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    user.ok("logout")
    r = user.run("login", "--email", user.email, "--password-stdin",
                 input=user.password + "\n", **fail)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "no usable OS keyring" in r.stderr
    creds = user.home / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    data = json.loads(creds.read_text())
    [(key, secret)] = data.items()
    assert key == f"{user.server.url} {user.email}" and "refresh_token" in secret
    r = user.run("whoami", **fail)
    assert r.returncode == 0 and "keyring" not in r.stderr  # warned once only
    refresh = json.loads(secret)["refresh_token"]
    r = user.run("logout", **fail)
    assert r.returncode == 0, r.stderr
    assert not creds.exists()
    with user.server.client() as c:
        assert c.post("/api/auth/refresh", json={"refresh_token": refresh}).status_code == 401


def _keyring_write(person: Cli, entry: dict) -> None:
    data = json.loads(person.keyring_file.read_text())
    data[f"tradealerts\n{person.server.url} {person.email}"] = json.dumps(entry)
    person.keyring_file.write_text(json.dumps(data))


def test_an_expired_access_token_is_refreshed_before_the_request(user: Cli) -> None:
    before = _keyring_entry(user)
    _keyring_write(user, {**before, "access_expires": "2020-01-01T00:00:00+00:00"})
    assert user.json("whoami")["email"] == user.email
    after = _keyring_entry(user)
    assert after["refresh_token"] != before["refresh_token"]  # rotated and stored
    assert after["access_expires"] == before["access_expires"]  # the fresh token's expiry


def test_a_refused_access_token_is_refreshed_and_the_request_resent(user: Cli) -> None:
    before = _keyring_entry(user)
    _keyring_write(user, {**before, "access_token": "refused-by-the-server"})
    assert user.json("whoami")["email"] == user.email
    assert _keyring_entry(user)["refresh_token"] != before["refresh_token"]


def test_an_ended_session_means_not_logged_in(user: Cli) -> None:
    tokens = _keyring_entry(user)
    with user.server.client() as c:  # the session ends elsewhere (e.g. logout on another device)
        r = c.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 204
    _keyring_write(user, {**tokens, "access_expires": "2020-01-01T00:00:00+00:00"})
    r = user.run("whoami")
    assert r.returncode == 3, r.stderr
    assert "session" in r.stderr and "tradealerts login" in r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert _keyring_secret(user) is None  # the dead login is not kept


def test_wrong_password_and_unverified_account(person: Cli) -> None:
    person.ok("register", "--email", person.email, "--password-stdin", input=person.password + "\n")
    r = person.run(
        "login", "--email", person.email, "--password-stdin", input=person.password + "\n"
    )
    assert r.returncode == 1 and "Verify your email" in r.stderr
    person.ok("verify", person.server.inbox.code_for(person.email))
    r = person.run("login", "--email", person.email, "--password-stdin", input="wrong password!\n")
    assert r.returncode == 3 and "Wrong email or password" in r.stderr
    assert "Traceback" not in r.stderr and not r.stdout


def test_no_terminal_to_ask_on_is_a_usage_error(person: Cli) -> None:
    """stdin is not a terminal (a script, CI): nothing can be asked, so say what to pass
    instead; never getpass's warning or Click's bare "Aborted!"."""
    for args in (["login", "--email", "a@b.co"], ["register", "--email", "a@b.co"]):
        r = person.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr == (
            "Error: There is no terminal to ask the password on: use --password-stdin "
            "(the password on the first line of stdin).\n"
        ), r.stderr
    r = person.run("login")  # no email given, none remembered
    assert r.returncode == 2 and "--email" in r.stderr and "Aborted" not in r.stderr


def test_a_bad_email_or_code_is_a_usage_error(person: Cli) -> None:
    r = person.run("login", "--email", "notanemail", "--password-stdin", input="pw\n")
    assert r.returncode == 2 and r.stderr.startswith("Error: --email: 'notanemail'"), r.stderr
    assert "@-sign" in r.stderr and r.stderr.count("\n") == 1
    r = person.run("register", "--email", "me@", "--password-stdin", input="pw\n")
    assert r.returncode == 2 and "--email" in r.stderr
    r = person.run("login", "--email", person.email, "--otp", "12ab", "--password-stdin",
                   input="pw\n")  # fmt: skip
    assert r.returncode == 2 and "--otp" in r.stderr and "6 digits" in r.stderr


def test_bad_code_is_one_clear_line(person: Cli) -> None:
    r = person.run("verify", "12ab", "--email", person.email)
    assert r.returncode == 2 and "6 digits" in r.stderr


def test_tradealerts_token_overrides_the_keyring(person: Cli) -> None:
    tokens = register_and_login(person.server, person.email)
    me = person.json("whoami", TRADEALERTS_TOKEN=tokens["access_token"])
    assert me["email"] == person.email
    r = person.run("whoami", TRADEALERTS_TOKEN="not-a-token")
    assert r.returncode == 3 and "TRADEALERTS_TOKEN" in r.stderr


def test_server_down_is_one_clear_line(person: Cli) -> None:
    from tests.server.serverkit import free_port

    url = f"http://127.0.0.1:{free_port()}"
    r = person.run("login", "--email", person.email, "--password-stdin", input="x" * 12 + "\n",
                   TRADEALERTS_SERVER=url)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and f"Cannot reach the server at {url}" in r.stderr
    r = person.run("-v", "--server", url, "register", "--email", person.email,
                   "--password-stdin", input="x" * 12 + "\n")  # fmt: skip
    assert r.returncode == 1 and "ConnectError" in r.stderr  # -v shows the detail
    r = person.run("--server", url, "symbols")  # not logged in there: said before connecting
    assert r.returncode == 3 and f"not logged in on {url}" in r.stderr
    r = person.run("symbols", "--server", url)  # a root option after the command: usage
    assert r.returncode == 2 and "No such option" in r.stderr


def test_commands_refreshing_at_once_keep_the_session(user: Cli) -> None:
    """Refresh tokens work once; a second use ends the session. Parallel commands with an
    expired access token must therefore take turns (a lock) and reuse the fresh pair."""
    import subprocess
    import sys

    entry = _keyring_entry(user)
    _keyring_write(user, {**entry, "access_expires": "2020-01-01T00:00:00+00:00"})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tradealerts", "whoami", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=user.env(),
        )
        for _ in range(4)
    ]
    results = [(p.wait(60), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    for code, out, errs in results:
        assert code == 0, errs
        assert json.loads(out)["email"] == user.email
    assert user.json("whoami")["email"] == user.email  # the session is still alive


def test_keyrings_alt_plaintext_is_not_taken_for_a_keyring(server: Running, tmp_path: Path) -> None:
    """Issue #24: with keyrings.alt installed, the login went to its base64 file in the
    machine's data folder; it stays in the client's home, in the 0600 file, with a warning."""
    make_home(tmp_path, PLAINTEXT_KEYRINGRC)
    person = Cli(server, tmp_path, f"plain-{os.getpid()}@example.com")
    register_and_login(server, person.email, person.password)
    r = person.run("login", "--email", person.email, "--password-stdin",
                   input=person.password + "\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "keyrings.alt.file.PlaintextKeyring is a plain file, not a secure keyring" in r.stderr
    creds = person.home / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert f"{server.url} {person.email}" in json.loads(creds.read_text())
    assert not list((tmp_path / "data").rglob("keyring_pass.cfg"))  # nothing left outside
    assert person.json("whoami")["email"] == person.email
    person.ok("logout")
    assert not creds.exists()
