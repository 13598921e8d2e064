"""Ended sessions: the set of session ids whose access tokens are refused before they expire.

An access token lives ``access_token_minutes``; a session can end sooner (logout, a password
or 2FA change, a spent refresh token coming back, an account deleted). Every API process keeps
the ids of sessions that ended within one access-token lifetime (older ones' tokens have
expired anyway), so the check costs a set lookup, on the indicators fast path too.

How a process learns of an ended session:
- one it ended itself: at the commit (``accounts`` announces it), before the answer goes out;
- one another process ended, scaled out (``REDIS_URL``): a Redis pub/sub message, at once;
- either way, and as the safety net for a missed message: the database, re-read every
  ``revocation_sync_seconds`` (1 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.server import accounts
from tradealerts.server.db.models import RefreshToken

__all__ = ["Revocations"]

log = logging.getLogger("tradealerts.sessions")


class Revocations:
    """The ended sessions this process knows of (thread-safe: sync routes add from threads)."""

    def __init__(
        self,
        lifetime: timedelta,
        redis_url: str | None = None,
        channel: str = "tradealerts:sessions-ended",
    ) -> None:
        """``channel``: the Redis pub/sub channel that carries ended session ids."""
        self.lifetime = lifetime
        self.redis_url = redis_url
        self.channel = channel
        self._ended: dict[str, datetime | None] = {}  # sid -> when it ended (None: unknown)
        self._lock = threading.Lock()
        self._publisher: Any = None
        self._task: asyncio.Task[None] | None = None

    def is_ended(self, session_id: str) -> bool:
        return session_id in self._ended

    def add(self, session_ids: Iterable[str], when: datetime | None = None) -> None:
        with self._lock:
            for sid in session_ids:
                self._ended.setdefault(sid, when)

    def ended_here(self, session_ids: set[str]) -> None:
        """An ``accounts`` listener: sessions this process ended; other processes are told."""
        self.add(session_ids)
        if self.redis_url and session_ids:
            try:
                if self._publisher is None:
                    import redis

                    self._publisher = redis.Redis.from_url(self.redis_url)
                self._publisher.publish(self.channel, json.dumps(sorted(session_ids)))
            except Exception:  # the database sync still carries it within a second
                log.warning("could not publish %d ended session(s) to Redis", len(session_ids))

    def load(self, sessions: sessionmaker[Session], now: datetime) -> None:
        """Re-read the sessions that ended within one access-token lifetime."""
        since = now - self.lifetime - timedelta(minutes=1)
        with sessions() as s:
            rows = s.execute(
                select(RefreshToken.family_id, RefreshToken.revoked_at)
                .where(RefreshToken.revoked_at > since)
                .distinct()
            ).all()
        fresh = {sid: at for sid, at in rows}
        with self._lock:
            # forget what has aged out (its tokens are expired), keep what arrived meanwhile
            for sid, at in list(self._ended.items()):
                if sid not in fresh and at is not None and at <= since:
                    del self._ended[sid]
                elif at is None:
                    self._ended[sid] = now
            self._ended.update(fresh)

    async def start(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime], every: float
    ) -> None:
        """Load now, then keep in step: the database every ``every`` s, Redis as it speaks."""
        await asyncio.to_thread(self.load, sessions, clock())
        accounts.add_sessions_listener(self.ended_here)
        self._task = asyncio.create_task(self._run(sessions, clock, every), name="revocations")

    async def stop(self) -> None:
        accounts.remove_sessions_listener(self.ended_here)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    async def _run(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime], every: float
    ) -> None:
        listener = (
            asyncio.create_task(self._listen(), name="revocations-redis")
            if self.redis_url
            else None
        )
        try:
            while True:
                await asyncio.sleep(every)
                try:
                    await asyncio.to_thread(self.load, sessions, clock())
                except Exception:
                    log.exception("could not re-read ended sessions; retrying")
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self) -> None:
        from redis import asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(self.redis_url or "")
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.add(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("Redis pub/sub for ended sessions lost; reconnecting in 1 s")
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()
