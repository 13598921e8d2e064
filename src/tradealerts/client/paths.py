"""Where the client keeps its files: ``TRADEALERTS_HOME`` if set, else platformdirs' config dir."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_file", "credentials_file", "home"]


def home() -> Path:
    """The client's folder for config and data (not created here)."""
    explicit = os.environ.get("TRADEALERTS_HOME")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("tradealerts"))


def config_file() -> Path:
    """Small JSON settings: which email is logged in on which server."""
    return home() / "client.json"


def credentials_file() -> Path:
    """The 0600 fallback for tokens when no OS keyring is usable."""
    return home() / "credentials.json"
