"""The daemon's local state database (SQLite via sqlite-utils, WAL, in the per-server folder).

``alerts`` holds every alert event received, keyed by the server's event id, with where it
stands: ``pending`` (stored, not yet shown), ``held`` (quiet hours: shown when they end),
``delivered`` or ``filtered`` (a symbol outside ``--symbols``), and ``hook_started_at``: when
the ``--exec`` hook was started for it. ``meta`` holds ``last_event_id``, the ``Last-Event-ID``
of the next connection.

An event is stored and ``last_event_id`` advanced in one transaction; an id already stored (or
not above ``last_event_id``) is dropped. Delivery happens after the commit and is marked after
the notification call returns, so a crash before the mark re-delivers on the next start and a
crash before the commit re-receives from the server: nothing is lost (see architecture.md).
The hook is at most once: its start is committed (fsynced) before it runs, and a re-delivery
after a crash skips a hook that was started.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

__all__ = ["PENDING", "STATUSES", "StateDB", "Stored"]

PENDING, HELD, DELIVERED, FILTERED = "pending", "held", "delivered", "filtered"
STATUSES = (PENDING, HELD, DELIVERED, FILTERED)


@dataclass(frozen=True)
class Stored:
    """One alert event as the daemon keeps it."""

    event_id: int
    data: dict[str, Any]
    status: str
    received_at: str
    hook_started: bool = False

    @property
    def symbol(self) -> str:
        return str(self.data.get("symbol") or "")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StateDB:
    """Open (and create) the state database at ``path``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite_utils.Database(path)
        self.db.enable_wal()
        # NORMAL in WAL mode: a commit survives the process being killed (the crash);
        # power loss may undo the last commits, and then the server sends those events again
        # (last_event_id is undone with them): a repeat at worst, never a loss. FULL would
        # fsync twice per alert (store, mark), on the notification's path.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")  # `status` reads while the daemon writes
        if "alerts" not in self.db.table_names():
            self.db["alerts"].create(  # type: ignore[union-attr]
                {
                    "event_id": int,
                    "received_at": str,
                    "symbol": str,
                    "status": str,
                    "delivered_at": str,
                    "data": str,
                    "hook_started_at": str,
                },
                pk="event_id",
                not_null={"received_at", "status", "data"},
                if_not_exists=True,
            )
            self.db["alerts"].create_index(["status"], if_not_exists=True)  # type: ignore[union-attr]
            self.db["alerts"].create_index(["received_at"], if_not_exists=True)  # type: ignore[union-attr]
        elif "hook_started_at" not in self.db["alerts"].columns_dict:
            # a state.db from before the hook mark: its pending rows never started a hook
            self.db["alerts"].add_column("hook_started_at", str)  # type: ignore[union-attr]
        if "meta" not in self.db.table_names():
            self.db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)  # type: ignore[union-attr]

    def close(self) -> None:
        self.db.close()

    # -- writing -----------------------------------------------------------------------------
    def receive(self, event_id: int, data: dict[str, Any], status: str = PENDING) -> bool:
        """Store an event and advance ``last_event_id`` in one transaction; False if known."""
        conn = self.db.conn
        with conn:  # one transaction: both rows or neither
            row = conn.execute("SELECT value FROM meta WHERE key = 'last_event_id'").fetchone()
            if row is not None and event_id <= int(row[0]):
                return False
            cur = conn.execute(
                "INSERT OR IGNORE INTO alerts (event_id, received_at, symbol, status, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (event_id, _now(), str(data.get("symbol") or ""), status, json.dumps(data)),
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_event_id', ?)",
                (str(event_id),),
            )
        return True

    def first_time(self, key: str) -> bool:
        """Record ``key`` (``notice:3``) in ``meta``; True only the first time (one desktop
        notification per maintenance notice, across reconnects and restarts)."""
        with self.db.conn as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, _now())
            )
        return bool(cur.rowcount)

    def seen_before(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone() is not None

    def start_at(self, event_id: int) -> int:
        """Set where a daemon that never received anything starts (kept if one is stored);
        returns the stored starting point."""
        conn = self.db.conn
        with conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('last_event_id', ?)",
                (str(event_id),),
            )
        return self.last_event_id() or 0

    def hook_started(self, event_id: int) -> None:
        """Record, durably, that the ``--exec`` hook for ``event_id`` is about to start.

        Committed with ``synchronous=FULL`` (the WAL is fsynced) because the promise is "at most
        once" even across a power loss: the commit covers the event's own row too."""
        conn = self.db.conn
        conn.execute("PRAGMA synchronous=FULL")
        try:
            with conn:
                conn.execute(
                    "UPDATE alerts SET hook_started_at = ? WHERE event_id = ?", (_now(), event_id)
                )
        finally:
            conn.execute("PRAGMA synchronous=NORMAL")

    def mark(self, event_id: int, status: str) -> None:
        """Record how an event ended (``delivered``, ``held``)."""
        with self.db.conn as conn:
            conn.execute(
                "UPDATE alerts SET status = ?, delivered_at = ? WHERE event_id = ?",
                (status, _now() if status == DELIVERED else None, event_id),
            )

    def prune(self, days: int = 90) -> int:
        """Forget delivered and filtered events older than ``days`` (``last_event_id`` stays)."""
        cutoff = datetime.fromtimestamp(datetime.now(UTC).timestamp() - days * 86400, UTC)
        with self.db.conn as conn:
            cur = conn.execute(
                "DELETE FROM alerts WHERE status IN (?, ?) AND received_at < ?",
                (DELIVERED, FILTERED, cutoff.isoformat()),
            )
        return int(cur.rowcount or 0)

    # -- reading -----------------------------------------------------------------------------
    def last_event_id(self) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_event_id'").fetchone()
        return int(row[0]) if row else None

    def _rows(self, where: str, args: tuple[Any, ...] = (), tail: str = "") -> Iterator[Stored]:
        cols = "event_id, data, status, received_at, hook_started_at"
        sql = f"SELECT {cols} FROM alerts WHERE {where} {tail}"  # noqa: S608 - fixed fragments
        for event_id, data, status, received, hook in self.db.execute(sql, args).fetchall():
            yield Stored(int(event_id), json.loads(data), status, received, hook is not None)

    def with_status(self, status: str) -> list[Stored]:
        """Events in ``status``, oldest first."""
        return list(self._rows("status = ?", (status,), "ORDER BY event_id"))

    def recent(self, limit: int = 10) -> list[Stored]:
        return list(self._rows("1 = 1", (), f"ORDER BY event_id DESC LIMIT {int(limit)}"))

    def counts_since(self, since: datetime) -> dict[str, int]:
        """How many events were received since ``since``, by status."""
        rows = self.db.execute(
            "SELECT status, COUNT(*) FROM alerts WHERE received_at >= ? GROUP BY status",
            (since.astimezone(UTC).isoformat(timespec="milliseconds"),),
        ).fetchall()
        return {status: int(n) for status, n in rows}
