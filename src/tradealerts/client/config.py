"""The client's configuration: the server URL and, per server, the email that is logged in."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tradealerts.client.paths import config_file

__all__ = ["DEFAULT_SERVER", "ClientConfig", "server_url"]

DEFAULT_SERVER = "http://127.0.0.1:8000"


def server_url(explicit: str | None = None) -> str:
    """The server's base URL: ``--server``, else ``TRADEALERTS_SERVER``, else the default.

    Normalised (no trailing slash) so it can key credentials: one login per server.
    """
    url = (explicit or os.environ.get("TRADEALERTS_SERVER") or DEFAULT_SERVER).strip()
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


class ClientConfig:
    """``client.json`` in the client's home: ``{"servers": {url: {"email": ..., ...}}}``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_file()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)

    def get(self, server: str, key: str) -> str | None:
        """A remembered value of ``server`` (``email``: logged in; ``pending``: registered)."""
        entry = self._read().get("servers", {}).get(server, {})
        value = entry.get(key) if isinstance(entry, dict) else None
        return value if isinstance(value, str) else None

    def set(self, server: str, key: str, value: str | None) -> None:
        """Remember (or, with None, forget) a value of ``server``."""
        data = self._read()
        servers = data.setdefault("servers", {})
        entry = servers.setdefault(server, {})
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
        if not entry:
            servers.pop(server)
        self._write(data)

    def current_email(self, server: str) -> str | None:
        """The email logged in on ``server``."""
        return self.get(server, "email")

    def set_current_email(self, server: str, email: str | None) -> None:
        self.set(server, "email", email)

    @property
    def file_only(self) -> bool:
        """True when this home keeps its logins in its own 0600 file, never in the OS keyring
        (``login --no-keyring``: a demo's folder, a throw-away home)."""
        return self._read().get("credentials") == "file"

    def set_file_only(self, on: bool) -> None:
        data = self._read()
        if on:
            data["credentials"] = "file"
        else:
            data.pop("credentials", None)
        self._write(data)
