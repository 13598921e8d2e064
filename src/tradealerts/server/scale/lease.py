"""The engine's lease and fencing epoch, in the database (table ``engine_lease``).

One row per lease name. A standby takes the lease when it has expired, raising ``epoch`` by
one; the leader renews it every second. Time is the database's clock, so the machines' clocks
need not agree. Every commit of fires calls ``fence`` in its own transaction: the row is read
``FOR SHARE`` (a takeover's ``UPDATE`` waits for that commit to end) and a changed epoch
refuses the whole batch. A PostgreSQL advisory lock alone would not do: a SIGSTOPped leader
keeps its connection, and so its lock, for ever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.server.db.models import EngineLease

__all__ = ["Lease", "LeaseLost", "LeaseState", "read_lease"]

log = logging.getLogger("tradealerts.lease")

_LEASE = cast(Table, EngineLease.__table__)


class LeaseLost(Exception):
    """This process no longer holds the lease: another leader took over (fencing)."""


@dataclass(frozen=True)
class LeaseState:
    """The lease row as ``status`` shows it."""

    epoch: int
    holder: str
    expires_in: float


def _db_now(conn: Connection) -> float:
    """Epoch seconds on the database's clock (clock_timestamp: not frozen in a transaction)."""
    if conn.dialect.name == "postgresql":
        return float(
            conn.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
        )
    return float(conn.execute(text("SELECT (julianday('now') - 2440587.5) * 86400.0")).scalar_one())


def read_lease(sessions: sessionmaker[Session], name: str = "engine") -> LeaseState | None:
    """The current lease, or None when no engine ever led."""
    with sessions() as s:
        conn = s.connection()
        row = conn.execute(select(_LEASE).where(_LEASE.c.name == name)).first()
        if row is None:
            return None
        return LeaseState(row.epoch, row.holder, row.expires_at - _db_now(conn))


class Lease:
    """This process's hold on the lease ``name``: ``try_acquire``, ``renew``, ``fence``."""

    def __init__(
        self, sessions: sessionmaker[Session], holder: str, ttl: float, name: str = "engine"
    ) -> None:
        self.sessions = sessions
        self.holder = holder
        self.ttl = ttl
        self.name = name
        #: the fencing token while this process leads; None before (and after losing it)
        self.epoch: int | None = None

    def _ensure_row(self) -> None:
        with self.sessions() as s:
            if s.get(EngineLease, self.name) is not None:
                return
            s.add(EngineLease(name=self.name, epoch=0, holder="", expires_at=0.0))
            try:
                s.commit()
            except IntegrityError:  # another engine made it first
                s.rollback()

    def try_acquire(self) -> bool:
        """Take the lease if it has expired (or was released); True when this process leads."""
        self._ensure_row()
        with self.sessions() as s:
            conn = s.connection()
            now = _db_now(conn)
            row = conn.execute(
                _LEASE.update()
                .where(_LEASE.c.name == self.name, _LEASE.c.expires_at < now)
                .values(epoch=_LEASE.c.epoch + 1, holder=self.holder, expires_at=now + self.ttl)
                .returning(_LEASE.c.epoch)
            ).first()
            s.commit()
        if row is None:
            return False
        self.epoch = int(row[0])
        log.info("engine lease taken: epoch %d (%s)", self.epoch, self.holder)
        return True

    def renew(self) -> bool:
        """Extend the lease; False (and ``epoch`` None) when another process took it."""
        if self.epoch is None:
            return False
        with self.sessions() as s:
            conn = s.connection()
            now = _db_now(conn)
            result: Any = conn.execute(
                _LEASE.update()
                .where(_LEASE.c.name == self.name, _LEASE.c.epoch == self.epoch)
                .values(expires_at=now + self.ttl)
            )
            s.commit()
        if result.rowcount != 1:
            log.error("engine lease lost: epoch %d is no longer the leader's", self.epoch)
            self.epoch = None
            return False
        return True

    def release(self) -> None:
        """Give the lease up at once (a clean stop): a standby takes over on its next try."""
        if self.epoch is None:
            return
        with self.sessions() as s:
            s.connection().execute(
                _LEASE.update()
                .where(_LEASE.c.name == self.name, _LEASE.c.epoch == self.epoch)
                .values(expires_at=0.0)
            )
            s.commit()
        self.epoch = None

    def fence(self, conn: Connection) -> None:
        """Inside a transaction that writes fires: refuse it unless this process still leads.

        ``FOR SHARE`` holds the row until the commit, so a takeover (an ``UPDATE`` of the
        row) is ordered after this commit, never in the middle of it."""
        mine = self.epoch
        current = conn.execute(
            select(_LEASE.c.epoch).where(_LEASE.c.name == self.name).with_for_update(read=True)
        ).scalar()
        if mine is None or current != mine:
            raise LeaseLost(
                f"write refused: this engine led epoch {mine}, the lease is at epoch {current}"
            )

    def feed_origin(self, now: float) -> tuple[float, bool]:
        """The wall time the first leader's feed began: (origin, whether it is ours, just set)."""
        with self.sessions() as s:
            row = s.get(EngineLease, self.name, with_for_update=True)
            if row is None:
                raise LeaseLost("no lease row")
            if row.feed_origin is not None:
                return row.feed_origin, False
            row.feed_origin = now
            s.commit()
            return now, True
