"""One login shared by the CLI, the daemon and the TUI: refreshes at the same moment, a
refresh whose answer is cut, a long-lived process holding a spent refresh token, and a
keyring that accepts secrets and throws them away."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, _serve, make_home
from tests.faultproxy import Fault, FaultProxy
from tests.server.serverkit import Running, register_and_login

from tradealerts.client import Client, NotLoggedIn
from tradealerts.client.config import ClientConfig
from tradealerts.client.credentials import CredentialStore
from tradealerts.client.endpoints import me


@pytest.fixture(scope="module")
def behind(module_tmp: Path) -> Iterator[Running]:
    """A server whose clock runs 10 minutes behind the clients', issuing 5-minute access
    tokens: every client command finds its token due and refreshes first (the moment of
    an expiry, every time), while the server still takes each new token as valid."""
    srv = next(gen := _serve(module_tmp / "behind", access_token_minutes=5))
    srv.clock.advance(minutes=-10)
    yield srv
    next(gen, None)


@pytest.fixture
def shared(behind: Running, tmp_path: Path) -> Cli:
    make_home(tmp_path)
    person = Cli(behind, tmp_path, f"shared-{tmp_path.name}@example.com")
    register_and_login(behind, person.email, person.password)
    person.login()
    return person


def test_cli_processes_refreshing_at_once_stay_logged_in(shared: Cli) -> None:
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: shared.run("whoami", "--json"), range(4)))
    assert [r.returncode for r in runs] == [0] * 4, [r.stderr for r in runs]
    assert all(json.loads(r.stdout)["email"] == shared.email for r in runs)
    assert shared.run("whoami").returncode == 0


def test_a_refresh_cut_mid_answer_does_not_log_out(behind: Running, tmp_path: Path) -> None:
    proxy = FaultProxy(behind.settings.port).start()
    make_home(tmp_path)
    person = Cli(behind, tmp_path, f"cut-{tmp_path.name}@example.com")
    via = {"TRADEALERTS_SERVER": proxy.url}  # every command goes through the proxy
    try:
        register_and_login(behind, person.email, person.password)
        person.login(**via)
        proxy.set_plan([Fault(cut_at=0)])  # the command's first connection: its refresh
        r = person.run("whoami", **via)
        assert r.returncode == 1 and proxy.faults_applied["cut"] == 1, (r.returncode, r.stderr)
        # the next command retries the same refresh token: the same new pair comes back
        r = person.run("whoami", "--json", **via)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["email"] == person.email
        assert person.run("whoami", **via).returncode == 0  # and the session rotates on
    finally:
        proxy.close()


def _client(srv: Running, home: Path) -> Client:
    store = CredentialStore(
        srv.url, config=ClientConfig(home / "client.json"), file=home / "c.json", backend=None
    )
    return Client(srv.url, store=store)


def test_a_long_lived_process_uses_the_refresh_token_another_one_swapped(
    behind: Running, tmp_path: Path
) -> None:
    """The daemon holds the login in memory; the CLI refreshes it; the daemon's own copy of
    the refresh token is spent, and sending it later than the grace window would end the
    session for everyone: it must take the swapped one from the store."""
    email = f"daemon-{tmp_path.name}@example.com"
    register_and_login(behind, email)
    cli = _client(behind, tmp_path)
    cli.login(email, "correct horse battery")
    daemon = _client(behind, tmp_path)
    assert daemon.run(me()).email == email  # refreshed once; now holds that pair in memory
    assert cli.run(me()).email == email  # the CLI swaps the stored pair again
    behind.clock.advance(seconds=behind.settings.refresh_grace_seconds + 1)
    try:
        assert daemon.run(me()).email == email
        assert cli.run(me()).email == email
    except NotLoggedIn as exc:  # pragma: no cover - the failure this test guards against
        pytest.fail(f"the shared login ended: {exc}")
    finally:
        behind.clock.advance(seconds=-(behind.settings.refresh_grace_seconds + 1))
        cli.close()
        daemon.close()


def test_a_keyring_that_discards_falls_back_to_the_file(user: Cli) -> None:
    null = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    user.ok("logout")
    r = user.run("login", "--email", user.email, "--password-stdin",
                 input=user.password + "\n", **null)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "keyring.backends.null.Keyring) did not keep your login" in r.stderr
    assert "Session kept in the OS keyring" not in r.stdout
    assert "credentials.json (mode 0600" in r.stdout
    creds = user.home / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    r = user.run("whoami", **null)
    assert r.returncode == 0, r.stderr  # the next command is still logged in
    assert "did not keep" not in r.stderr  # said once
    assert user.run("logout", **null).returncode == 0
    assert not creds.exists()
