"""Hourly request quotas on data endpoints (60 FREE / 300 PRO), a moving window via ``limits``.

Memory storage in the embedded default (a restart forgets the counts); Redis storage (the same
library) when a Redis URL is set, so every API process shares one count per user and the
counts outlive a restart. Either way a hit is counted atomically (a lock in memory, a Lua
script in Redis): 2 x Q parallel requests get exactly Q answers, the rest 429.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from tradealerts.core.tiers import Tier, limits_for

__all__ = ["Quota", "QuotaResult"]


@dataclass(frozen=True)
class QuotaResult:
    """One counted request: allowed or not, and what the X-RateLimit-* headers say."""

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


class Quota:
    """Per-user hourly quota by tier."""

    def __init__(self, redis_url: str | None = None, prefix: str = "tradealerts") -> None:
        storage: Storage = (
            RedisStorage(redis_url, key_prefix=f"{prefix}:quota") if redis_url else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)

    def hit(self, user_id: int | str, tier: Tier | str) -> QuotaResult:
        """Count one request of ``user_id`` against its tier's hourly limit."""
        per_hour = limits_for(tier).requests_per_hour
        item = RateLimitItemPerHour(per_hour)
        allowed = self._limiter.hit(item, "data", str(user_id))
        stats = self._limiter.get_window_stats(item, "data", str(user_id))
        return QuotaResult(allowed, per_hour, stats.remaining, math.ceil(stats.reset_time))

    def reset(self, user_id: int | str, tier: Tier | str) -> None:
        """Forget a user's count (after a tier change the new limit starts fresh)."""
        item = RateLimitItemPerHour(limits_for(tier).requests_per_hour)
        self._limiter.clear(item, "data", str(user_id))
