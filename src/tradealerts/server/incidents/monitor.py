"""Findings → incidents: open once (after the grace), remind every ``incident_remind_minutes``,
close with a "recovered" message; every change stored (``incidents`` table) so a restarted
server goes on with the incidents it had. Runs in the process that runs the engine (the
leader when scaled out), every ``incident_check_seconds``, on the server's clock.

The database may be the very thing that is down: the state is kept in memory, stored when
the database answers again, and the messages go out regardless (``notify.send_to_owner``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.server.db.models import Incident
from tradealerts.server.incidents.checks import Checks, Finding
from tradealerts.server.incidents.notify import send_to_owner
from tradealerts.server.settings import Settings
from tradealerts.server.worker import Worker

__all__ = ["IncidentMonitor", "incident_rows"]

log = logging.getLogger("tradealerts.incidents")

#: kinds whose findings come from the database: unknown (neither open nor closed) while it
#: does not answer
_DB_KINDS = frozenset({"queue", "quarantine"})


@dataclass
class _Open:
    key: str
    kind: str
    title: str
    detail: str
    opened_at: datetime
    last_notified_at: datetime
    reminders: int = 0
    id: int | None = None
    closed_at: datetime | None = None
    recovery: str = ""
    dirty: bool = True


class IncidentMonitor(Worker):
    """The incidents of one server (one deployment: the leader's when scaled out)."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        checks: Checks,
        wake_mail: Callable[[], None] = lambda: None,
        send: Callable[[str, str, datetime], bool] | None = None,
    ) -> None:
        super().__init__(settings, sessions, clock)
        self.checks = checks
        self.wake_mail = wake_mail
        self.send = send or self._send_to_owner
        self.open: dict[str, _Open] = {}
        self.pending: dict[str, datetime] = {}  # key -> first seen (in its grace)
        self._closed: list[_Open] = []  # closed, not stored yet
        self._unsent: list[tuple[str, str]] = []  # messages that could not go yet
        self._loaded = False
        self.checks_run = 0

    def _send_to_owner(self, subject: str, body: str, now: datetime) -> bool:
        return send_to_owner(self.settings, self.sessions, subject, body, now)

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        """Check every ``incident_check_seconds`` (0: never) on a task of the running loop."""
        if self.settings.incident_check_seconds > 0:
            self._task = asyncio.create_task(self._run(), name="tradealerts-incidents")

    async def _run(self) -> None:
        await self._every(
            lambda: self.settings.incident_check_seconds,
            self.step,
            log,
            "incident check failed; trying again",
        )

    async def step(self) -> None:
        """One check: findings from memory (here, on the loop), then from the database and
        the bookkeeping (a worker thread)."""
        now = self.clock()
        findings = self.checks.collect(now)
        mailed = await asyncio.to_thread(self._step_db, findings, now)
        self.checks_run += 1
        if mailed:
            self.wake_mail()

    def _step_db(self, findings: list[Finding], now: datetime) -> bool:
        db_ok = True
        try:
            with self.sessions() as s:
                if not self._loaded:
                    self._load(s)
                findings = findings + self.checks.collect_db(s, now)
        except Exception as exc:
            db_ok = False
            log.warning("incidents: the database does not answer (%s)", type(exc).__name__)
        mailed = self._apply(findings, now, db_ok)
        self._store()
        return mailed

    # -- the bookkeeping ------------------------------------------------------------------

    def _load(self, s: Session) -> None:
        """The incidents left open by the previous run: they go on, never re-opened."""
        for row in s.scalars(select(Incident).where(Incident.closed_at.is_(None))):
            if row.key in self.open:  # opened while the database was down: that one is kept
                self.open[row.key].id = row.id
                continue
            self.open[row.key] = _Open(
                row.key, row.kind, row.title, row.detail, row.opened_at,
                row.last_notified_at, row.reminders, row.id, dirty=False,
            )  # fmt: skip
        self._loaded = True

    def _apply(self, findings: list[Finding], now: datetime, db_ok: bool) -> bool:
        st = self.settings
        grace = timedelta(seconds=st.incident_grace_seconds)
        remind = timedelta(minutes=st.incident_remind_minutes)
        active = {f.key: f for f in findings}
        self.pending = {k: v for k, v in self.pending.items() if k in active}
        for f in findings:
            inc = self.open.get(f.key)
            if inc is not None:
                if inc.detail != f.detail:
                    inc.detail, inc.dirty = f.detail[:1000], True
                if now - inc.last_notified_at >= remind:
                    inc.reminders += 1
                    inc.last_notified_at, inc.dirty = now, True
                    self._tell(*_reminder(inc, now))
                continue
            first = self.pending.setdefault(f.key, now)
            if f.grace and now - first < grace:
                continue
            self.pending.pop(f.key, None)
            inc = _Open(f.key, f.kind, f.title[:300], f.detail[:1000], now, now)
            self.open[f.key] = inc
            log.warning("incident opened: %s (%s)", inc.title, inc.detail)
            self._tell(*_opened(inc, st.incident_remind_minutes))
        for key, inc in list(self.open.items()):
            if key in active or (inc.kind in _DB_KINDS and not db_ok):
                continue
            if not self.checks.knows(key, now):
                continue  # a restart: too soon to tell it is over
            inc.closed_at, inc.dirty = now, True
            inc.recovery = f"recovered after {_took(now - inc.opened_at)}"
            del self.open[key]
            self._closed.append(inc)
            log.warning("incident recovered: %s (%s)", inc.title, inc.recovery)
            self._tell(*_recovered(inc))
        return self._flush_messages(now)

    def _tell(self, subject: str, body: str) -> None:
        self._unsent.append((subject, body))

    def _flush_messages(self, now: datetime) -> bool:
        sent = False
        while self._unsent:
            subject, body = self._unsent[0]
            if not self.send(subject, body, now):
                break  # the next check tries again, in order
            self._unsent.pop(0)
            sent = True
        return sent

    def _store(self) -> None:
        """Write the changed incidents; kept in memory if the database does not answer."""
        changed = [i for i in (*self.open.values(), *self._closed) if i.dirty]
        if not changed:
            return
        try:
            with self.sessions() as s:
                rows: list[tuple[_Open, Incident]] = []
                for inc in changed:
                    row = s.get(Incident, inc.id) if inc.id is not None else None
                    if row is None:
                        row = Incident(key=inc.key, kind=inc.kind, opened_at=inc.opened_at)
                        s.add(row)
                    row.title, row.detail = inc.title, inc.detail
                    row.last_notified_at, row.reminders = inc.last_notified_at, inc.reminders
                    row.closed_at, row.recovery = inc.closed_at, inc.recovery
                    rows.append((inc, row))
                s.commit()
                for inc, row in rows:
                    inc.id, inc.dirty = row.id, False
        except Exception as exc:
            log.warning("incidents not stored yet (%s); kept in memory", type(exc).__name__)
            return
        self._closed = [i for i in self._closed if i.dirty]


def _opened(inc: _Open, remind_minutes: float) -> tuple[str, str]:
    return (
        f"[tradealerts] INCIDENT: {inc.title}",
        f"{inc.detail}\n\nOpened {_at(inc.opened_at)}. A reminder follows every "
        f"{remind_minutes:g} min until it recovers.\nOpen incidents: `tradealerts-server "
        "admin incidents`.\n",
    )


def _reminder(inc: _Open, now: datetime) -> tuple[str, str]:
    return (
        f"[tradealerts] STILL OPEN: {inc.title}",
        f"{inc.detail}\n\nOpen since {_at(inc.opened_at)} ({_took(now - inc.opened_at)}; "
        f"reminder {inc.reminders}).\n",
    )


def _recovered(inc: _Open) -> tuple[str, str]:
    closed = inc.closed_at or inc.opened_at
    return (
        f"[tradealerts] RECOVERED: {inc.title}",
        f"Recovered at {_at(closed)}, {_took(closed - inc.opened_at)} after it "
        f"opened ({_at(inc.opened_at)}).\nLast detail: {inc.detail}\n",
    )


def _at(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def _took(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def incident_rows(s: Session, now: datetime, recent_days: int) -> list[dict[str, Any]]:
    """Open incidents, then those closed within ``recent_days``, newest first (the admin
    command and ``GET /api/admin/incidents``)."""
    since = now - timedelta(days=recent_days)
    rows = s.scalars(
        select(Incident)
        .where((Incident.closed_at.is_(None)) | (Incident.closed_at >= since))
        .order_by(Incident.closed_at.is_not(None), Incident.opened_at.desc(), Incident.id.desc())
        .limit(500)
    )
    return [
        {
            "id": r.id,
            "key": r.key,
            "kind": r.kind,
            "status": "open" if r.closed_at is None else "closed",
            "title": r.title,
            "detail": r.detail,
            "opened_at": _iso(r.opened_at),
            "last_notified_at": _iso(r.last_notified_at),
            "reminders": r.reminders,
            "closed_at": _iso(r.closed_at),
            "recovery": r.recovery,
        }
        for r in rows
    ]


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")
