"""Process management: the lock (one daemon per user and server), the status file the daemon
keeps current, and starting/stopping the detached process.

The lock is an OS lock (``fcntl.flock``; ``msvcrt.locking`` on Windows) on ``daemon.lock``,
held for the daemon's whole life: the kernel drops it when the process dies however it dies, so
a stale pid left by a SIGKILL never blocks ``start``. The pid in ``daemon.pid`` is only read
while the lock is held by someone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from tradealerts.daemon.options import Options
from tradealerts.daemon.paths import DaemonPaths

__all__ = ["AlreadyRunning", "Lock", "StatusFile", "read_status", "running_pid", "spawn", "stop"]

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None, server: str) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"A daemon for {server} is already running ({who}). "
            "Stop it first: tradealerts daemon stop"
        )
        self.pid = pid


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class Lock:
    """``daemon.lock`` held for the life of the process (released by the kernel on death)."""

    def __init__(self, paths: DaemonPaths) -> None:
        self.paths = paths
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        self.paths.ensure()
        handle = self.paths.lock.open("a+", encoding="utf-8")
        if not _try_lock(handle):
            handle.close()
            return False
        self._handle = handle
        pid_file = self.paths.root / "daemon.pid"
        pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
        return True

    def release(self) -> None:
        if self._handle is not None:
            (self.paths.root / "daemon.pid").unlink(missing_ok=True)
            self._handle.close()  # closing the descriptor drops the lock
            self._handle = None


def running_pid(paths: DaemonPaths) -> int | None:
    """The running daemon's pid, or None when the lock is free (whatever pid file remains)."""
    if not paths.lock.exists():
        return None
    with paths.lock.open("a+", encoding="utf-8") as handle:
        if _try_lock(handle):
            return None  # closing releases our probe's lock
    try:
        return int((paths.root / "daemon.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return 0  # held, but the pid is not written yet


class StatusFile:
    """``status.json``: what the daemon is doing, rewritten atomically on every change."""

    def __init__(self, paths: DaemonPaths) -> None:
        self.path = paths.status
        self.started_at = time.time()

    def write(self, info: dict[str, Any]) -> None:
        data = {
            **info,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated_at": time.time(),
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


def read_status(paths: DaemonPaths) -> dict[str, Any] | None:
    try:
        data = json.loads(paths.status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _run_command(options: Options) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tradealerts",
        "--server",
        options.server,
        "daemon",
        "run",
        *options.run_args(),
        "--detached",
    ]


def spawn(options: Options, paths: DaemonPaths, env: dict[str, str] | None = None) -> int:
    """Start ``daemon run`` detached from this terminal; return its pid once it holds the lock.

    Raises AlreadyRunning, or RuntimeError with the log's last lines when it exits at once
    (another daemon won the lock, or the notifier asked for cannot work here).
    """
    pid = running_pid(paths)
    if pid is not None:
        raise AlreadyRunning(pid, options.server)
    paths.ensure()
    kwargs: dict[str, Any] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = (
            subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        )
    else:
        kwargs["start_new_session"] = True  # no controlling terminal: closing it is harmless
    with paths.log.open("a", encoding="utf-8") as out:  # tracebacks before logging is set up
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            _run_command(options),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=out,
            close_fds=True,
            env=env,
            **kwargs,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            from tradealerts.daemon.log import tail

            last = "\n".join(tail(paths.log, 5)[0])
            raise RuntimeError(f"the daemon exited at once (code {code}); the log says:\n{last}")
        status = read_status(paths)  # written once the notifier is chosen and the loop runs
        if status is not None and status.get("pid") == proc.pid:
            return proc.pid
        time.sleep(0.05)
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(paths: DaemonPaths, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM the running daemon and wait for its lock to go; its pid, or None if none ran."""
    pid = running_pid(paths)
    if not pid:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(paths) is None:
            return pid
        time.sleep(0.05)
    raise TimeoutError(f"the daemon (pid {pid}) did not stop within {timeout:.0f} s")


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def log_path(paths: DaemonPaths) -> Path:
    return paths.log
