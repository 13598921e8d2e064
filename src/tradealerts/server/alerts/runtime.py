"""The alert engine at work in the server: keeps the book in step with the database, and
turns what fires into durable events, notifications and channel deliveries.

Order of a fire: event log row + alert row + notification + deliveries in one transaction,
committed; only then are the user's streams woken and the channel workers nudged. A crash
before the commit loses the fire whole (never half of it); after it, nothing is lost.

The rooms: ``batches`` (the queue, group commit, retry with back-off, holding the engine),
``writer`` (the transaction itself), ``handoff`` (the email, webhook and push deliveries a
fire queues), ``notes`` (what an owner is told, in their language). Writes never run on the
event loop: one thread of their own writes the batches in order, through ``writer`` (a small
engine of their own in the server, so a burst of API requests that empties the request pool
never delays a fire; docs/architecture.md "Write path").
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.alerts import AlertChannels, AlertStatus
from tradealerts.core.indicators import IndicatorChanges
from tradealerts.server.alerts import records
from tradealerts.server.alerts.batches import Batch, BatchedLog, Written, reason
from tradealerts.server.alerts.book import AlertBook
from tradealerts.server.alerts.channels import WebhookSender
from tradealerts.server.alerts.model import Alert, MatchResult
from tradealerts.server.alerts.writer import write as write_batch
from tradealerts.server.db.models import AlertChange, AlertRow, FireBatch
from tradealerts.server.engine.market import MarketState
from tradealerts.server.events import Bus, purge
from tradealerts.server.feeds import BarClose, Tick
from tradealerts.server.mail import Mailer
from tradealerts.server.push.sender import PushSender
from tradealerts.server.settings import Settings
from tradealerts.server.worker import end_task

__all__ = ["AlertRuntime"]

log = logging.getLogger("tradealerts.alerts")

_GONE = math.inf  # the version of a deleted alert: nothing older may bring it back


class AlertRuntime(BatchedLog):
    """Owns the ``AlertBook`` of a running engine.

    ``changed``/``removed`` may be called from any thread (API routes, the sync pass);
    feed events and expiry run on the engine's event loop. ``record``, ``flush`` and
    ``health`` are the alert log's (``batches.BatchedLog``).
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
        super().__init__(settings, clock)
        self.sessions = sessions
        #: the fire writes' and the book's own sessions (default: ``sessions``)
        self.writer = writer or sessions
        self.bus = bus
        self.mailer = mailer
        self.book = AlertBook()
        self.webhooks = WebhookSender(settings, sessions, clock)
        self.pushes = PushSender(settings, sessions, clock)
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

    def _write(self, batch: Batch) -> Written:
        """One transaction (``writer.write``); runs in the log's thread."""
        return write_batch(
            self.writer,
            batch,
            self.clock(),
            self._channels,
            self.settings.alert_emails_per_hour,
            self.fence,
        )

    def _tell(self, written: Written) -> None:
        """A batch is committed: wake the users' streams and the channels' workers."""
        for user_id, frames in written.frames.items():
            self.bus.alert(user_id, frames)
        if self.mailer is not None and written.mails:
            self.mailer.wake()
        if written.webhooks:
            self.webhooks.wake()
        if written.pushes:
            self.pushes.wake()

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
        self.pushes.start()
        self._task = asyncio.create_task(self._run(), name="tradealerts-alerts")

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Write what is pending (waiting up to ``drain_seconds`` for a failing database),
        then stop the housekeeping and the webhook sender."""
        await self._drain(drain_seconds)
        # a held engine stays held: it is stopped next, and must not match what cannot be kept
        await end_task(self._task)
        self._task = None
        self._thread.shutdown(wait=False)
        await self.webhooks.stop()
        await self.pushes.stop()

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
                    log.error("alert housekeeping failed (%s); retrying every %gs", reason(exc),
                              self.settings.alert_sync_seconds)  # fmt: skip
                failing = True
                continue
            if failing:
                log.info("alert housekeeping works again")
            failing = False
