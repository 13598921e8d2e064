"""Notifier back ends, one small protocol: ``await backend.send(notice)``.

Chosen once at start (``choose``), in this order for ``auto``: desktop-notifier (D-Bus on
Linux, Notification Center on macOS, WinRT toasts on Windows), then ``notify-send``, then the
terminal bell plus a log line. ``notify-send`` talks to the same D-Bus notification server as
desktop-notifier: when a session bus is there but no notification server answers on it (dunst
without a display), it is skipped for the bell, which says why (``BellBackend.why``). A back
end that fails on a send hands over to the bell for good, and says so in the log and in
``daemon status`` (see ``Daemon._show``). ``--exec CMD`` is a separate hook run for each
alert; nothing here ever stops the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "Backend",
    "BellBackend",
    "DesktopBackend",
    "ExecHook",
    "Notice",
    "NotifySendBackend",
    "choose",
    "notice_for",
]

log = logging.getLogger("tradealerts.daemon")

#: Conditions whose alerts are shown as critical (they stay on screen until dismissed).
CRITICAL_CONDITIONS = frozenset({"line_break", "trendline_break"})
EXEC_TIMEOUT = 30.0


@dataclass(frozen=True)
class Notice:
    title: str
    body: str
    critical: bool = False
    sound: bool = True


def notice_for(data: dict[str, Any], sound: bool) -> Notice:
    """Title and body from the alert's message: a two-line message gives both; else the title
    is the pair (``EURUSD H1``) and the body the message."""
    symbol, timeframe = str(data.get("symbol") or ""), str(data.get("timeframe") or "")
    message = str(data.get("message") or "").strip()
    first, _, rest = message.partition("\n")
    if rest.strip():
        title, body = first.strip(), rest.strip()
    else:
        title = f"{symbol} {timeframe}".strip() or "tradealerts"
        body = message or f"{symbol} {timeframe} {data.get('condition', '')}".strip()
    return Notice(title, body, str(data.get("condition")) in CRITICAL_CONDITIONS, sound)


class Backend(Protocol):
    name: str

    async def send(self, notice: Notice) -> None:
        """Show ``notice``; raise when it could not be shown."""


def _session_bus_reachable() -> bool:
    """A D-Bus session bus to talk to (Linux): the address variable or the systemd default."""
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return Path(runtime, "bus").exists()


class DesktopBackend:
    """desktop-notifier: the platform's own notification service."""

    name = "desktop-notifier"

    def __init__(self) -> None:
        from desktop_notifier import DesktopNotifier

        self._notifier = DesktopNotifier(app_name="tradealerts")

    async def usable(self) -> bool:
        """True when the platform service answers (a D-Bus notification server on Linux)."""
        backend = type(self._notifier._backend).__name__  # no public way to ask
        if backend == "DummyNotificationCenter":
            return False
        if sys.platform.startswith("linux") and not _session_bus_reachable():
            return False
        try:
            caps = await asyncio.wait_for(self._notifier.get_capabilities(), 3.0)
        except Exception as exc:
            log.info("desktop-notifier unusable: %s", exc or type(exc).__name__)
            return False
        return bool(caps)

    async def send(self, notice: Notice) -> None:
        from desktop_notifier import DEFAULT_SOUND, Urgency

        shown = asyncio.Event()
        await self._notifier.send(
            title=notice.title,
            message=notice.body,
            urgency=Urgency.Critical if notice.critical else Urgency.Normal,
            sound=DEFAULT_SOUND if notice.sound else None,
            on_dispatched=shown.set,
        )
        if not shown.is_set():  # desktop-notifier logs and swallows its failures
            raise RuntimeError("the notification service did not accept the notification")


class NotifySendBackend:
    """libnotify's ``notify-send`` command."""

    name = "notify-send"

    def __init__(self, path: str) -> None:
        self.path = path

    async def send(self, notice: Notice) -> None:
        args = [self.path, "--app-name=tradealerts"]
        args.append(f"--urgency={'critical' if notice.critical else 'normal'}")
        if notice.sound:
            args.append("--hint=string:sound-name:message-new-instant")
        proc = await asyncio.create_subprocess_exec(
            *args,
            "--",
            notice.title,
            notice.body,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        if proc.returncode:
            raise RuntimeError(f"notify-send exited {proc.returncode}: {err.decode().strip()}")


class BellBackend:
    """The terminal bell (when there is a terminal) and a log line: always works. ``why``:
    what left the daemon with the bell, when it was not asked for."""

    name = "bell"

    def __init__(self, why: str | None = None) -> None:
        self.why = why

    async def send(self, notice: Notice) -> None:
        if notice.sound and sys.stderr is not None and sys.stderr.isatty():
            sys.stderr.write("\a")
            sys.stderr.flush()
        log.warning("ALERT %s: %s", notice.title, notice.body)


async def choose(preferred: str = "auto") -> Backend:
    """The back end to use: ``preferred``, or the first usable one for ``auto``.

    A back end asked for by name that is not usable is refused (ValueError), so a service
    file or a test never silently gets the bell.
    """
    why = None
    desktop_failed = False
    if preferred in ("auto", "desktop"):
        try:
            desktop = DesktopBackend()
            if await desktop.usable():
                return desktop
            desktop_failed = True
        except Exception as exc:  # an import or platform failure: try the next one
            log.info("desktop-notifier unavailable: %s", exc)
        if preferred == "desktop":
            raise ValueError("desktop-notifier cannot reach the desktop's notification service")
    if preferred in ("auto", "notify-send"):
        path = shutil.which("notify-send")
        linux = sys.platform.startswith("linux")
        bus = _session_bus_reachable()
        if path and (not linux or bus) and not (preferred == "auto" and linux and desktop_failed):
            return NotifySendBackend(path)
        if preferred == "notify-send":
            raise ValueError("notify-send is not installed or there is no D-Bus session bus")
        if linux and bus and desktop_failed:
            # notify-send would ask the same absent server: every alert would fail to show
            why = "no notification server answers on the D-Bus session bus"
        elif linux and not bus:
            why = "no D-Bus session bus"
        else:
            why = "no desktop notification service"
    if why is not None:
        log.warning("notifier: the bell and the log (%s)", why)
    return BellBackend(why)


class ExecHook:
    """``--exec CMD``: run through the shell for each alert, the alert as JSON on stdin and
    as ``TRADEALERTS_*`` variables (``TRADEALERTS_EVENT_ID`` is the stream's event id, unique
    per alert event: a hook can de-duplicate or catch up on it). A failure or a hang (30 s) is
    logged, never raised. At most once per event is the daemon's part (``Daemon._deliver``)."""

    def __init__(self, command: str, timeout: float = EXEC_TIMEOUT) -> None:
        self.command = command
        self.timeout = timeout

    @staticmethod
    def environment(data: dict[str, Any], event_id: int | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "TRADEALERTS_TOKEN"}
        for key in (
            "id",
            "alert_id",
            "symbol",
            "timeframe",
            "condition",
            "level",
            "price",
            "time",
            "message",
        ):
            value = data.get(key)
            name = "TRADEALERTS_EVENT_ID" if key == "id" else f"TRADEALERTS_{key.upper()}"
            env[name] = "" if value is None else str(value)
        if event_id is not None:  # the SSE id: the one the daemon stores and resumes from
            env["TRADEALERTS_EVENT_ID"] = str(event_id)
        return env

    async def run(self, data: dict[str, Any], event_id: int | None = None) -> bool:
        """Run the command once for ``data`` (event ``event_id``); True when it exited 0."""
        payload = (json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            proc = await asyncio.create_subprocess_shell(
                self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=self.environment(data, event_id),
            )
        except OSError as exc:
            log.error("--exec %r could not start: %s", self.command, exc)
            return False
        try:
            _, err = await asyncio.wait_for(proc.communicate(payload), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.error("--exec %r ran over %.0f s and was killed", self.command, self.timeout)
            return False
        if proc.returncode:
            tail = err.decode(errors="replace").strip()[-500:]
            log.error("--exec %r exited %s: %s", self.command, proc.returncode, tail)
            return False
        return True
