"""What every benchmark shares: ports, start-up waits, CPU pinning, and the targets a run is
checked against (a bench exits 1 when it misses one, so ``make bench`` is a check)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent

__all__ = [
    "BIN",
    "HERE",
    "Targets",
    "cli_server",
    "free_port",
    "pinned",
    "pro_user_server",
    "wait_up",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


@contextmanager
def pro_user_server(
    port: int,
    server_env: dict[str, str],
    login_env: dict[str, str],
    email: str,
    password: str,
    core: int | None = None,
) -> Iterator[None]:
    """``tradealerts-server serve`` on ``port`` (``server_env``, pinned to ``core`` when one is
    given) with ``email`` made a PRO user first, and the ``tradealerts`` command logged in as
    that user with ``login_env`` (which points it at the server); stopped on exit."""
    server_cmd = str(BIN / "tradealerts-server")
    subprocess.run(
        [server_cmd, "admin", "create-user", email, "--tier", "PRO", "--password-stdin"],
        input=password + "\n", text=True, env=server_env, check=True, capture_output=True,
    )  # fmt: skip
    serve = [server_cmd, "serve", "--port", str(port)]
    server = subprocess.Popen(
        serve if core is None else pinned(core, serve),
        env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_up(f"http://127.0.0.1:{port}/api/system/health", server)
        subprocess.run(
            [sys.executable, "-m", "tradealerts", "login", "--email", email, "--password-stdin"],
            input=password + "\n", text=True, env=login_env, check=True, capture_output=True,
        )  # fmt: skip
        yield
    finally:
        server.terminate()
        server.wait(20)


@contextmanager
def cli_server(env: dict[str, str], email: str, password: str) -> Iterator[Path]:
    """A server on a free port with ``email`` as a PRO user, and ``env`` (updated in place)
    pointing the ``tradealerts`` command at it, logged in as that user; yields the temporary
    home. For the client benchmarks, which time the real command against a real server."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env.update(
            TRADEALERTS_HOME=tmp,
            TRADEALERTS_SERVER=f"http://127.0.0.1:{port}",
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )
        with pro_user_server(port, env, env, email, password):
            yield Path(tmp)


def pinned(core: int, argv: list[str]) -> list[str]:
    """``argv`` run on one CPU core (``taskset``), so a server and its load generator do not
    take turns on the same core; unchanged on a one-core machine or without taskset."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", str(core), *argv]


class Targets:
    """The figures of one benchmark checked against their targets. Each check returns the
    ``[target ...: OK|MISSED]`` text to print next to its figure; ``exit`` ends the process
    with status 1 when any target was missed."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def _mark(self, ok: bool, text: str, name: str) -> str:
        if not ok:
            self.missed.append(name or text)
        return f"[target {text}: {'OK' if ok else 'MISSED'}]"

    def at_most(self, value: float, target: float, unit: str = "", name: str = "") -> str:
        return self._mark(value <= target, f"<= {target:g}{unit}", name)

    def at_least(self, value: float, target: float, unit: str = "", name: str = "") -> str:
        return self._mark(value >= target, f">= {target:g}{unit}", name)

    def exactly(self, value: float, target: float, name: str = "") -> str:
        return self._mark(value == target, f"= {target:g}", name)

    def exit(self) -> None:
        """Exit 1 naming what was missed (0 when every target was met)."""
        if self.missed:
            print(f"MISSED {len(self.missed)} target(s): {'; '.join(self.missed)}")
            sys.exit(1)
        print("all targets met")
