"""Fixtures for CLI tests: one real server per module, the real ``tradealerts`` command run as a
subprocess against it, each user with a home and a keyring of their own."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.server.serverkit import (
    DATA,
    PW,
    Clock,
    Inbox,
    Running,
    free_port,
    server_settings,
    start_server,
)
from tests.server.stripekit import StripeDouble, setup_price, stripe_settings

_ids = itertools.count(1)
#: keyrings.alt's plain file, which the client refuses to take for a keyring (issue #24)
PLAINTEXT_KEYRINGRC = "[backend]\ndefault-keyring=keyrings.alt.file.PlaintextKeyring\n"


@dataclass
class Cli:
    """The ``tradealerts`` command of one person: their home, keyring and server."""

    server: Running
    root: Path
    email: str
    password: str = PW
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def keyring_file(self) -> Path:
        """Where the keyring stand-in keeps this person's secrets."""
        from tests.cli.keyringkit import StandInKeyring

        return StandInKeyring.path(self.root / "data")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TRADEALERTS_", "PYTHON_KEYRING"))
            and k not in ("NO_COLOR", "LC_ALL", "LC_MESSAGES")
        }
        env.update(
            LANG="C.UTF-8",  # the command speaks English unless a test gives it a locale
            TRADEALERTS_HOME=str(self.home),
            TRADEALERTS_SERVER=self.server.url,
            XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_DATA_HOME=str(self.root / "data"),
            COLUMNS="200",
            LINES="50",
            PYTHONIOENCODING="utf-8",
        )
        env.update(extra)
        return env

    def run(
        self, *args: str, input: str | None = None, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tradealerts", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=timeout,
            check=False,
        )

    def run_tty(self, *args: str, typed: str = "", timeout: float = 60) -> tuple[int, str]:
        """The command on a pseudo-terminal (stdin, stdout and stderr), ``typed`` at its
        keyboard; its exit code and everything it showed (prompts included)."""
        import pty
        import select

        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradealerts", *args],
            stdin=slave, stdout=slave, stderr=slave, env=self.env(), close_fds=True,
        )  # fmt: skip
        os.close(slave)
        os.write(master, typed.encode())  # waits in the terminal until the command reads it
        shown = b""
        try:
            while select.select([master], [], [], timeout)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the command ended, the terminal closed
                    break
                if not chunk:
                    break
                shown += chunk
            code = proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
        return code, shown.decode("utf-8", "replace").replace("\r\n", "\n")

    def ok(self, *args: str, input: str | None = None, **env: str) -> str:
        r = self.run(*args, input=input, **env)
        assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
        return r.stdout

    def json(self, *args: str, **env: str) -> Any:
        return json.loads(self.ok(*args, "--json", **env))

    def login(self, **env: str) -> str:
        return self.ok("login", "--email", self.email, "--password-stdin",
                       input=self.password + "\n", **env)  # fmt: skip

    def register_verify(self) -> None:
        """Sign up through the command itself, with the code from the real mail."""
        self.ok("register", "--email", self.email, "--password-stdin", input=self.password + "\n")
        code = self.server.inbox.code_for(self.email)
        self.ok("verify", code)


def make_home(root: Path, keyringrc: str | None = None) -> None:
    """A person's folders, their keyring the OS keyring's stand-in unless ``keyringrc``."""
    from tests.cli.keyringkit import keyring_rc

    (root / "config" / "python_keyring").mkdir(parents=True)
    (root / "config" / "python_keyring" / "keyringrc.cfg").write_text(keyringrc or keyring_rc())


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


def _serve(root: Path, **overrides: Any) -> Iterator[Running]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    db_url = f"sqlite:///{root / 'server.db'}"
    settings = server_settings(root / "server", db_url, port, **overrides)
    srv = start_server(settings, Clock(), inbox)
    try:
        yield srv
    finally:
        srv.stop()
        controller.stop()


def serve_selling_pro(root: Path, double: StripeDouble, **overrides: Any) -> Iterator[Running]:
    """A server as ``_serve`` starts it that sells PRO through the Stripe double, which sends
    its webhooks there."""
    price = setup_price(double)
    for srv in _serve(root, **overrides, **stripe_settings(double, price)):
        double.send_webhooks_to(f"{srv.url}/api/webhooks/stripe")
        yield srv


def serve_finished(root: Path) -> Iterator[Running]:
    """A server whose replay has played its whole file: no live prices, so every answer stays
    the same from one request to the next (snapshots, conditional requests)."""
    feed = f"replay:{DATA / 'eurusd_h1.csv'}"
    for srv in _serve(root, feed=feed, replay_speed=0.0, history_bars=800):
        engine = srv.app.state.engine
        deadline = time.monotonic() + 30
        while engine.state != "finished" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.state == "finished"
        yield srv


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    """One server for the whole module (users never share state: each has its own email)."""
    yield from _serve(module_tmp)


@pytest.fixture
def person(server: Running, tmp_path: Path) -> Cli:
    """A fresh person with a home of their own; not registered yet."""
    make_home(tmp_path)
    return Cli(server, tmp_path, f"user{next(_ids)}-{os.getpid()}@example.com")


@pytest.fixture
def user(person: Cli) -> Cli:
    """A verified FREE user logged in through ``tradealerts login``."""
    from tests.server.serverkit import register_and_login

    person.tokens = register_and_login(person.server, person.email, person.password)
    person.login()
    return person
