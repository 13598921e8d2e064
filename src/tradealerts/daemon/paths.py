"""The daemon's files: one folder per server under the client's home, so one daemon per
(user, server) pair — the home is the user's — can each keep a lock, a state database and a log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tradealerts.client.paths import home

__all__ = ["DaemonPaths", "server_slug"]


def server_slug(server: str) -> str:
    """A file-name-safe name of a server URL: ``http://127.0.0.1:8000`` → ``127.0.0.1-8000``."""
    parts = urlsplit(server)
    text = (parts.netloc or server) + parts.path
    if parts.scheme == "https":
        text = "https-" + text
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-.")
    return slug or "default"


class _File:
    """One file of the daemon's folder, read as an attribute: ``paths.lock`` is its path."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, paths: DaemonPaths, owner: type[DaemonPaths] | None = None) -> Path:
        return paths.root / self.name


@dataclass(frozen=True)
class DaemonPaths:
    """Where the daemon of ``server`` keeps its files (``<home>/daemon/<slug>/``)."""

    server: str
    root: Path

    @classmethod
    def for_server(cls, server: str, base: Path | None = None) -> DaemonPaths:
        return cls(server, (base or home()) / "daemon" / server_slug(server))

    @property
    def slug(self) -> str:
        return self.root.name

    state_db = _File("state.db")
    lock = _File("daemon.lock")
    status = _File("status.json")
    log = _File("daemon.log")

    def ensure(self) -> DaemonPaths:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
