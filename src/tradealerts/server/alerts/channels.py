"""Webhook deliveries: Standard Webhooks POSTs to a checked address, retried for a day.

The body is the fired alert's JSON (the stream's ``alert`` data), or the shape the alert's
``webhook_format`` names (Discord, Slack, Telegram: ``formats.py``). The headers follow the
Standard Webhooks spec (https://www.standardwebhooks.com), so a receiver verifies with its
``standardwebhooks`` library and the user's ``whsec_`` secret:

- ``webhook-id``: ``msg_<delivery id>``, the same on every retry of one delivery (dedupe on it);
- ``webhook-timestamp``: this attempt's time, epoch seconds (refuse old ones: replays);
- ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` with the
  secret's bytes (the base64 after ``whsec_``).

Each attempt goes through the SSRF guard (``guard.py``): resolved once, every address public
(or owner-approved), the connection made to that very address; redirects are not followed.
A ``Retry-After`` answer is honoured (never retried sooner); ``410 Gone`` takes the URL off
the user's alerts and tells them. Delivery rows are the queue, so a restart resumes whatever
was pending.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tradealerts import __version__
from tradealerts.core.tiers import Tier
from tradealerts.server.accounts import notify
from tradealerts.server.alerts.formats import webhook_body
from tradealerts.server.alerts.guard import WebhookGuard, WebhookRefused
from tradealerts.server.alerts.records import drop_webhook
from tradealerts.server.db.models import AlertRow, Delivery, Event, User
from tradealerts.server.events import event_json
from tradealerts.server.settings import Settings

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "backoff", "message_id", "retry_after", "sign"]

log = logging.getLogger("tradealerts.webhooks")

#: The header that carries the signature (a receiver's library reads it with the others).
SIGNATURE_HEADER = "webhook-signature"
_BATCH = 50
#: the longest wait a Retry-After answer can ask for (beyond it, the day's retries decide)
_MAX_RETRY_AFTER = 3600


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def message_id(delivery_id: int) -> str:
    """The ``webhook-id`` of a delivery: stable across its retries."""
    return f"msg_{delivery_id}"


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 1 min, 2 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def retry_after(value: str | None, now: datetime) -> int | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0, min(int((when - now).total_seconds()), _MAX_RETRY_AFTER))


class _Job:
    __slots__ = ("body", "delivery_id", "secret", "skip", "url", "user_id")

    def __init__(
        self, delivery_id: int, user_id: int, url: str, body: bytes, secret: str, skip: str | None
    ) -> None:
        self.delivery_id, self.user_id, self.url = delivery_id, user_id, url
        self.body, self.secret, self.skip = body, secret, skip


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    status: int | None = None
    error: str | None = None
    final: bool = False  # no retry
    called: bool = True  # False: refused before any request
    wait: int | None = None  # Retry-After, seconds
    gone: bool = False  # 410: the receiver is gone for good


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
        self.guard = WebhookGuard.from_settings(settings)

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
            await asyncio.to_thread(self._settle, job, outcome)
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
                skip = "webhooks need the PRO plan" if user.tier != Tier.PRO.value else None
                body = json.dumps(
                    webhook_body(self._format(s, ev), event_json(ev), d.target),
                    separators=(",", ":"),
                ).encode()
                jobs.append(_Job(d.id, d.user_id, d.target, body, user.webhook_secret or "", skip))
        return jobs

    @staticmethod
    def _format(s: Session, ev: Event) -> str:
        """The alert's webhook format when sent (json when the alert is gone)."""
        row = s.get(AlertRow, ev.alert_id) if ev.alert_id is not None else None
        channels = (row.spec.get("channels") or {}) if row is not None else {}
        return str(channels.get("webhook_format") or "json")

    async def _attempt(self, job: _Job) -> _Outcome:
        """One try: checked, pinned to the checked address, signed."""
        if job.skip is not None:
            return _Outcome(False, error=job.skip, final=True, called=False)
        if self._client is None:
            return _Outcome(False, error="the webhook sender is stopped", called=False)
        try:
            target = await self.guard.target(job.url)
        except WebhookRefused as exc:
            return _Outcome(False, error=f"{exc}: not called", final=True, called=False)
        msg_id, now = message_id(job.delivery_id), self.clock()
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "Host": target.host_header,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(job.secret, msg_id, timestamp, job.body),
        }
        extensions = {"sni_hostname": target.server_name} if target.server_name else None
        try:
            response = await self._client.request(
                "POST", target.url, content=job.body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            # the exception's text only: the URL (which may hold a token) is not in it
            return _Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
        code = response.status_code
        if 200 <= code < 300:
            return _Outcome(True, code)
        if 300 <= code < 400:
            return _Outcome(
                False,
                code,
                f"HTTP {code}: redirects are not followed; set the final URL on the alert",
                final=True,
            )
        if code == 410:
            gone = "HTTP 410 Gone: the webhook was taken off your alerts"
            return _Outcome(False, code, gone, final=True, gone=True)
        wait = retry_after(response.headers.get("Retry-After"), now)
        return _Outcome(False, code, f"HTTP {code}", wait=wait)

    def _settle(self, job: _Job, outcome: _Outcome) -> None:
        now = self.clock()
        with self.sessions() as s:
            d = s.get(Delivery, job.delivery_id)
            if d is None:
                return
            d.attempts += 1 if outcome.called else 0
            d.response_status = outcome.status
            d.last_error = outcome.error
            if outcome.delivered:
                d.status, d.done_at = "sent", now
            elif outcome.gone:
                d.status, d.done_at = "failed", now
                self._disable(s, job, now)
            elif outcome.final:
                d.status, d.done_at = ("failed" if outcome.called else "skipped"), now
            else:
                wait = backoff(max(d.attempts, 1))
                if outcome.wait is not None:  # never sooner than the receiver asked
                    wait = max(wait, timedelta(seconds=outcome.wait))
                if now + wait - d.created_at > timedelta(hours=self.settings.webhook_retry_hours):
                    d.status, d.done_at = "failed", now
                    log.warning("webhook delivery %d gave up after %d tries", d.id, d.attempts)
                else:
                    d.next_attempt_at = now + wait
            s.commit()

    def _disable(self, s: Session, job: _Job, now: datetime) -> None:
        """The receiver answered 410 Gone: stop sending there, and say so."""
        ids = drop_webhook(s, job.user_id, job.url, now)
        s.execute(
            update(Delivery)
            .where(
                Delivery.user_id == job.user_id,
                Delivery.channel == "webhook",
                Delivery.target == job.url,
                Delivery.status == "pending",
                Delivery.id != job.delivery_id,
            )
            .values(status="skipped", done_at=now, last_error="the webhook answered 410 Gone")
        )
        user = s.get(User, job.user_id)
        if user is not None:
            which = ", ".join(str(i) for i in ids) or "none left"
            notify(
                s,
                user,
                "webhook_disabled",
                "Webhook disabled",
                "Your webhook answered 410 Gone, so it was taken off your alerts "
                f"({which}). They still fire to your other channels; set a new webhook "
                "URL to send there again.",
                now,
            )
        log.info("webhook of user %d disabled after 410 (alerts %s)", job.user_id, ids)
