"""What every benchmark shares: ports, start-up waits, CPU pinning, and the targets a run is
checked against (a bench exits 1 when it misses one, so ``make bench`` is a check).

BENCH_SMOKE=1 (``make bench-smoke``, run by CI) is the smoke mode, decided here once: each
bench runs at a tiny size (``smoke``) to prove it still runs, its timing targets are printed
but not checked (a shared CI machine's figures at a tiny size mean nothing), and its
correctness checks (lost or doubled frames, errors, counts) still fail it. A bench that
cannot run (a missing tool) exits non-zero with the reason in either mode (``need``)."""

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
from typing import TypeVar

import httpx

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent

__all__ = [
    "BIN",
    "HERE",
    "SMOKE",
    "Targets",
    "cli_server",
    "free_port",
    "need",
    "pinned",
    "pro_user_server",
    "smoke",
    "wait_up",
]

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
T = TypeVar("T")


def smoke(full: T, tiny: T) -> T:
    """``tiny`` in smoke mode, else ``full``: a bench's size, chosen in one place."""
    return tiny if SMOKE else full


def need(what: str, *commands: str, hint: str = "make bench-deps") -> None:
    """Exit 2 naming the missing commands when one of ``commands`` is not on the PATH: a bench
    that cannot run is a failure with its reason, never a silent pass."""
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        print(f"{what}: cannot run, {', '.join(missing)} missing ({hint})", file=sys.stderr)
        sys.exit(2)


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
    with status 1 when any target was missed.

    ``at_most`` and ``at_least`` are timing (or size) targets unless ``timing=False``;
    ``exactly`` is a correctness check (0 lost, 0 errors). In smoke mode a missed timing
    target is printed as ``not checked`` and does not fail the run; a correctness one does."""

    def __init__(self) -> None:
        self.missed: list[str] = []
        self.unchecked: list[str] = []

    def _mark(self, ok: bool, text: str, name: str, timing: bool) -> str:
        if ok:
            return f"[target {text}: OK]"
        if timing and SMOKE:
            self.unchecked.append(name or text)
            return f"[target {text}: missed, not checked in smoke mode]"
        self.missed.append(name or text)
        return f"[target {text}: MISSED]"

    def at_most(
        self, value: float, target: float, unit: str = "", name: str = "", timing: bool = True
    ) -> str:
        return self._mark(value <= target, f"<= {target:g}{unit}", name, timing)

    def at_least(
        self, value: float, target: float, unit: str = "", name: str = "", timing: bool = True
    ) -> str:
        return self._mark(value >= target, f">= {target:g}{unit}", name, timing)

    def exactly(self, value: float, target: float, name: str = "") -> str:
        return self._mark(value == target, f"= {target:g}", name, timing=False)

    def exit(self) -> None:
        """Exit 1 naming what was missed (0 when every checked target was met)."""
        if self.unchecked:
            print(f"smoke mode: {len(self.unchecked)} timing target(s) not checked: "
                  f"{'; '.join(self.unchecked)}")  # fmt: skip
        if self.missed:
            print(f"MISSED {len(self.missed)} target(s): {'; '.join(self.missed)}")
            sys.exit(1)
        print("smoke run through, its checks hold" if SMOKE else "all targets met")
