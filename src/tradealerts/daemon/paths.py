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

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def lock(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    def ensure(self) -> DaemonPaths:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
