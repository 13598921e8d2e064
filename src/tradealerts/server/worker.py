"""The shape every background worker of the server shares (the mailer, the webhook and
push senders, the incident monitor): the settings, sessions and clock it was built with,
and a task on the running loop that makes a pass every few seconds, or at once when woken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradealerts.server.settings import Settings

__all__ = ["Worker", "end_task"]


async def end_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (None: nothing to do) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Worker:
    """A background worker: ``wake`` asks for a pass now, ``stop`` ends its task."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A pass now (the event loop's thread)."""
        self._wake.set()

    async def stop(self) -> None:
        """End the task (a pass in flight is cancelled; what it had not done stays due)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _every(
        self,
        seconds: Callable[[], float],
        step: Callable[[], Awaitable[object]],
        log: logging.Logger,
        failed: str,
    ) -> None:
        """Run ``step`` every ``seconds()`` or when woken, for ever; a pass that raises is
        logged (``failed``, with its traceback) and the next one comes as usual."""
        while True:
            # cleared before the pass: a wake during it runs the next one at once, not
            # after the poll
            self._wake.clear()
            try:
                await step()
            except Exception:
                log.exception(failed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=seconds())
