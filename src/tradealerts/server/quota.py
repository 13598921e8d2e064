"""Hourly request quotas on data endpoints (60 FREE / 300 PRO), a moving window.

With a Redis URL, ``limits``' moving window on Redis, so every API process shares one count
per user and the counts outlive a restart. In the embedded default (one process), the same
window in memory, here (a restart forgets the counts): the ``limits`` memory storage starts a
thread every 10 ms while requests flow (its expiry timer runs once and is re-armed by the
next hit), and each start blocked the event loop until the thread ran; under load that and
the library's per-call layers were a quarter of the event loop's time (py-spy,
``bench/bench_server.py``). Either way a hit is counted atomically (a lock in memory, a Lua
script in Redis): 2 x Q parallel requests get exactly Q answers, the rest 429.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, NamedTuple

from limits import RateLimitItemPerHour
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import NoScriptError

from tradealerts.core.tiers import Tier, limits_for

__all__ = ["Quota", "QuotaResult"]


class QuotaResult(NamedTuple):
    """One counted request: allowed or not, and what the X-RateLimit-* headers say. (A named
    tuple: built on every counted request, at half a frozen dataclass's cost.)"""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the oldest counted request leaves the window

    def headers(self) -> dict[str, str]:
        """The headers every counted response carries (and Retry-After on a refusal)."""
        h = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            h["Retry-After"] = str(max(1, self.reset - math.floor(time.time())))
        return h

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """An allowed request's ``headers()`` as raw ASGI pairs (lower-case names), for the
        indicators fast path: a third of the cost of encoding the dict's."""
        return [
            (b"x-ratelimit-limit", b"%d" % self.limit),
            (b"x-ratelimit-remaining", b"%d" % self.remaining),
            (b"x-ratelimit-reset", b"%d" % self.reset),
        ]


WINDOW = 3600.0  # seconds: the quotas are per hour


class MemoryWindow:
    """The moving window of ``limits``' MemoryStorage, for one process: a request is allowed
    while fewer than ``limit`` allowed requests of the key are under ``WINDOW`` seconds old
    (a refused one is not counted). Old times are dropped as the key is hit, and idle keys
    once a minute."""

    SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # the event loop and any thread may count
        self._next_sweep = 0.0

    def hit(self, key: str, limit: int) -> tuple[bool, int, float]:
        """Count one request: (allowed, remaining, when the oldest counted one leaves)."""
        now = time.time()
        cutoff = now - WINDOW
        with self._lock:
            times = self._hits.get(key)
            if times is None:
                times = self._hits[key] = deque()
            while times and times[0] <= cutoff:
                times.popleft()
            allowed = len(times) < limit
            if allowed:
                times.append(now)
            if now >= self._next_sweep:
                self._next_sweep = now + self.SWEEP_SECONDS
                for k in [k for k, t in self._hits.items() if not t or t[-1] <= cutoff]:
                    del self._hits[k]
            return allowed, limit - len(times), (times[0] if times else now) + WINDOW

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class Quota:
    """Per-user hourly quota by tier."""

    def __init__(self, redis_url: str | None = None, prefix: str = "tradealerts") -> None:
        self._storage = RedisStorage(redis_url, key_prefix=f"{prefix}:quota") if redis_url else None
        self._limiter = MovingWindowRateLimiter(self._storage) if self._storage else None
        self._memory = MemoryWindow()
        self._per_hour: dict[str, int] = {}  # tier -> limit: limits_for's Tier() cost ~0.7 µs

    def hit(self, user_id: int | str, tier: Tier | str) -> QuotaResult:
        """Count one request of ``user_id`` against its tier's hourly limit."""
        per_hour = self._per_hour.get(tier)
        if per_hour is None:
            per_hour = self._per_hour[tier] = limits_for(tier).requests_per_hour
        if self._limiter is None:
            # per limit, as limits' keys are: a new tier's limit starts its own count
            allowed, remaining, reset = self._memory.hit(f"{user_id}/{per_hour}", per_hour)
            return QuotaResult(allowed, per_hour, remaining, math.ceil(reset))
        item = RateLimitItemPerHour(per_hour)
        try:
            return self._hit_once(self._storage, item, user_id, per_hour)
        except NoScriptError:  # a restarted Redis forgot the scripts: limits loads them
            pass
        allowed = self._limiter.hit(item, "data", str(user_id))
        stats = self._limiter.get_window_stats(item, "data", str(user_id))
        return QuotaResult(allowed, per_hour, stats.remaining, math.ceil(stats.reset_time))

    @staticmethod
    def _hit_once(
        storage: Any, item: RateLimitItemPerHour, user_id: int | str, limit: int
    ) -> QuotaResult:
        """``limits``' hit and window stats (its own scripts, keys and layout) in one round
        trip: the pipeline runs both by their SHA, where the library makes two calls."""
        key = storage.prefixed_key(item.key_for("data", str(user_id)))
        expiry = item.get_expiry()
        now = time.time()
        pipe = storage.get_connection().pipeline(transaction=False)
        pipe.evalsha(storage.lua_acquire_moving_window.sha, 1, key, now, limit, expiry, 1)
        pipe.evalsha(storage.lua_moving_window.sha, 1, key, now - expiry, limit)
        acquired, window = pipe.execute()
        oldest, count = (float(window[0]), int(window[1])) if window else (now, 0)
        return QuotaResult(bool(acquired), limit, max(0, limit - count), math.ceil(oldest + expiry))

    def reset(self, user_id: int | str, tier: Tier | str) -> None:
        """Forget a user's count (after a tier change the new limit starts fresh)."""
        per_hour = limits_for(tier).requests_per_hour
        if self._limiter is None:
            self._memory.clear(f"{user_id}/{per_hour}")
            return
        self._limiter.clear(RateLimitItemPerHour(per_hour), "data", str(user_id))
