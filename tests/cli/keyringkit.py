"""A stand-in for the OS keyring (Secret Service, Keychain, Credential Manager) in CLI tests:
a keyring backend as keyring loads any other, from the person's keyring config, keeping its
secrets in a JSON file under their data folder so that a test can read them back.

keyrings.alt's ``PlaintextKeyring`` cannot play this part: the client takes it for what it is,
a plain file and no secure keyring, and keeps its logins in its own 0600 file instead."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend

__all__ = ["StandInKeyring", "keyring_rc"]

ROOT = Path(__file__).resolve().parents[2]


def keyring_rc() -> str:
    """The ``keyringrc.cfg`` that makes keyring load this backend."""
    return f"[backend]\ndefault-keyring=tests.cli.keyringkit.StandInKeyring\nkeyring-path={ROOT}\n"


class StandInKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @staticmethod
    def path(data_home: Path | None = None) -> Path:
        base = data_home or Path(os.environ["XDG_DATA_HOME"])
        return base / "stand_in_keyring.json"

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, str]) -> None:
        self.path().parent.mkdir(parents=True, exist_ok=True)
        self.path().write_text(json.dumps(data), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}\n{username}"] = password
        self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        data.pop(f"{service}\n{username}", None)
        self._write(data)
