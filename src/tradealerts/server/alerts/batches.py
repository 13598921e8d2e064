"""Batch + retry: the queue between the engine's loop and the alert log's writer thread.

What fires while a batch is being written joins the next one (group commit): a burst of
fires costs one commit, and nobody is told before it. A commit that fails (the database is
down, locked or restarting) loses nothing: the batch stays first in line, under its key,
and is retried with back-off until it commits, while later fires queue behind it. Past
``alert_backlog_limit`` waiting fires the engine is held (it stops taking feed events, so
nothing is matched or skipped) until the log catches up.

``BatchedLog`` is the queue; ``runtime.AlertRuntime`` is one, and supplies the write itself
(``writer.write``) and whom a committed batch tells.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradealerts.server.alerts.model import MatchResult
from tradealerts.server.events import AlertFrame
from tradealerts.server.settings import Settings

if TYPE_CHECKING:
    from tradealerts.server.engine import Engine

__all__ = ["Batch", "BatchedLog", "Written", "reason"]

log = logging.getLogger("tradealerts.alerts")

_RETRY_FIRST = 0.1  # seconds before the first retry of a failed write; doubles each time
_LOG_EVERY = 30.0  # seconds between two log lines about the same outage


def _size(result: MatchResult) -> int:
    return len(result.fired) + len(result.changed)


def reason(exc: BaseException) -> str:
    """One line for the log and health: the driver's error, not SQLAlchemy's SQL dump."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0][:200]}" if text else type(orig).__name__


@dataclass
class Batch:
    """Results written in one transaction, under one key (kept across retries)."""

    results: list[MatchResult]
    size: int
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Written:
    """What a committed batch tells the outside, on the event loop."""

    fired: int = 0
    frames: dict[int, list[AlertFrame] | None] = field(default_factory=dict)
    mails: bool = False
    webhooks: bool = False
    pushes: bool = False


class BatchedLog:
    """The pending results, written in order by one thread of their own, retried while the
    database fails. Subclasses give ``_write`` (one batch, one transaction) and ``_tell``
    (what a committed batch wakes)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock
        self.fired = 0
        self.commits = 0
        self._pending: list[MatchResult] = []
        self._batch: Batch | None = None  # the batch being written (kept while it fails)
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

    def _write(self, batch: Batch) -> Written:  # pragma: no cover - the subclass's
        raise NotImplementedError

    def _tell(self, written: Written) -> None:  # pragma: no cover - the subclass's
        raise NotImplementedError

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

    def _next_batch(self) -> Batch:
        """The batch to write: the one that failed, else everything pending. Engine loop."""
        if self._batch is None:
            results, self._pending = self._pending, []
            self._batch = Batch(results, sum(map(_size, results)))
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
        self.write_error = reason(exc)
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

    def _committed(self, batch: Batch, written: Written) -> None:
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
        self._tell(written)
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

    async def _drain(self, drain_seconds: float) -> None:
        """Write what is pending, waiting up to ``drain_seconds`` for a failing database."""
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
