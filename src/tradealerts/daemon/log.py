"""The daemon's log: a rotating file in its folder (1 MB × 4), plus stderr in the foreground."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["follow", "setup_logging", "tail"]

MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup_logging(path: Path, *, foreground: bool, level: int = logging.INFO) -> None:
    """Log ``tradealerts.daemon`` to ``path`` (rotated) and, in the foreground, to stderr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter(FORMAT)
    formatter.converter = time.gmtime  # UTC, like every time the project writes
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    ]
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries: warnings only (httpx logs every request)
    logging.getLogger("tradealerts").setLevel(level)


def tail(path: Path, lines: int = 50) -> tuple[list[str], int]:
    """The last ``lines`` lines of the log and the offset they end at (for ``follow``)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 200 * (lines + 1)))
            text = f.read(size - f.tell()).decode("utf-8", errors="replace")
    except OSError:
        return [], 0
    out = text.splitlines()
    return (out[-lines:] if lines > 0 else []), size


def follow(path: Path, offset: int | None = None, poll: float = 0.25) -> Iterator[str]:
    """Lines written after ``offset`` (default: the end), across rotations (a new file at the
    same path is read from its start)."""
    handle = None
    inode = None
    while True:
        if handle is None:
            try:
                handle = path.open("r", encoding="utf-8", errors="replace")
                size = path.stat().st_size
                handle.seek(offset if offset is not None and offset <= size else size)
                inode = path.stat().st_ino
            except OSError:
                time.sleep(poll)
                continue
        line = handle.readline()
        if line:
            yield line.rstrip("\n")
            continue
        try:
            rotated = path.stat().st_ino != inode
        except OSError:
            rotated = True
        if rotated:
            rest = handle.read()
            yield from rest.splitlines()
            handle.close()
            handle = None
            try:
                handle = path.open("r", encoding="utf-8", errors="replace")
                inode = path.stat().st_ino
            except OSError:
                handle = None
            continue
        time.sleep(poll)
