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
A ``Retry-After`` answer is honoured (never retried sooner; junk means the default back-off);
``410 Gone`` takes the URL off the user's alerts and tells them. Delivery rows are the queue,
so a restart resumes whatever was pending.

One receiver never holds anyone else's deliveries: each attempt is a task of its own, under
a deadline for the whole call (not per read: a receiver dripping a byte every few seconds is
cut off), reading at most a capped part of the answer's body; slots are counted per owner
and per owner's destination, and a destination that fails is paused while the rest go on. A
delivery that fails in a way no retry can fix (an unexpected error) is quarantined: status
``quarantined`` with its reason, shown to its owner and in ``admin errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts import __version__
from tradealerts.core.tiers import Tier
from tradealerts.server.alerts.formats import webhook_body
from tradealerts.server.alerts.guard import WebhookGuard, WebhookRefused
from tradealerts.server.alerts.webhook_rules import (
    SIGNATURE_HEADER,
    Destination,
    Job,
    Outcome,
    answer,
    backoff,
    destination,
    disable_gone,
    error_record,
    message_id,
    quarantined,
    retry_after,
    sign,
)
from tradealerts.server.db.models import AlertRow, Delivery, Event, User
from tradealerts.server.events import event_json
from tradealerts.server.settings import Settings
from tradealerts.server.worker import Worker, end_task

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookSender",
    "backoff",
    "destination",
    "message_id",
    "retry_after",
    "sign",
]

log = logging.getLogger("tradealerts.webhooks")

_BATCH = 50
#: the longest a failing destination is paused by its own back-off (Retry-After may ask more)
_MAX_DESTINATION_PAUSE = timedelta(minutes=5)
#: a destination idle this long after its pause is forgotten (its back-off starts afresh)
_FORGET = timedelta(hours=1)


class WebhookSender(Worker):
    """Sends due webhook deliveries on the server's event loop, concurrently.

    Each delivery is a task of its own under a whole-call deadline, with at most
    ``webhook_concurrency`` in flight, ``webhook_per_owner`` per owner and
    ``webhook_per_destination`` per owner's destination (scheme, host, port); a destination
    that fails is paused (back-off, or its ``Retry-After``) while the others go on. So a
    receiver that is slow, drips, floods or never answers holds only its owner's slots.

    A delivery in flight is never picked again: its id is held until its outcome is
    committed (exactly one attempt at a time, and none after it is ``sent``)."""

    #: the deliveries' ``channel`` this sender sends (push channels reuse the queue: ``push``)
    channel = "webhook"

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        super().__init__(settings, sessions, clock)
        self._client: httpx.AsyncClient | None = None
        self.guard = WebhookGuard.from_settings(settings)
        self._inflight: dict[int, tuple[int, str]] = {}  # delivery id -> (owner, destination)
        self._owners: dict[int, int] = {}  # owner -> calls in flight
        self._dests: dict[tuple[int, str], Destination] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._settling: list[tuple[Job, Outcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def _destination(self, target: str) -> str:
        """The key a delivery's slots and back-off are counted under (with its owner)."""
        return destination(target)

    def start(self) -> None:
        limit = max(self.settings.webhook_concurrency, 1)
        self._client = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,  # a redirect could point inside the network
            headers={"User-Agent": f"tradealerts-webhooks/{__version__}"},
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
        self._task = asyncio.create_task(self._run(), name="tradealerts-webhooks")

    async def stop(self) -> None:
        """Stop dispatching and cancel the calls in flight (they stay pending: a restart
        sends them again under the same ``webhook-id``)."""
        await end_task(self._task)
        self._task = None
        tasks = list(self._tasks)
        if self._writer is not None:
            tasks.append(self._writer)
            self._writer = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._settling.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def _run(self) -> None:
        await self._every(lambda: 5.0, self._pass, log, f"{self.channel} pass failed; retrying")

    async def _pass(self) -> None:
        if await self.dispatch() >= _BATCH:
            self._wake.set()  # a full batch: more may be due

    async def send_due(self) -> int:
        """Start every due delivery that has a free slot, and wait for what this pass started
        (for callers that want a pass done); returns how many were started."""
        before = set(self._tasks)
        started = await self.dispatch()
        await asyncio.gather(*(self._tasks - before), return_exceptions=True)
        return started

    async def dispatch(self) -> int:
        """Start the due deliveries that have free slots, each in a task of its own; returns
        how many rows the due query gave (``_BATCH`` or more: look again)."""
        if len(self._inflight) >= self.settings.webhook_concurrency:
            return 0
        now = self.clock()
        self._prune(now)
        per_owner, per_dest = self.settings.webhook_per_owner, self.settings.webhook_per_destination
        busy_owners = [u for u, n in self._owners.items() if n >= per_owner]
        blocked_urls = [
            url for d in self._dests.values() if d.blocked(now, per_dest) for url in d.urls
        ]
        rows = await asyncio.to_thread(
            self._candidates, now, list(self._inflight), busy_owners, blocked_urls[:500]
        )
        chosen: list[int] = []
        for delivery_id, user_id, url in rows:
            if len(self._inflight) >= self.settings.webhook_concurrency:
                break
            if delivery_id in self._inflight or self._owners.get(user_id, 0) >= per_owner:
                continue
            key = (user_id, self._destination(url))
            dest = self._dests.setdefault(key, Destination())
            if len(dest.urls) < 50:
                dest.urls.add(url)
            if dest.blocked(now, per_dest):
                continue
            dest.busy += 1
            self._owners[user_id] = self._owners.get(user_id, 0) + 1
            self._inflight[delivery_id] = key
            chosen.append(delivery_id)
        if chosen:
            jobs = await asyncio.to_thread(self._jobs, chosen)
            for delivery_id in chosen:
                job = jobs.get(delivery_id)
                if job is None:  # gone (purged with its event), or quarantined while loaded
                    self._release(delivery_id)
                    continue
                task = asyncio.create_task(
                    self._deliver(job), name=f"tradealerts-webhook-{delivery_id}"
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return len(rows)

    def _prune(self, now: datetime) -> None:
        """Forget idle destinations whose back-off is over (memory stays bounded)."""
        for key in [
            k
            for k, d in self._dests.items()
            if d.busy == 0 and (d.paused_until is None or d.paused_until + _FORGET <= now)
        ]:  # fmt: skip
            del self._dests[key]
        for owner in [u for u, n in self._owners.items() if n <= 0]:
            del self._owners[owner]

    def _release(self, delivery_id: int) -> None:
        key = self._inflight.pop(delivery_id, None)
        if key is None:
            return
        self._owners[key[0]] = self._owners.get(key[0], 1) - 1
        dest = self._dests.get(key)
        if dest is not None:
            dest.busy -= 1

    def _candidates(
        self, now: datetime, inflight: list[int], busy_owners: list[int], blocked_urls: list[str]
    ) -> list[tuple[int, int, str]]:
        """Due deliveries, oldest first, at most a few per owner: one owner's backlog never
        fills the batch that the others' deliveries are picked from."""
        due = [
            Delivery.channel == self.channel,
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
        ]
        if inflight:
            due.append(Delivery.id.not_in(inflight))
        if busy_owners:
            due.append(Delivery.user_id.not_in(busy_owners))
        if blocked_urls:
            due.append(Delivery.target.not_in(blocked_urls))
        rank = (
            func.row_number()
            .over(partition_by=Delivery.user_id, order_by=Delivery.id)
            .label("rank")
        )
        ranked = select(Delivery.id, Delivery.user_id, Delivery.target, rank).where(*due).subquery()
        with self.sessions() as s:
            rows = s.execute(
                select(ranked.c.id, ranked.c.user_id, ranked.c.target)
                .where(ranked.c.rank <= 2 * self.settings.webhook_per_owner)
                .order_by(ranked.c.id)
                .limit(_BATCH)
            ).all()
        return [(int(i), int(u), str(t)) for i, u, t in rows]

    def _jobs(self, ids: list[int]) -> dict[int, Job]:
        """The signed-to-be requests of ``ids``; a delivery whose body cannot be made is
        quarantined here, and the others go on."""
        jobs: dict[int, Job] = {}
        with self.sessions() as s:
            rows = s.scalars(select(Delivery).where(Delivery.id.in_(ids))).all()
            # their users, events and alerts in three queries, not three per delivery (kept
            # referenced: the session's identity map then answers ``s.get``)
            users = s.scalars(select(User).where(User.id.in_({d.user_id for d in rows}))).all()
            events = s.scalars(select(Event).where(Event.id.in_({d.event_id for d in rows}))).all()
            alert_ids = {e.alert_id for e in events if e.alert_id is not None}
            alerts = s.scalars(select(AlertRow).where(AlertRow.id.in_(alert_ids))).all()
            _held = (users, alerts)  # the identity map keeps only what is referenced
            for d in rows:
                delivery_id, user_id = d.id, d.user_id
                try:
                    job = self._job(s, d)
                except Exception as exc:
                    s.rollback()
                    self._quarantine(delivery_id, user_id, exc)
                    continue
                if job is not None:
                    jobs[d.id] = job
        return jobs

    def _job(self, s: Session, d: Delivery) -> Job | None:
        user = s.get(User, d.user_id)
        ev = s.get(Event, d.event_id)
        if user is None or ev is None:
            return None
        skip = "webhooks need the PRO plan" if user.tier != Tier.PRO.value else None
        body = json.dumps(
            webhook_body(self._format(s, ev), event_json(ev), d.target), separators=(",", ":")
        ).encode()
        return Job(d.id, d.user_id, d.target, body, user.webhook_secret or "", skip)

    @staticmethod
    def _format(s: Session, ev: Event) -> str:
        """The alert's webhook format when sent (json when the alert is gone)."""
        row = s.get(AlertRow, ev.alert_id) if ev.alert_id is not None else None
        channels = (row.spec.get("channels") or {}) if row is not None else {}
        return str(channels.get("webhook_format") or "json")

    async def _deliver(self, job: Job) -> None:
        """One attempt of one delivery, its outcome committed, its slots given back."""
        try:
            try:
                outcome = await self._attempt(job)
            except Exception as exc:  # not a receiver's fault we know: park it, go on
                outcome = Outcome(False, error=quarantined(exc), final=True, poison=exc)
            await self._record(job, outcome)
        finally:
            self._release(job.delivery_id)
            self._wake.set()  # a slot is free

    async def _record(self, job: Job, outcome: Outcome) -> None:
        """Hand the outcome to the writer and wait until it is committed: the delivery stays
        held (in flight) until then, so it is never picked, and sent, a second time."""
        self._note(job, outcome)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._settling.append((job, outcome, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="tradealerts-webhook-log")
        await done

    async def _write(self) -> None:
        """Commit the outcomes that are waiting, together (one transaction for many calls:
        the database's commits, not the receivers, bound the throughput otherwise); retried
        with back-off while the database fails."""
        delay = 0.1
        while self._settling:
            batch, self._settling = self._settling, []
            try:
                await asyncio.to_thread(self._settle_all, [(j, o) for j, o, _ in batch])
            except Exception as exc:
                log.warning(
                    "%d webhook outcome(s) could not be recorded (%s); retrying",
                    len(batch),
                    type(exc).__name__,
                )
                self._settling[:0] = batch
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _settle_all(self, items: list[tuple[Job, Outcome]]) -> None:
        """Record ``items`` in one transaction; if that fails, one by one, so one that
        cannot be recorded is quarantined instead of holding the others."""
        try:
            with self.sessions() as s:
                now = self.clock()
                ids = [job.delivery_id for job, _ in items]
                _held = s.scalars(select(Delivery).where(Delivery.id.in_(ids))).all()  # one query
                for job, outcome in items:
                    self._settle(s, job, outcome, now)
                s.commit()
            return
        except Exception:
            if len(items) == 1:
                raise
        for job, outcome in items:
            try:
                with self.sessions() as s:
                    self._settle(s, job, outcome, self.clock())
                    s.commit()
            except Exception as exc:
                self._quarantine(job.delivery_id, job.user_id, exc)  # raises if the db is down

    def _note(self, job: Job, outcome: Outcome) -> None:
        """The destination's back-off: paused after a receiver's fault (longer each time in
        a row, never shorter than its Retry-After), resumed at its first good answer."""
        dest = self._dests.get((job.user_id, self._destination(job.url)))
        if dest is None:
            return
        if outcome.receiver_fault:
            dest.failures += 1
            wait = min(backoff(dest.failures), _MAX_DESTINATION_PAUSE)
            if outcome.wait is not None:
                wait = max(wait, timedelta(seconds=outcome.wait))
            dest.paused_until = self.clock() + wait
        elif outcome.called:
            dest.failures, dest.paused_until = 0, None

    async def _attempt(self, job: Job) -> Outcome:
        """One try: checked, pinned to the checked address, signed, and bounded as a whole:
        the answer's headers within ``webhook_deadline_seconds`` of the start (however the
        receiver drips them), then at most ``webhook_response_cap_bytes`` of its body until
        the same deadline."""
        if job.skip is not None:
            return Outcome(False, error=job.skip, final=True, called=False)
        if self._client is None:
            return Outcome(False, error="the webhook sender is stopped", called=False)
        deadline_s = self.settings.webhook_deadline_seconds
        deadline = asyncio.get_running_loop().time() + deadline_s
        late = f"no answer within {deadline_s:g} s (the whole call's deadline)"
        try:
            async with asyncio.timeout_at(deadline):
                target = await self.guard.target(job.url)
        except WebhookRefused as exc:
            return Outcome(False, error=f"{exc}: not called", final=True, called=False)
        except TimeoutError:
            return Outcome(False, error=f"{late}: the name did not resolve", receiver_fault=True)
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
        request = self._client.build_request(
            "POST", target.url, content=job.body, headers=headers, extensions=extensions
        )
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._client.send(request, stream=True)
        except TimeoutError:
            return Outcome(False, error=late, receiver_fault=True)
        except httpx.HTTPError as exc:
            # the exception's text only: the URL (which may hold a token) is not in it
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500], receiver_fault=True)
        try:
            # the answer counts from its status; its body is only drained (so the connection
            # can be reused), up to the cap and the deadline, never kept
            with contextlib.suppress(TimeoutError, httpx.HTTPError):
                async with asyncio.timeout_at(deadline):
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= self.settings.webhook_response_cap_bytes:
                            break
        finally:
            await response.aclose()  # an unread rest closes the connection
        return answer(response.status_code, response.headers.get("Retry-After"), now)

    def _settle(self, s: Session, job: Job, outcome: Outcome, now: datetime) -> None:
        d = s.get(Delivery, job.delivery_id)
        if d is None:
            return
        d.attempts += 1 if outcome.called else 0
        d.response_status = outcome.status
        d.last_error = outcome.error[:500] if outcome.error else None
        if outcome.delivered:
            d.status, d.done_at = "sent", now
        elif outcome.gone:
            d.status, d.done_at = "failed", now
            s.flush()
            disable_gone(s, job, now)
        elif outcome.poison is not None:
            d.status, d.done_at = "quarantined", now
            error_record(s, job, outcome.poison, now, self.channel)
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

    def _quarantine(self, delivery_id: int, user_id: int, exc: BaseException) -> None:
        """Park a delivery that cannot be sent (failed, its reason kept), in a session of its
        own so the rest of the pass goes on."""
        now = self.clock()
        log.error("webhook delivery %d quarantined: %s", delivery_id, type(exc).__name__)
        with self.sessions() as s:
            d = s.get(Delivery, delivery_id)
            if d is not None:
                d.status, d.done_at, d.last_error = "quarantined", now, quarantined(exc)
                job = Job(delivery_id, user_id, "", b"", "", None)
                error_record(s, job, exc, now, self.channel)
                s.commit()


# the names the push sender (push/sender.py) takes from here
_Job = Job
_Outcome = Outcome
_quarantined = quarantined
