"""What the person chose for their daemon: parsed once, passed on unchanged to the detached
process (``start``) and to the login service (``install``) as the same command-line flags."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time

__all__ = [
    "DEAD_AFTER_ENV",
    "FEED_DOWN_AFTER",
    "LOGIN_POLL_ENV",
    "NOTIFIERS",
    "Options",
    "QuietHours",
    "parse_symbols",
]

NOTIFIERS = ("auto", "desktop", "notify-send", "bell")
#: Seconds without any byte from the server (heartbeats come every 15 s) before the connection
#: is taken for dead. An environment variable as well as a flag so tests can shorten it.
DEAD_AFTER_ENV = "TRADEALERTS_DAEMON_DEAD_AFTER"
#: The longest wait between reconnection attempts (default 60 s).
BACKOFF_CAP_ENV = "TRADEALERTS_DAEMON_BACKOFF_CAP"
#: Seconds between looks for a new login after the server refused ours (default 30).
LOGIN_POLL_ENV = "TRADEALERTS_DAEMON_LOGIN_POLL"

#: the default of ``--feed-down-after`` (seconds): a delay shorter than this raises nothing
FEED_DOWN_AFTER = 300.0

_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class QuietHours:
    """A daily window in local time, ``22:00-07:00`` (may cross midnight)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        m = _HHMM.match(text)
        if not m:
            raise ValueError(f"quiet hours {text!r}: write them as HH:MM-HH:MM, e.g. 22:00-07:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"quiet hours {text!r}: hours are 00-23 and minutes 00-59")
        if (h1, m1) == (h2, m2):
            raise ValueError(f"quiet hours {text!r}: start and end are the same time")
        return cls(time(h1, m1), time(h2, m2))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` (local time) is inside the window."""
        t = moment.time().replace(second=0, microsecond=0)
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


def parse_symbols(text: str | None) -> frozenset[str] | None:
    """``EURUSD,xauusd`` → {"EURUSD", "XAUUSD"}; empty or None → no filter."""
    if not text:
        return None
    items = frozenset(s.strip().upper() for s in text.split(",") if s.strip())
    return items or None


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def _dead_after_default() -> float:
    return _env_seconds(DEAD_AFTER_ENV, 45.0)


def _backoff_cap_default() -> float:
    return _env_seconds(BACKOFF_CAP_ENV, 60.0)


def _login_poll_default() -> float:
    return _env_seconds(LOGIN_POLL_ENV, 30.0)


@dataclass(frozen=True)
class Options:
    """The daemon's settings (the server URL is normalised by the client's ``server_url``)."""

    server: str
    notifier: str = "auto"
    sound: bool = True
    exec_cmd: str | None = None
    quiet_hours: QuietHours | None = None
    symbols: frozenset[str] | None = None
    dead_after: float = field(default_factory=_dead_after_default)
    backoff_base: float = 1.0
    backoff_cap: float = field(default_factory=_backoff_cap_default)
    #: how often to look for a new login once the server refused ours (no hammering)
    login_poll: float = field(default_factory=_login_poll_default)
    #: one notification when a watched symbol's data has been delayed this long (issue #29)
    feed_down_after: float = FEED_DOWN_AFTER

    def __post_init__(self) -> None:
        if not self.feed_down_after >= 0:
            raise ValueError("--feed-down-after: give seconds, 0 or more (e.g. 300)")
        if self.notifier not in NOTIFIERS:
            raise ValueError(f"notifier {self.notifier!r}: choose one of {', '.join(NOTIFIERS)}")

    def wants(self, symbol: str) -> bool:
        return self.symbols is None or symbol.upper() in self.symbols

    def run_args(self) -> list[str]:
        """The flags of ``tradealerts daemon run`` that reproduce these options."""
        args = ["--notifier", self.notifier, "--sound" if self.sound else "--no-sound"]
        if self.exec_cmd:
            args += ["--exec", self.exec_cmd]
        if self.quiet_hours:
            args += ["--quiet-hours", str(self.quiet_hours)]
        if self.symbols:
            args += ["--symbols", ",".join(sorted(self.symbols))]
        if self.feed_down_after != FEED_DOWN_AFTER:
            args += ["--feed-down-after", f"{self.feed_down_after:g}"]
        return args
