"""The alert engine at work in the server: keeps the book in step with the database, and
turns what fires into durable events, notifications and channel deliveries.

Order of a fire: event log row + alert row + notification + deliveries in one transaction,
committed; only then are the user's streams woken and the channel workers nudged. A crash
before the commit loses the fire whole (never half of it); after it, nothing is lost.

Writes never run on the event loop: one thread of their own writes the batches in order,
through ``writer`` (a small engine of their own in the server, so a burst of API requests
that empties the request pool never delays a fire; docs/architecture.md "Write path").
A commit that fails (the database is down, locked or restarting) loses nothing: the batch
stays pending, in order, and is retried with back-off until it commits,
while later fires queue behind it. Each batch carries a key written in its own transaction,
so a retry of a commit that did succeed (its answer lost with the connection) is refused by
the key and not logged twice. Past ``alert_backlog_limit`` waiting fires the engine is held
(it stops taking feed events, so nothing is matched or skipped) until the log catches up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.alerts import (
    FLOOD_FIRES,
    FLOOD_SECONDS,
    REASON_FLOOD,
    AlertChannels,
    AlertStatus,
)
from tradealerts.core.indicators import IndicatorChanges
from tradealerts.core.messages import Text, When, _, localise
from tradealerts.core.text import make_safe, unsafe_reason
from tradealerts.server.alerts import records
from tradealerts.server.alerts.book import AlertBook
from tradealerts.server.alerts.channels import WebhookSender
from tradealerts.server.alerts.model import Alert, Fired, MatchResult, StatusChange
from tradealerts.server.db.models import (
    AlertChange,
    AlertRow,
    Delivery,
    ErrorRecord,
    Event,
    FireBatch,
    Notification,
    User,
)
from tradealerts.server.engine.market import MarketState
from tradealerts.server.events import AlertFrame, Bus, alert_frame, event_data, purge
from tradealerts.server.feeds import BarClose, Tick
from tradealerts.server.mail import Mailer, queue_mail
from tradealerts.server.settings import Settings

if TYPE_CHECKING:
    from tradealerts.server.engine import Engine

__all__ = ["AlertRuntime"]

_ALERTS = cast(Table, AlertRow.__table__)
_EVENTS = cast(Table, Event.__table__)
_INSERT_EVENT = _EVENTS.insert().returning(_EVENTS.c.id, sort_by_parameter_order=True)
_INSERT_NOTIFICATION = cast(Table, Notification.__table__).insert()
_INSERT_BATCH = cast(Table, FireBatch.__table__).insert()
_INSERT_ERROR = cast(Table, ErrorRecord.__table__).insert()
_TOUCH_ALERT = (
    _ALERTS.update()
    .where(_ALERTS.c.id == bindparam("b_id"))
    .values(
        last_fired_at=bindparam("b_last"),
        fire_count=bindparam("b_count"),
        updated_at=bindparam("b_now"),
        version=_ALERTS.c.version + 1,
    )
)
# a fire that ends its alert (``once``) also comes as a StatusChange: the status is set there
_SET_STATUS = (
    _ALERTS.update()
    .where(_ALERTS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        status_reason=bindparam("b_reason"),
        updated_at=bindparam("b_now"),
        version=_ALERTS.c.version + 1,
    )
)

log = logging.getLogger("tradealerts.alerts")

_GONE = math.inf  # the version of a deleted alert: nothing older may bring it back


_RETRY_FIRST = 0.1  # seconds before the first retry of a failed write; doubles each time
_LOG_EVERY = 30.0  # seconds between two log lines about the same outage


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _size(result: MatchResult) -> int:
    return len(result.fired) + len(result.changed)


def _reason(exc: BaseException) -> str:
    """One line for the log and health: the driver's error, not SQLAlchemy's SQL dump."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0][:200]}" if text else type(orig).__name__


_FLOOD_MINUTES = f"{FLOOD_SECONDS / 60:g}"


def _languages(conn: Any, user_ids: set[int]) -> dict[int, str]:
    """Each user's language (one query for a batch)."""
    if not user_ids:
        return {}
    rows = conn.execute(select(User.id, User.language).where(User.id.in_(user_ids)))
    return {r.id: r.language for r in rows}


def _in_their_languages(conn: Any, fires: list[Fired]) -> list[Fired]:
    """``fires`` whose default messages (:class:`Text`) are said in their owner's language;
    a user's own template is their words, as written. No query when nothing needs one."""
    said = [f for f in fires if isinstance(f.message, Text)]
    if not said:
        return fires
    langs = _languages(conn, {f.user_id for f in said})
    return [
        replace(f, message=localise(f.message, langs.get(f.user_id)))
        if isinstance(f.message, Text)
        else f
        for f in fires
    ]


def _safe_fires(fires: list[Fired]) -> tuple[list[Fired], list[tuple[Fired, str]]]:
    """The fires with their text made safe to store and send (``core.text``), and those
    that needed it with the reason. Text stored before the control-character rule (a NUL
    PostgreSQL refuses, a line break no mail header takes) must not stop the batch: the
    fire is kept, its text repaired, and the repair noted."""
    out: list[Fired] = []
    unsafe: list[tuple[Fired, str]] = []
    for f in fires:
        reason = unsafe_reason(f.message)
        if reason is not None:
            f = replace(f, message=make_safe(f.message))
            unsafe.append((f, reason))
        out.append(f)
    return out, unsafe


def _unsafe_note(f: Fired, reason: str, now: datetime) -> dict[str, Any]:
    why = f"alert {f.alert_id}: its message held a {reason}; the fire was logged with it replaced"
    return {
        "created_at": now,
        "request_id": "",
        "method": "",
        "route": "alert log",
        "status": 200,
        "user_id": f.user_id,
        "exc_type": "UnsafeText",
        "message": why[:1000],
        "fingerprint": f"unsafe{f.alert_id:010d}"[:16],
        "traceback": "",
    }


@dataclass
class _Batch:
    """Results written in one transaction, under one key (kept across retries)."""

    results: list[MatchResult]
    size: int
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class _Written:
    """What a committed batch tells the outside, on the event loop."""

    fired: int = 0
    frames: dict[int, list[AlertFrame] | None] = field(default_factory=dict)
    mails: bool = False
    webhooks: bool = False


class AlertRuntime:
    """Owns the ``AlertBook`` of a running engine.

    ``changed``/``removed`` may be called from any thread (API routes, the sync pass);
    feed events and expiry run on the engine's event loop.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        bus: Bus,
        clock: Callable[[], datetime],
        mailer: Mailer | None = None,
        writer: sessionmaker[Session] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        #: the fire writes' and the book's own sessions (default: ``sessions``)
        self.writer = writer or sessions
        self.bus = bus
        self.clock = clock
        self.mailer = mailer
        self.book = AlertBook()
        self.webhooks = WebhookSender(settings, sessions, clock)
        self.fired = 0
        self.commits = 0
        self._pending: list[MatchResult] = []
        self._batch: _Batch | None = None  # the batch being written (kept while it fails)
        self._backlog = 0  # fires and changes pending or in _batch
        #: the task that writes what is pending, in order, while there is any
        self._writing: asyncio.Task[None] | None = None
        # one thread: batches commit in order, and never queue behind other thread work
        self._thread = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="tradealerts-alert-log"
        )
        self._engine: Engine | None = None
        self._holding = False
        self.write_error: str | None = None
        self.failing_since: datetime | None = None
        self.write_failures = 0
        self._last_log = 0.0
        self._versions: dict[int, float] = {}
        self._channels: dict[int, AlertChannels] = {}
        self._lock = threading.Lock()
        self._last_change = 0
        self._task: asyncio.Task[None] | None = None
        self._last_purge: datetime | None = None
        #: scaled out: checks, inside each fire transaction, that this engine still leads
        #: (``scale.lease.Lease.fence``); raising refuses the whole batch
        self.fence: Callable[[Any], None] | None = None

    # -- the book in step with the database ------------------------------------------------
    def load(self) -> int:
        """Put every active alert in the book; returns how many."""
        with self.writer() as s:
            self._last_change = int(s.scalar(select(func.max(AlertChange.id))) or 0)
            rows = s.scalars(
                select(AlertRow).where(AlertRow.status == AlertStatus.active.value)
            ).all()
            for row in rows:
                self.changed(records.matcher_alert(row), row.version)
        return len(rows)

    def changed(self, alert: Alert, version: int) -> None:
        """Match ``alert`` as of ``version`` from the next event on (older versions ignored)."""
        with self._lock:
            if version < self._versions.get(alert.id, 0):
                return
            self._versions[alert.id] = version
            self._channels[alert.id] = alert.spec.channels
            self.book.update(alert)

    def removed(self, alert_id: int) -> None:
        with self._lock:
            self._versions[alert_id] = _GONE
            self._channels.pop(alert_id, None)
            self.book.remove(alert_id)

    def sync(self) -> int:
        """Apply changes other processes made (admin, tier changes, other API workers)."""
        with self.writer() as s:
            changes = s.execute(
                select(AlertChange.id, AlertChange.alert_id)
                .where(AlertChange.id > self._last_change)
                .order_by(AlertChange.id)
            ).all()
            if not changes:
                return 0
            ids = sorted({alert_id for _, alert_id in changes})
            rows = {r.id: r for r in s.scalars(select(AlertRow).where(AlertRow.id.in_(ids)))}
            for alert_id in ids:
                row = rows.get(alert_id)
                if row is None:
                    self.removed(alert_id)
                else:
                    self.changed(records.matcher_alert(row), row.version)
            self._last_change = changes[-1][0]
        return len(changes)

    # -- feed events -----------------------------------------------------------------------
    def listener(
        self, market: MarketState
    ) -> Callable[[Tick | BarClose, IndicatorChanges | None], None]:
        """The ``Engine.listeners`` entry: match every event, record what it did."""
        on_event = self.book.on_event

        def listen(event: Tick | BarClose, changes: IndicatorChanges | None) -> None:
            with self._lock:
                result = on_event(event, changes, market)
                if not result:
                    return
                self._outdate(result)
            self.record(result)

        return listen

    def _outdate(self, result: MatchResult) -> None:
        """Refuse every stored version of the alerts ``result`` fired or ended (lock held).

        A sync pass may read a row before this fire is committed and hand it in after the
        fire: at the version the book holds, it would bring a triggered ``once`` alert back
        (or forget a bar's fire) and fire it again. Storing the fire raises the row's version,
        so the committed row (and any later change) is still taken."""
        for alert_id in {f.alert_id for f in result.fired} | {c.alert_id for c in result.changed}:
            self._versions[alert_id] = self._versions.get(alert_id, 0) + 1

    def backpressure(self, engine: Engine) -> None:
        """Let the runtime hold ``engine`` while more than ``alert_backlog_limit`` fires wait
        for the alert log (the database is down): it stops matching instead of piling up."""
        self._engine = engine

    def record(self, result: MatchResult) -> None:
        """Persist what one feed event did, then tell the streams and the channels.

        Results that come while a batch is being written share the next transaction (group
        commit): a burst of fires costs one commit, and nobody is told before it."""
        self._pending.append(result)
        self._backlog += _size(result)
        if self._backlog >= self.settings.alert_backlog_limit:
            self._hold()
        if self._writing is not None:
            return  # the writing task takes everything pending, in order
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._writing = loop.create_task(self._write_all(), name="tradealerts-alert-log")

    def flush(self) -> None:
        """Without an event loop (tools, tests): write what is pending now, in this thread.
        A failed batch stays first in line for the next call."""
        while self._pending or self._batch is not None:
            batch = self._next_batch()
            try:
                written = self._write(batch)
            except Exception as exc:
                self._write_failed(exc)
                return
            self._committed(batch, written)

    def _next_batch(self) -> _Batch:
        """The batch to write: the one that failed, else everything pending. Engine loop."""
        if self._batch is None:
            results, self._pending = self._pending, []
            self._batch = _Batch(results, sum(map(_size, results)))
        return self._batch

    async def _write_all(self) -> None:
        """Write the pending batches in the log's own thread until none is left; a failed
        one is retried after ``_RETRY_FIRST`` s, doubling to ``alert_retry_max_seconds``,
        while later fires queue behind it. The loop only hands batches over and tells the
        streams: a slow or locked database never stalls a price frame."""
        loop = asyncio.get_running_loop()
        delay = 0.0
        try:
            await asyncio.sleep(0)  # this pass of the loop's other results join the batch
            while self._pending or self._batch is not None:
                if delay:
                    await asyncio.sleep(delay)
                batch = self._next_batch()
                try:
                    written = await loop.run_in_executor(self._thread, self._write, batch)
                except Exception as exc:
                    self._write_failed(exc)
                    delay = min(max(delay * 2, _RETRY_FIRST), self.settings.alert_retry_max_seconds)
                    continue
                self._committed(batch, written)
                delay = 0.0
        finally:
            self._writing = None

    def _write_failed(self, exc: Exception) -> None:
        self.write_failures += 1
        self.write_error = _reason(exc)
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = self.clock()
            self._last_log = now
            log.error(
                "could not write %d alert fire(s) and change(s) to the log (%s); "
                "kept, retrying with back-off",
                self._backlog,
                self.write_error,
            )
        elif now - self._last_log >= _LOG_EVERY:
            self._last_log = now
            log.warning(
                "alert log still failing after %d attempts: %d fire(s) waiting (%s)",
                self.write_failures,
                self._backlog,
                self.write_error,
            )

    def _committed(self, batch: _Batch, written: _Written) -> None:
        """A batch is in the log: tell everyone, and lift the hold when under the limit."""
        self._batch = None
        self._backlog -= batch.size
        if self.failing_since is not None:
            log.info(
                "alert log written again after %d failed attempt(s) since %s",
                self.write_failures,
                self.failing_since.isoformat(timespec="seconds"),
            )
            self.failing_since = self.write_error = None
            self.write_failures = 0
        self.fired += written.fired
        self.commits += 1
        for user_id, frames in written.frames.items():
            self.bus.alert(user_id, frames)
        if self.mailer is not None and written.mails:
            self.mailer.wake()
        if written.webhooks:
            self.webhooks.wake()
        if self._holding and self._backlog < self.settings.alert_backlog_limit:
            self._holding = False
            if self._engine is not None:
                self._engine.release("alerts")

    def _hold(self) -> None:
        if self._holding or self._engine is None:
            return
        self._holding = True
        self._engine.hold(
            "alerts", f"more than {self.settings.alert_backlog_limit} alert fires wait for the log"
        )

    def _write(self, batch: _Batch) -> _Written:
        """One transaction: the batch's key, its fires, their alerts' state, its changes.

        Runs in the log's thread (the loop only queues results behind it)."""
        now = self.clock()
        out = _Written()
        fires, unsafe = _safe_fires([f for result in batch.results for f in result.fired])
        with self.writer() as s:
            conn = s.connection()
            try:
                # first, so a copy still being committed elsewhere makes this one wait
                conn.execute(
                    _INSERT_BATCH, {"key": batch.key, "fires": len(fires), "created_at": now}
                )
            except IntegrityError:
                # committed before, its answer lost: it is all in the log; tell the streams
                # to read it there
                s.rollback()
                log.info("alert log: batch %s was already committed; not written again", batch.key)
                out.frames = {f.user_id: None for f in fires}
                out.mails = out.webhooks = True
                out.fired = len(fires)
                return out
            if self.fence is not None:
                self.fence(conn)
            # default messages in each owner's language: the log, the stream, the mail and
            # the webhook then all say the one sentence
            fires = _in_their_languages(conn, fires)
            by_user: dict[int, list[AlertFrame]] = {}
            for fire, event_id, channels in self._record_fires(s, fires, now):
                out.fired += 1
                by_user.setdefault(fire.user_id, []).append(
                    alert_frame(
                        event_data(
                            id=event_id,
                            alert_id=fire.alert_id,
                            symbol=fire.symbol,
                            timeframe=fire.timeframe.value,
                            condition=fire.condition.value,
                            level=fire.level,
                            price=fire.price,
                            time=_at(fire.time),
                            message=fire.message,
                        )
                    )
                )
                out.mails = out.mails or channels.email
                out.webhooks = out.webhooks or channels.webhook_url is not None
            self._record_changes(s, [c for result in batch.results for c in result.changed], now)
            if unsafe:  # noted where the owner looks (admin errors), in the fires' transaction
                conn.execute(_INSERT_ERROR, [_unsafe_note(f, why, now) for f, why in unsafe])
            s.commit()
        out.frames = dict(by_user)
        return out

    def health(self) -> dict[str, Any]:
        """The alert log's writer: ok, retrying (fires wait) or holding the engine."""
        status = "ok"
        if self.failing_since is not None:
            status = "paused" if self._holding else "retrying"
        out: dict[str, Any] = {"status": status, "waiting": self._backlog}
        if self.failing_since is not None:
            out["error"] = f"the alert log cannot be written: {self.write_error}"
            out["failing_since"] = self.failing_since.isoformat().replace("+00:00", "Z")
            out["attempts"] = self.write_failures
            if self._holding:
                out["error"] += (
                    f"; matching is paused: {self._backlog} fires wait (limit "
                    f"{self.settings.alert_backlog_limit}) and resume when the database is back"
                )
        return out

    def _record_fires(
        self, s: Session, fires: list[Fired], now: datetime
    ) -> list[tuple[Fired, int, AlertChannels]]:
        """Log ``fires`` (in order) with their alerts' new state and notifications.

        Prepared Core statements run as executemany, not the ORM: this is on the engine's
        loop, and a burst of fires costs a few statements, not a few per fire."""
        if not fires:
            return []
        conn = s.connection()
        ids = {f.alert_id for f in fires}
        alive = set(conn.execute(select(_ALERTS.c.id).where(_ALERTS.c.id.in_(ids))).scalars())
        fires = [f for f in fires if f.alert_id in alive]  # a deleted alert fires nothing
        if not fires:
            return []
        conn.execute(
            _TOUCH_ALERT,
            [
                {"b_id": f.alert_id, "b_last": _at(f.time), "b_count": f.fire_count, "b_now": now}
                for f in fires
            ],
        )
        event_ids = (
            conn.execute(
                _INSERT_EVENT,
                [
                    {
                        "user_id": f.user_id,
                        "alert_id": f.alert_id,
                        "kind": "alert",
                        "symbol": f.symbol,
                        "timeframe": f.timeframe.value,
                        "condition": f.condition.value,
                        "level": f.level,
                        "price": f.price,
                        "time": _at(f.time),
                        "message": f.message,
                        "created_at": now,
                    }
                    for f in fires
                ],
            )
            .scalars()
            .all()
        )
        conn.execute(
            _INSERT_NOTIFICATION,
            [
                {
                    "user_id": f.user_id,
                    "kind": "alert",
                    "title": f"{f.symbol} {f.timeframe.value}: {f.condition.value}",
                    "body": f.message,
                    "read_at": None,
                    "created_at": now,
                }
                for f in fires
            ],
        )
        out = []
        for f, event_id in zip(fires, event_ids, strict=True):
            channels = self._channels.get(f.alert_id)
            if channels is None:
                row = s.get(AlertRow, f.alert_id)
                channels = records.spec_of(row).channels if row else AlertChannels()
            if channels.email:
                self._email(s, event_id, f, now)
            if channels.webhook_url:
                s.add(
                    Delivery(
                        event_id=event_id,
                        user_id=f.user_id,
                        channel="webhook",
                        target=channels.webhook_url,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            out.append((f, event_id, channels))
            if f.status != AlertStatus.active:  # it fires no more until changed again
                self._channels.pop(f.alert_id, None)
        return out

    def _email(self, s: Session, event_id: int, fired: Fired, now: datetime) -> None:
        sent_last_hour = (
            s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.user_id == fired.user_id,
                    Delivery.channel == "email",
                    Delivery.status != "skipped",  # queued, sent or failed: each was a mail
                    Delivery.created_at > now - timedelta(hours=1),
                )
            )
            or 0
        )
        limit = self.settings.alert_emails_per_hour
        delivery = Delivery(
            event_id=event_id,
            user_id=fired.user_id,
            channel="email",
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        if sent_last_hour >= limit:
            delivery.status = "skipped"
            delivery.last_error = f"more than {limit} alert emails in an hour"
        else:
            user = s.get(User, fired.user_id)
            if user is not None:
                delivery.target = user.email
                tf = fired.timeframe.value
                subject = f"[tradealerts] {fired.symbol} {tf}: {fired.message}"[:200]
                at = _at(fired.time)
                body = _(
                    "{message}\n\nSymbol: {symbol} {timeframe}\nCondition: {condition}\n"
                    "Price: {price}\nLevel: {level}\nTime: {time}\n",
                    message=fired.message,  # already in their language (_in_their_languages)
                    symbol=fired.symbol,
                    timeframe=tf,
                    condition=fired.condition.value,
                    price=fired.price,
                    level=fired.level if fired.level is not None else "None",
                    time=When(at, at.isoformat().replace("+00:00", "Z")),
                )
                queue_mail(
                    s, user.email, subject, body, now, delivery=delivery, language=user.language
                )
        s.add(delivery)

    def _record_changes(self, s: Session, changes: list[StatusChange], now: datetime) -> None:
        """Store the alerts' new status, and tell the owners of expired ones.

        One executemany, like the fires: a burst of ``once`` alerts ends a few statements."""
        if not changes:
            return
        conn = s.connection()
        conn.execute(
            _SET_STATUS,
            [
                {"b_id": c.alert_id, "b_status": c.status.value, "b_reason": c.reason, "b_now": now}
                for c in changes
            ],
        )
        self._tell_flooded(conn, [c for c in changes if c.reason == REASON_FLOOD], now)
        expired = {c.alert_id: c for c in changes if c.status == AlertStatus.expired}
        if not expired:
            return
        rows = conn.execute(
            select(_ALERTS.c.id, _ALERTS.c.symbol, _ALERTS.c.timeframe, _ALERTS.c.condition)
            .where(_ALERTS.c.id.in_(expired))
            .order_by(_ALERTS.c.id)
        ).all()
        if rows:
            langs = _languages(conn, {expired[r.id].user_id for r in rows})
            conn.execute(
                _INSERT_NOTIFICATION,
                [
                    {
                        "user_id": expired[r.id].user_id,
                        "kind": "alert_expired",
                        "title": _("Alert {id} expired", id=r.id).into(
                            langs.get(expired[r.id].user_id)
                        ),
                        "body": _(
                            "Your {symbol} {timeframe} {condition} alert expired and will not "
                            "fire again.",
                            symbol=r.symbol,
                            timeframe=r.timeframe,
                            condition=r.condition,
                        ).into(langs.get(expired[r.id].user_id)),
                        "read_at": None,
                        "created_at": now,
                    }
                    for r in rows
                ],
            )

    def _tell_flooded(self, conn: Any, changes: list[StatusChange], now: datetime) -> None:
        """A notification for each alert the flood guard paused."""
        if changes:
            langs = _languages(conn, {c.user_id for c in changes})
            conn.execute(
                _INSERT_NOTIFICATION,
                [
                    {
                        "user_id": c.user_id,
                        "kind": "alert_flood",
                        "title": _("Alert {id} paused: flood", id=c.alert_id).into(
                            langs.get(c.user_id)
                        ),
                        "body": _(
                            "Alert {id} fired more than {fires} times in {minutes} minutes, so "
                            "it was paused (reason flood). Resume it when you have checked "
                            "what re-arms it.",
                            id=c.alert_id,
                            fires=FLOOD_FIRES,
                            minutes=_FLOOD_MINUTES,
                        ).into(langs.get(c.user_id)),
                        "read_at": None,
                        "created_at": now,
                    }
                    for c in changes
                ],
            )

    # -- housekeeping ----------------------------------------------------------------------
    def tick(self) -> None:
        """Expire due alerts (a closed market sends no ticks to do it). Engine loop only."""
        with self._lock:
            changes = self.book.expire_due(self.clock().timestamp())
            if not changes:
                return
            result = MatchResult(changed=tuple(changes))
            self._outdate(result)
        self.record(result)

    def purge_old_events(self) -> int:
        """Drop events past the retention (default 90 days), and batch keys past a day (a
        lost answer is retried within seconds or minutes, never a day later)."""
        now = self.clock()
        with self.writer() as s:
            n = purge(s, now, self.settings.event_retention_days)
            s.execute(delete(FireBatch).where(FireBatch.created_at < now - timedelta(days=1)))
            s.commit()
        return n

    def start(self) -> None:
        self.webhooks.start()
        self._task = asyncio.create_task(self._run(), name="tradealerts-alerts")

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Write what is pending (waiting up to ``drain_seconds`` for a failing database),
        then stop the housekeeping and the webhook sender."""
        if self._writing is None and (self._pending or self._batch is not None):
            self._writing = asyncio.create_task(self._write_all(), name="tradealerts-alert-log")
        if self._writing is not None:
            task = self._writing
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), drain_seconds)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._backlog:
            log.error(
                "stopping with %d alert fire(s) and change(s) not written: the database did "
                "not answer (%s)",
                self._backlog,
                self.write_error,
            )
        # a held engine stays held: it is stopped next, and must not match what cannot be kept
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._thread.shutdown(wait=False)
        await self.webhooks.stop()

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.settings.alert_sync_seconds)
            try:
                await asyncio.to_thread(self.sync)
                self.tick()
                now = self.clock()
                if self._last_purge is None or now - self._last_purge > timedelta(hours=1):
                    self._last_purge = now
                    await asyncio.to_thread(self.purge_old_events)
            except Exception as exc:
                # once per outage: the database being down says so every second otherwise
                if not failing:
                    log.error("alert housekeeping failed (%s); retrying every %gs", _reason(exc),
                              self.settings.alert_sync_seconds)  # fmt: skip
                failing = True
                continue
            if failing:
                log.info("alert housekeeping works again")
            failing = False
