"""Webhook deliveries: signed POSTs, retried with back-off for a day, logged per attempt.

The body is the fired alert's JSON (the stream's ``alert`` data); ``X-Tradealerts-Signature``
is ``sha256=`` + the hex HMAC-SHA256 of the exact body bytes with the user's webhook secret.
Delivery rows are the queue, so a restart resumes whatever was pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts import __version__
from tradealerts.core.tiers import Tier
from tradealerts.server.alerts.records import webhook_refusal
from tradealerts.server.db.models import Delivery, Event, User
from tradealerts.server.events import event_json
from tradealerts.server.settings import Settings

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "backoff", "sign"]

log = logging.getLogger("tradealerts.webhooks")

SIGNATURE_HEADER = "X-Tradealerts-Signature"
_BATCH = 50


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 1 min, 2 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class _Job:
    __slots__ = ("body", "delivery_id", "secret", "skip", "url")

    def __init__(
        self, delivery_id: int, url: str, body: bytes, secret: str, skip: str | None
    ) -> None:
        self.delivery_id, self.url, self.body, self.secret, self.skip = (
            delivery_id,
            url,
            body,
            secret,
            skip,
        )


class WebhookSender:
    """Sends due webhook deliveries on the server's event loop."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,  # a redirect could point inside the network
            headers={"User-Agent": f"tradealerts-webhooks/{__version__}"},
        )
        self._task = asyncio.create_task(self._run(), name="tradealerts-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                while await self.send_due():
                    pass
            except Exception:
                log.exception("webhook pass failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5.0)

    async def send_due(self) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        jobs = await asyncio.to_thread(self._due)
        for job in jobs:
            outcome = await self._attempt(job)
            await asyncio.to_thread(self._settle, job.delivery_id, *outcome)
        return len(jobs)

    def _due(self) -> list[_Job]:
        now = self.clock()
        jobs: list[_Job] = []
        with self.sessions() as s:
            rows = s.scalars(
                select(Delivery)
                .where(
                    Delivery.channel == "webhook",
                    Delivery.status == "pending",
                    Delivery.next_attempt_at <= now,
                )
                .order_by(Delivery.id)
                .limit(_BATCH)
            ).all()
            for d in rows:
                user = s.get(User, d.user_id)
                ev = s.get(Event, d.event_id)
                if user is None or ev is None:
                    continue
                skip = None
                if user.tier != Tier.PRO.value:
                    skip = "webhooks need the PRO plan"
                else:
                    skip = webhook_refusal(d.target, self.settings.allow_private_webhooks)
                body = json.dumps(event_json(ev), separators=(",", ":")).encode()
                jobs.append(_Job(d.id, d.target, body, user.webhook_secret or "", skip))
        return jobs

    async def _attempt(self, job: _Job) -> tuple[bool, int | None, str | None, bool]:
        """(delivered, HTTP status, error, final) of one try."""
        if job.skip is not None:
            return False, None, job.skip, True
        if self._client is None:
            return False, None, "the webhook sender is stopped", False
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(job.secret, job.body),
            "X-Tradealerts-Delivery": str(job.delivery_id),
        }
        try:
            response = await self._client.post(job.url, content=job.body, headers=headers)
        except httpx.HTTPError as exc:
            return False, None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__, False
        if 200 <= response.status_code < 300:
            return True, response.status_code, None, True
        return False, response.status_code, f"HTTP {response.status_code}", False

    def _settle(
        self,
        delivery_id: int,
        delivered: bool,
        status: int | None,
        error: str | None,
        final: bool,
    ) -> None:
        now = self.clock()
        with self.sessions() as s:
            d = s.get(Delivery, delivery_id)
            if d is None:
                return
            d.attempts += 1
            d.response_status = status
            d.last_error = error
            if delivered:
                d.status, d.done_at = "sent", now
            elif final:
                d.status, d.done_at = "skipped", now
            elif now + backoff(d.attempts) - d.created_at > timedelta(
                hours=self.settings.webhook_retry_hours
            ):
                d.status, d.done_at = "failed", now
                log.warning("webhook delivery %d gave up after %d tries", d.id, d.attempts)
            else:
                d.next_attempt_at = now + backoff(d.attempts)
            s.commit()
