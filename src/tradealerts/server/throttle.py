"""Abuse limits on the auth endpoints: failed logins per account and per IP, sign-ups per IP."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["Throttle"]

LOGIN_FAILURES: RateLimitItem = parse("5 per 15 minutes")
ABUSE_PER_IP: RateLimitItem = RateLimitItemPerHour(20)
BURST_PER_IP: RateLimitItem = RateLimitItemPerMinute(60)


class Throttle:
    """Moving windows from the ``limits`` library, in memory or in Redis."""

    def __init__(self, redis_url: str | None = None, prefix: str = "tradealerts") -> None:
        # one deployment's counts under its own prefix, like the quotas: two deployments (or
        # test runs) sharing a Redis must not spend each other's sign-ups per IP
        storage: Storage = (
            RedisStorage(redis_url, key_prefix=f"{prefix}:throttle")
            if redis_url
            else MemoryStorage()
        )
        self._lim = MovingWindowRateLimiter(storage)

    def _retry_after(self, item: RateLimitItem, *keys: str) -> int:
        stats = self._lim.get_window_stats(item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def login_blocked(self, email: str, ip: str) -> int | None:
        """Seconds to wait when the account or the IP has 5 failures in 15 minutes."""
        for keys in (("login-acct", email), ("login-ip", ip)):
            if not self._lim.test(LOGIN_FAILURES, *keys):
                return self._retry_after(LOGIN_FAILURES, *keys)
        return None

    def login_failed(self, email: str, ip: str) -> None:
        self._lim.hit(LOGIN_FAILURES, "login-acct", email)
        self._lim.hit(LOGIN_FAILURES, "login-ip", ip)

    def login_succeeded(self, email: str) -> None:
        self._lim.clear(LOGIN_FAILURES, "login-acct", email)

    def abuse(self, action: str, ip: str) -> int | None:
        """Count one sign-up/reset/resend from ``ip``; seconds to wait when over the limit."""
        if not self._lim.hit(ABUSE_PER_IP, action, ip):
            return self._retry_after(ABUSE_PER_IP, action, ip)
        return None
