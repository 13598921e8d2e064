"""``tradealerts-server demo`` logs the local ``tradealerts`` command in as the PRO demo user,
in the demo's own TRADEALERTS_HOME, and prints the commands to try next."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.cli.conftest import make_home
from tests.cli.keyringkit import StandInKeyring
from tests.server.serverkit import free_port

SERVER_CMD = Path(sys.executable).parent / "tradealerts-server"


@contextmanager
def running_demo(
    port: int, env: dict[str, str], argv: list[str] | None = None
) -> Iterator[list[str]]:
    """``tradealerts-server demo`` on ``port`` (or ``argv``, which starts it), in a process
    group of its own; yields the lines it printed up to its commands to try (90 s at the
    most), and stops it as Ctrl-C does."""
    proc = subprocess.Popen(
        argv or [str(SERVER_CMD), "demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "alerts create" in line:
                break
        yield seen
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_demo_logs_the_client_in_as_pro(tmp_path: Path) -> None:
    port = free_port()
    make_home(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    env.update(
        TRADEALERTS_HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    with running_demo(port, env) as seen:
        text = "".join(seen)
        assert "logged in as pro@demo.tradealerts.dev (PRO)" in text, text
        assert f"export TRADEALERTS_SERVER=http://127.0.0.1:{port}" in text  # not the default
        tries = [ln.strip() for ln in seen if "tradealerts" in ln and ln.startswith("    ")]
        assert len(tries) >= 3
        env["TRADEALERTS_SERVER"] = f"http://127.0.0.1:{port}"
        who = subprocess.run(
            [sys.executable, "-m", "tradealerts", "whoami", "--json"],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        )  # fmt: skip
        me = json.loads(who.stdout)
        assert me["tier"] == "PRO" and me["email"] == "pro@demo.tradealerts.dev"
        # the login stays in the demo's folder, though this machine has a keyring that
        # would take it (issue #24), and later commands with that folder keep to it
        assert (tmp_path / "home" / "credentials.json").exists()
        assert not StandInKeyring.path(tmp_path / "data").exists()
        busy = subprocess.run(
            [str(SERVER_CMD), "demo", "--port", str(port)],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        # the port is taken: refused before any account or password is printed
        assert busy.returncode == 1 and f"{port}" in busy.stderr
        assert "password" not in busy.stdout + busy.stderr


def test_demo_keeps_to_a_demo_home_in_the_temp_dir(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    env.update(
        TMPDIR=str(tmp_path / "tmp"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        HOME=str(tmp_path / "home"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONUNBUFFERED="1",
    )
    (tmp_path / "tmp").mkdir()
    with running_demo(port, env) as seen:
        text = "".join(seen)
        demo_home = tmp_path / "tmp" / "tradealerts-demo"
        assert f"export TRADEALERTS_HOME={demo_home}" in text, text
        assert (demo_home / "server.db").exists()
        # the machine's own config and data folders are left alone
        for root in ("config", "data", "home"):
            assert not list((tmp_path / root).rglob("*tradealerts*")), root


def _demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    make_home(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    env.update(
        TRADEALERTS_HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _make_demo(port_arg: str | None) -> list[str]:
    """``make demo`` from the checkout with this test's Python's commands, the install step
    taken as done (``-o``: the venv is this one)."""
    root = Path(__file__).resolve().parents[2]
    argv = ["make", "-s", "-C", str(root), "-o", ".venv/.installed-server-dev", "demo",
            f"BIN={SERVER_CMD.parent}"]  # fmt: skip
    return [*argv, port_arg] if port_arg else argv


@pytest.mark.parametrize("how", ["PORT", "TRADEALERTS_PORT"])
def test_make_demo_serves_on_the_port_given(tmp_path: Path, how: str) -> None:
    """Issue #24: ``make demo`` always took 8000."""
    port = free_port()
    if how == "PORT":
        env, argv = _demo_env(tmp_path), _make_demo(f"PORT={port}")
    else:
        env, argv = _demo_env(tmp_path, TRADEALERTS_PORT=str(port)), _make_demo(None)
    with running_demo(port, env, argv) as seen:
        text = "".join(seen)
        assert f"http://127.0.0.1:{port}" in text and ":8000" not in text, text
        assert "logged in as pro@demo.tradealerts.dev (PRO)" in text, text
        status = subprocess.run(
            [str(SERVER_CMD), "status", "--port", str(port)],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith(f"server http://127.0.0.1:{port}: ok"), status.stdout
