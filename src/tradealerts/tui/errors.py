"""How the TUI reports a failure: every error becomes a sentence on the screen (and, for the
unexpected ones, a traceback in ``tui.log`` under the client's folder), never a crash."""

from __future__ import annotations

import logging
from pathlib import Path

from tradealerts.client.paths import home

__all__ = ["Handled", "log", "log_file", "setup_logging"]

log = logging.getLogger("tradealerts.tui")


class Handled(Exception):
    """An API call failed and the person has been told; the caller just stops."""


def log_file() -> Path:
    return home() / "tui.log"


def setup_logging() -> Path:
    """Send the TUI's log to ``tui.log`` (a full screen has no stderr to write to)."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not any(getattr(h, "baseFilename", None) == str(path) for h in log.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return path
