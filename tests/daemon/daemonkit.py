"""Real parts for daemon tests: the daemon as a subprocess (``python -m tradealerts daemon
run``) against a real server, its deliveries counted through ``--exec``, and a D-Bus session
bus with dunst on Xvfb for the desktop notifications."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.server.serverkit import Running, fire_event, register_and_login, wait_until

from tradealerts.client.config import ClientConfig
from tradealerts.client.credentials import Credentials, CredentialStore
from tradealerts.core.schemas import TokenPair

DESKTOP_TOOLS = ("dbus-daemon", "Xvfb", "dunst", "dunstctl")


def need_tools(*tools: str) -> None:
    """Skip (fail under CI=true) when a system package the test needs is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        why = (
            f"needs {', '.join(missing)} (Debian packages dbus, xvfb, dunst, libnotify-bin: "
            "run make test-deps)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


def store_login(home: Path, server: str, tokens: dict[str, Any], email: str) -> None:
    """Keep a login in the 0600 credentials file of ``home``, as ``tradealerts login`` does."""
    pair = TokenPair.model_validate(tokens)
    store = CredentialStore(
        server,
        config=ClientConfig(home / "client.json"),
        file=home / "credentials.json",
        backend=None,
        warn=lambda m: None,
    )
    store.save(
        Credentials(
            email, pair.access_token, pair.expires_at, pair.refresh_token, pair.refresh_expires_at
        )
    )


@dataclass
class DaemonProc:
    """One person's daemon: their home, server, and the file ``--exec`` appends to."""

    root: Path
    server_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    #: shell commands run by ``--exec`` after the alert JSON is appended to the deliveries file
    hook_tail: str = ""

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def deliveries_file(self) -> Path:
        return self.root / "deliveries.jsonl"

    @property
    def folder(self) -> Path:
        from tradealerts.daemon.paths import server_slug

        return self.home / "daemon" / server_slug(self.server_url)

    @property
    def log(self) -> Path:
        return self.folder / "daemon.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TRADEALERTS_", "PYTHON_KEYRING", "DBUS_", "DISPLAY"))
            and k not in ("LC_ALL", "LC_MESSAGES")
        }
        env.update(
            LANG="C.UTF-8",  # English unless a test gives it a locale or the user a language
            TRADEALERTS_HOME=str(self.home),
            TRADEALERTS_SERVER=self.server_url,
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",  # the 0600 file
            HOME=str(self.root),
            XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_RUNTIME_DIR=str(self.root / "run"),
            PYTHONIOENCODING="utf-8",
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def exec_cmd(self) -> str:
        cmd = f"cat >> '{self.deliveries_file}'"
        return f"{cmd}; {self.hook_tail}" if self.hook_tail else cmd

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """``daemon run`` in the foreground, bell notifier, every delivery appended to a file."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        (self.root / "run").mkdir(exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "tradealerts",
            "daemon",
            "run",
            "--notifier",
            "bell",
            "--exec",
            self.exec_cmd(),
            *args,
        ]
        if "--notifier" in args:
            i = argv.index("--notifier")
            del argv[i : i + 2]
        self.proc = subprocess.Popen(
            argv,
            env=self.env(**env),
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.txt").open("ab"),
        )
        return self.proc

    def cli(self, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tradealerts", *args],
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / "status.json").read_text())
        except (OSError, ValueError):
            return {}
        return dict(data)

    def wait_connected(self, count: int = 1, timeout: float = 30) -> None:
        """Until the log says "connected to" ``count`` times (a reconnect counts too)."""
        wait_until(
            lambda: self.log_text().count("INFO connected to") >= count,
            timeout,
            f"daemon connection #{count}: {self.log_text()[-2000:]}",
        )

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8")
        except OSError:
            return ""

    def deliveries(self) -> list[dict[str, Any]]:
        try:
            lines = self.deliveries_file.read_text().splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def wait_deliveries(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        wait_until(
            lambda: len(self.deliveries()) >= count,
            timeout,
            f"{count} deliveries (have {len(self.deliveries())}): {self.log_text()[-2000:]}",
        )
        return self.deliveries()

    def terminate(self, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def new_user(srv: Running, root: Path, email: str, **env: str) -> DaemonProc:
    """A verified user of ``srv`` logged in in a fresh home, and their (not started) daemon."""
    tokens = register_and_login(srv, email)
    d = DaemonProc(root, srv.url, dict(env))
    store_login(d.home, srv.url, tokens, email)
    return d


def fire(
    srv: Running,
    email: str,
    *,
    symbol: str = "EURUSD",
    condition: str = "crossing_up",
    message: str | None = None,
    level: float = 1.09,
    price: float = 1.0912,
) -> int:
    """An alert event as the engine logs it when an alert fires (``serverkit.fire_event``)."""
    return fire_event(
        srv,
        email,
        price,
        symbol,
        condition=condition,
        level=level,
        message=message or f"{symbol} H1 crossed up {level} at {price}",
    )


SENTINEL = "sentinel: every delivery before it is in"


def ids_of(deliveries: list[dict[str, Any]]) -> list[int]:
    return [int(x["id"]) for x in deliveries]


def wait_sentinel(d: DaemonProc, sentinel: int, timeout: float = 30) -> list[dict[str, Any]]:
    """Every delivery of ``d`` before the event ``sentinel``, once that one is delivered.

    The server streams events in id order and the daemon delivers them one after the other,
    so a duplicate of any earlier event (a resume from the wrong id, a re-delivery at start,
    a hook run twice) is delivered before a later event: counting after the sentinel counts
    exactly, without waiting a fixed time for a duplicate that may come later still."""
    wait_until(
        lambda: sentinel in ids_of(d.deliveries()),
        timeout,
        f"the sentinel event {sentinel}: {d.log_text()[-2000:]}",
    )
    got = d.deliveries()
    assert ids_of(got).count(sentinel) == 1 and ids_of(got)[-1] == sentinel, ids_of(got)
    return got[:-1]


def through_sentinel(
    d: DaemonProc, srv: Running, email: str, symbol: str = "EURUSD", timeout: float = 30
) -> list[dict[str, Any]]:
    """Fire a sentinel alert for ``email`` now; the deliveries before it (``wait_sentinel``)."""
    return wait_sentinel(d, fire(srv, email, symbol=symbol, message=SENTINEL), timeout)


@dataclass
class Desktop:
    """A D-Bus session bus; dunst (on an Xvfb display) answers org.freedesktop.Notifications."""

    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]]

    def dunstctl(self, *args: str) -> str:
        return subprocess.run(
            ["dunstctl", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout

    def history(self) -> list[dict[str, Any]]:
        """Every notification dunst received, oldest first, as {field: value}."""
        self.dunstctl("close-all")  # shown ones move to the history
        data = json.loads(self.dunstctl("history"))["data"][0]
        return sorted(({k: v["data"] for k, v in n.items()} for n in data), key=lambda n: n["id"])

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


# Critical notifications never time out, normal ones after 10 s: the history's `timeout`
# tells which urgency dunst was given (its history has no urgency field).
DUNSTRC = """[global]
    history_length = 100
    sticky_history = yes
    idle_threshold = 0
[urgency_normal]
    timeout = 10
[urgency_critical]
    timeout = 0
"""

# A session bus that starts no services: without it, the bus would activate a second dunst
# from /usr/share/dbus-1/services while ours is starting.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def start_desktop(root: Path) -> Desktop:
    """Xvfb on a free display, a session bus, and dunst on both; ready when dunst answers."""
    need_tools(*DESKTOP_TOOLS)
    root.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    desktop = Desktop({}, procs)
    try:
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "800x600x24"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        procs.append(xvfb)
        assert xvfb.stdout is not None
        display = xvfb.stdout.readline().decode().strip()
        assert display.isdigit(), "Xvfb gave no display number"
        (root / "bus.conf").write_text(BUS_CONFIG.format(path=root / "bus"))
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={root / 'bus.conf'}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=(root / "bus.log").open("ab"),
        )
        procs.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        desktop.env.update(DISPLAY=f":{display}", DBUS_SESSION_BUS_ADDRESS=address)
        (root / "dunstrc").write_text(DUNSTRC)
        procs.append(
            subprocess.Popen(
                ["dunst", "-config", str(root / "dunstrc")],
                env={**os.environ, **desktop.env, "HOME": str(root)},
                stdout=subprocess.DEVNULL,
                stderr=(root / "dunst.log").open("ab"),
            )
        )

        def answers() -> bool:
            r = subprocess.run(
                ["dunstctl", "is-paused"],
                env={**os.environ, **desktop.env},
                capture_output=True,
                text=True,
                check=False,
                timeout=5,
            )
            return r.returncode == 0

        wait_until(answers, 15, "dunst on the session bus")
    except BaseException:
        desktop.stop()
        raise
    return desktop
