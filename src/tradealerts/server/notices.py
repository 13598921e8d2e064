"""Maintenance notices (issue #29): what the owner announces, and how every process tells.

``tradealerts-server admin announce`` writes a ``MaintenanceNotice`` row and a copy in every
user's notification centre, in one transaction, straight into the server's database (the
command may run as its own process, like the other admin commands). Each server process
(embedded, or every scaled-out API process) has a ``NoticeBoard`` that reads the current
notices every ``NOTICE_POLL_SECONDS`` (one indexed query) and, on a change, sends one
``notice`` frame to every open stream of its own; a stream that opens later gets the current
ones right after its ``retry:``. No bus entry is needed: every process reads the table.

A notice is *current* until its window ends (``--at`` + ``--duration``), or, without a window,
for ``PLAIN_NOTICE_KEEP`` after it was made. A shutdown from ``EARLY`` before a window starts
until it ends sends the ``reconnect`` frame with ``retry:`` = the time left in the window.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import insert, literal, or_, select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from tradealerts.core.messages import Text, _
from tradealerts.core.text import make_safe
from tradealerts.server.db.models import MaintenanceNotice, Notification, User
from tradealerts.server.events import Bus, sse_frame
from tradealerts.server.worker import end_task

__all__ = [
    "EARLY",
    "HEADER",
    "MAX_MESSAGE",
    "PLAIN_NOTICE_KEEP",
    "NoticeBoard",
    "NoticeError",
    "announce",
    "cancel",
    "current",
    "notice_json",
    "parse_at",
    "parse_duration",
    "recent",
]

log = logging.getLogger("tradealerts.notices")

#: the response header naming the current notices' ids (``3,4``): the CLI's cue
HEADER = "X-TradeAlerts-Notice"
PLAIN_NOTICE_KEEP = timedelta(days=1)
#: an owner who stops the server a little before the announced time is inside the window
EARLY = timedelta(minutes=5)
MAX_MESSAGE = 500
MAX_DURATION = timedelta(days=7)

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class NoticeError(ValueError):
    """Input the owner must fix; ``field`` names the option."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1h30m``, ``90s``, ``1d``: a positive span of at most a week."""
    m = _DURATION.fullmatch(text.strip().lower())
    if m is None or not any(m.groups()):
        raise NoticeError("--duration", f"{text!r} is not a duration: use e.g. 30m, 2h, 1h30m")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    span = timedelta(days=d, hours=h, minutes=mi, seconds=s)
    if not timedelta(0) < span <= MAX_DURATION:
        raise NoticeError("--duration", "the duration must be more than 0 and at most 7 days")
    return span


def parse_at(text: str, now: datetime, zone: tzinfo) -> datetime:
    """The window's start, in UTC. ``HH:MM`` is the next such time in ``zone`` (today, or
    tomorrow when it has passed); ISO 8601 without an offset is in ``zone`` too."""
    raw = text.strip()
    hhmm = _HHMM.fullmatch(raw)
    if hhmm is not None:
        local_now = now.astimezone(zone)
        wanted = time(int(hhmm.group(1)), int(hhmm.group(2)))
        at = datetime.combine(local_now.date(), wanted, zone)
        if at <= local_now:
            at = datetime.combine(local_now.date() + timedelta(days=1), wanted, zone)
        return at.astimezone(UTC)
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise NoticeError(
            "--at", f"{text!r} is not a time: use HH:MM or ISO 8601 (2026-12-07T22:00Z)"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at.astimezone(UTC)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def notice_json(n: MaintenanceNotice) -> dict[str, Any]:
    """A notice on the wire (stream ``notice`` data, ``GET /api/notices``)."""
    return {
        "id": n.id,
        "message": n.message,
        "at": _iso(n.starts_at),
        "duration": n.duration_seconds,
        "until": _iso(n.ends_at) if n.starts_at is not None else None,
        "created_at": _iso(n.created_at),
        "cancelled": n.cancelled_at is not None,
    }


def _title(starts_at: datetime | None, ends_at: datetime) -> Text:
    if starts_at is None:
        return _("Notice from the server")
    a, b = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    end = b.strftime("%H:%M") if b.date() == a.date() else b.strftime("%Y-%m-%d %H:%M")
    return _("Maintenance {start}–{end} UTC", start=f"{a:%Y-%m-%d %H:%M}", end=end)


def announce(
    s: Session,
    message: str,
    now: datetime,
    *,
    starts_at: datetime | None = None,
    duration: timedelta | None = None,
    actor: str = "cli",
) -> MaintenanceNotice:
    """Add the notice and one notification per account to ``s`` (the caller commits)."""
    from tradealerts.server.accounts import audit

    text = make_safe(" ".join(message.split()))
    if not text:
        raise NoticeError("message", "say what the notice is about (the message is empty)")
    if len(text) > MAX_MESSAGE:
        raise NoticeError("message", f"the message is {len(text)} characters: at most 500")
    if starts_at is not None and duration is None:
        raise NoticeError("--duration", "--at needs --duration: how long will it last?")
    if duration is not None and starts_at is None:
        starts_at = now  # maintenance from now on
    if starts_at is not None and duration is not None:
        ends_at = starts_at + duration
        if ends_at <= now:
            raise NoticeError("--at", "that window is already over: choose a later --at")
    else:
        ends_at = now + PLAIN_NOTICE_KEEP
    notice = MaintenanceNotice(
        message=text,
        starts_at=starts_at,
        duration_seconds=None if duration is None else int(duration.total_seconds()),
        ends_at=ends_at,
        created_by=actor,
        created_at=now,
    )
    s.add(notice)
    s.flush()
    # one INSERT … SELECT per language: a copy for every account, however many there are,
    # its title in the account's language (the notification centre stores what it shows)
    kind = "maintenance" if starts_at is not None else "announcement"
    title = _title(starts_at, ends_at)
    others = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]
    for lang in LANGUAGES:
        speaks = (
            User.language == lang
            if lang != DEFAULT_LANGUAGE
            else or_(User.language.is_(None), User.language.not_in(others))
        )
        s.execute(
            insert(Notification).from_select(
                ["user_id", "kind", "title", "body", "created_at"],
                select(
                    User.id,
                    literal(kind),
                    literal(title.into(lang)),
                    literal(text),
                    literal(now, type_=Notification.__table__.c.created_at.type),
                ).where(speaks),
            )
        )
    audit(s, actor, "announce", f"notice {notice.id}", now, message=text, until=_iso(ends_at))
    return notice


def cancel(s: Session, notice_id: int, now: datetime, actor: str = "cli") -> MaintenanceNotice:
    """Withdraw a notice: streams hear ``notice`` with ``cancelled: true``; a shutdown no
    longer sends its delay. Its notifications stay (they say what was announced)."""
    from tradealerts.server.accounts import audit

    n = s.get(MaintenanceNotice, notice_id)
    if n is None:
        raise NoticeError("--cancel", f"no notice {notice_id}: see 'admin announce --list'")
    if n.cancelled_at is None:
        n.cancelled_at = now
        audit(s, actor, "announce_cancel", f"notice {notice_id}", now)
    return n


def current(s: Session, now: datetime) -> list[MaintenanceNotice]:
    """Notices not over yet (cancelled ones too: a board must see them change), oldest first."""
    return list(
        s.scalars(
            select(MaintenanceNotice)
            .where(MaintenanceNotice.ends_at > now)
            .order_by(MaintenanceNotice.id)
        )
    )


def recent(s: Session, limit: int = 20) -> list[MaintenanceNotice]:
    """The newest notices, whatever their state (``--list``)."""
    return list(
        s.scalars(select(MaintenanceNotice).order_by(MaintenanceNotice.id.desc()).limit(limit))
    )


class NoticeBoard:
    """One process's view of the current notices, re-read every ``every`` seconds."""

    def __init__(
        self,
        sessions: Callable[[], sessionmaker[Session]],
        bus: Callable[[], Bus],
        clock: Callable[[], datetime],
        every: float,
    ) -> None:
        # factories: the app's sessionmaker and bus exist only once its lifespan has begun
        self._sessions, self._bus = sessions, bus
        self.clock = clock
        self.every = every
        #: id -> wire form, for the notices not cancelled and not over
        self.notices: dict[int, dict[str, Any]] = {}
        self._windows: dict[int, tuple[datetime, datetime]] = {}
        #: the ``X-TradeAlerts-Notice`` value (None: no current notice, no header)
        self.header: bytes | None = None
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> list[tuple[dict[str, Any], datetime | None, datetime]]:
        with self._sessions()() as s:
            return [(notice_json(n), n.starts_at, n.ends_at) for n in current(s, self.clock())]

    def apply(self, rows: list[tuple[dict[str, Any], datetime | None, datetime]]) -> None:
        """Take a fresh read; tell every open stream of this process what changed."""
        bus = self._bus()
        seen: set[int] = set()
        for data, starts_at, ends_at in rows:
            nid = data["id"]
            seen.add(nid)
            if data["cancelled"]:
                if self.notices.pop(nid, None) is not None:
                    bus.everyone("notice", sse_frame("notice", data))
                self._windows.pop(nid, None)
            elif nid not in self.notices:
                self.notices[nid] = data
                if starts_at is not None:
                    self._windows[nid] = (starts_at, ends_at)
                bus.everyone("notice", sse_frame("notice", data))
        for gone in set(self.notices) - seen:  # over: clients drop it by its ``until``
            self.notices.pop(gone, None)
            self._windows.pop(gone, None)
        ids = ",".join(str(i) for i in sorted(self.notices))
        self.header = ids.encode() if ids else None

    def frames(self) -> list[str]:
        """The current notices as frames, for a stream that has just opened."""
        return [sse_frame("notice", d) for _i, d in sorted(self.notices.items())]

    def reconnect_delay(self) -> tuple[int, dict[str, Any]] | None:
        """(milliseconds left in the window, the notice) when now is inside an announced
        window (from ``EARLY`` before it): what a shutdown's ``retry:`` says."""
        now = self.clock()
        best: tuple[int, dict[str, Any]] | None = None
        for nid, (starts_at, ends_at) in self._windows.items():
            if starts_at - EARLY <= now < ends_at:
                ms = int((ends_at - now).total_seconds() * 1000)
                if best is None or ms > best[0]:
                    best = (ms, self.notices[nid])
        return best

    async def refresh(self) -> None:
        self.apply(await asyncio.to_thread(self._read))

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="tradealerts-notices")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: the next round tries again
                log.warning("notices: cannot read them (%s)", type(exc).__name__)

    async def stop(self) -> None:
        await end_task(self._task)
        self._task = None
