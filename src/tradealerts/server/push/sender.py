"""Push deliveries from the queue: the webhook sender's guarantees, Apprise's sending.

A fired alert that names push channels gets one ``deliveries`` row per channel
(``channel = "push"``, ``target = "<channel id>/<name>"``: no secret in it). This sender is
the webhook sender (``alerts/channels.py``) with another way to make one attempt, so it keeps
everything that one guarantees: rows are the queue (a restart resumes them), one attempt at a
time per delivery, retried with back-off for ``webhook_retry_hours``, every attempt's status
in the alert's history, slots per owner and per owner's channel, a failing channel paused
while the others go on, and a delivery that raises quarantined with its reason.

Two differences: the attempt is ``Pusher``'s (a thread, under the whole-call deadline, the
SSRF guard on every name), and an owner's slot is given back only when the thread is free
again (not at the deadline), so a receiver that never answers holds at most its owner's slots
of the pool, never anyone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.push import push_text
from tradealerts.core.tiers import Tier
from tradealerts.server.alerts.channels import WebhookSender, _Job, _Outcome, _quarantined
from tradealerts.server.db.models import Delivery, Event, PushChannel, User
from tradealerts.server.events import event_json
from tradealerts.server.push.send import Pusher, PushResult, scrub
from tradealerts.server.push.stats import PushStats
from tradealerts.server.push.vault import Vault
from tradealerts.server.settings import Settings

__all__ = ["PushSender", "target_of"]


def target_of(channel: PushChannel) -> str:
    """A push delivery's ``target``: the channel's id and name (a channel removed and added
    again under its name is another channel: what was queued for the old one is skipped)."""
    return f"{channel.id}/{channel.name}"


class PushSender(WebhookSender):
    """Sends due push deliveries through Apprise, concurrently and fairly (see module)."""

    channel = "push"

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        super().__init__(settings, sessions, clock)
        self.vault = Vault(settings.signing_key())
        self.pusher: Pusher | None = None
        self.stats = PushStats()  # for /metrics

    def _destination(self, target: str) -> str:
        return target  # one owner's channel

    def start(self) -> None:
        self.pusher = Pusher(
            self.guard,
            self.settings.push_threads,
            self.settings.push_deadline_seconds,
            self.settings.webhook_response_cap_bytes,
        )
        self._task = asyncio.create_task(self._run(), name="tradealerts-push")

    async def stop(self) -> None:
        await super().stop()
        if self.pusher is not None:
            self.pusher.close()
            self.pusher = None

    def _quarantine(self, delivery_id: int, user_id: int, exc: BaseException) -> None:
        self.stats.attempt("quarantined")  # a channel that cannot even be loaded
        super()._quarantine(delivery_id, user_id, exc)

    def _job(self, s: Session, d: Delivery) -> _Job | None:
        user = s.get(User, d.user_id)
        ev = s.get(Event, d.event_id)
        if user is None or ev is None:
            return None
        skip = None
        channel_id = d.target.split("/", 1)[0]
        row = s.get(PushChannel, int(channel_id)) if channel_id.isdigit() else None
        if row is None or row.user_id != d.user_id:
            skip = "the channel was removed"
        elif user.tier != Tier.PRO.value:
            skip = "push channels need the PRO plan"
        url = self.vault.open(row.url_secret) if row is not None and skip is None else ""
        title, body = push_text(event_json(ev), user.language)
        payload = json.dumps([title, body]).encode()
        return _Job(d.id, d.user_id, d.target, payload, url, skip)

    async def _deliver(self, job: _Job) -> None:
        future = None
        try:
            try:
                if job.skip is not None:
                    outcome = _Outcome(False, error=job.skip, final=True, called=False)
                    self.stats.attempt("skipped")
                elif self.pusher is None:
                    outcome = _Outcome(False, error="the push sender is stopped", called=False)
                else:
                    title, body = json.loads(job.body)
                    started = time.monotonic()
                    future = self.pusher.submit(job.secret, title, body)
                    result = await self.pusher.wait(future)
                    took = None if result.refused else time.monotonic() - started
                    self.stats.attempt(result.outcome, took)
                    outcome = _outcome(result)
            except Exception as exc:  # not a receiver's fault we know: park it, go on
                # the reason without the URL's secrets (an exception may quote the URL)
                poison = RuntimeError(scrub(_quarantined(exc), job.secret))
                poison.__traceback__ = exc.__traceback__
                outcome = _Outcome(False, error=str(poison), final=True, poison=poison)
                self.stats.attempt("quarantined")
            await self._record(job, outcome)
        finally:
            if future is not None and not future.done():
                # the thread is still held by the receiver: so is its owner's slot
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(future)
            self._release(job.delivery_id)
            self._wake.set()


def _outcome(result: PushResult) -> _Outcome:
    if result.sent:
        return _Outcome(True)
    if result.refused:
        return _Outcome(False, error=result.error, final=True, called=False)
    return _Outcome(False, error=result.error, receiver_fault=True)
