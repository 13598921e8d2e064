"""Abuse limits: failed logins, password and 2FA checks, sign-ups per address, mails per
recipient. Moving windows from the ``limits`` library, in memory or in Redis.

Lock-outs are aimed so that an attacker cannot aim them at someone else:

- failed logins count per (account, source address, password): an attacker's wrong
  passwords from their addresses slow down their own guesses, never the owner's login from
  the owner's address; a new password (a reset, a change) starts the counts afresh, so a
  successful reset lifts every lock-out of the account;
- the wait grows with the failures (``BACKOFF``): 5 failures in a minute wait out the
  minute, 10 in 15 minutes the quarter hour, 20 in an hour the hour: a 429 with
  ``Retry-After``, never a hard lock;
- one source failing on many accounts (credential stuffing) is limited on its own
  (``FAILURES_PER_SOURCE``), which only ever stops that source;
- password and 2FA checks inside a session (change password or email, disable 2FA, delete
  the account) have the same back-off per account: a stolen access token cannot guess the
  password that would take the account over;
- mails with codes go at most ``MAILS_PER_RECIPIENT`` an hour to one address, per kind;
  beyond it the request gets the same answer and no mail (nobody can mail-bomb a victim).
"""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["BACKOFF", "FAILURES_PER_SOURCE", "MAILS_PER_RECIPIENT", "Throttle", "password_epoch"]

#: the growing wait after failed password or 2FA checks, per account and source
BACKOFF: tuple[RateLimitItem, ...] = (
    parse("5 per minute"),
    parse("10 per 15 minutes"),
    parse("20 per hour"),
)
#: failed logins from one source address, whatever the accounts
FAILURES_PER_SOURCE: RateLimitItem = RateLimitItemPerHour(100)
ABUSE_PER_IP: RateLimitItem = RateLimitItemPerHour(20)
BURST_PER_IP: RateLimitItem = RateLimitItemPerMinute(60)
#: mails of one kind (verification, reset, "already registered") to one address
MAILS_PER_RECIPIENT: RateLimitItem = RateLimitItemPerHour(3)


def password_epoch(password_hash: str | None) -> str:
    """A short tag of the account's current password: part of the lock-out keys, so a new
    password (reset or change) starts them afresh. Unknown accounts share the tag ``-``."""
    if not password_hash:
        return "-"
    return hashlib.sha256(password_hash.encode()).hexdigest()[:12]


class Throttle:
    """The abuse limits of one deployment."""

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

    def _backoff(self, *keys: str) -> int | None:
        """Seconds to wait while any step of ``BACKOFF`` is spent for ``keys``; the longest
        step's wait when several are (that is what the growing delay is)."""
        waits = [self._retry_after(i, *keys) for i in BACKOFF if not self._lim.test(i, *keys)]
        return max(waits) if waits else None

    def _fail(self, *keys: str) -> None:
        for item in BACKOFF:
            self._lim.hit(item, *keys)

    # logins: per (account, source, password) with back-off, and per source

    def login_blocked(self, email: str, ip: str, epoch: str) -> int | None:
        """Seconds this source must wait before trying this account's password again."""
        wait = self._backoff("login", email, ip, epoch)
        if wait is None and not self._lim.test(FAILURES_PER_SOURCE, "login-ip", ip):
            wait = self._retry_after(FAILURES_PER_SOURCE, "login-ip", ip)
        return wait

    def login_failed(self, email: str, ip: str, epoch: str) -> None:
        self._fail("login", email, ip, epoch)
        self._lim.hit(FAILURES_PER_SOURCE, "login-ip", ip)

    def login_succeeded(self, email: str, ip: str, epoch: str) -> None:
        for item in BACKOFF:
            self._lim.clear(item, "login", email, ip, epoch)

    # password and 2FA checks inside a session: per account (the session is the source)

    def check_blocked(self, user_id: int, epoch: str) -> int | None:
        return self._backoff("check", str(user_id), epoch)

    def check_failed(self, user_id: int, epoch: str) -> None:
        self._fail("check", str(user_id), epoch)

    # sign-ups, resets, resends per source address; mails per recipient

    def abuse(self, action: str, ip: str) -> int | None:
        """Count one sign-up/reset/resend from ``ip``; seconds to wait when over the limit."""
        if not self._lim.hit(ABUSE_PER_IP, action, ip):
            return self._retry_after(ABUSE_PER_IP, action, ip)
        return None

    def may_mail(self, kind: str, recipient: str) -> bool:
        """Count one mail of ``kind`` to ``recipient``; False past the hour's allowance."""
        return self._lim.hit(MAILS_PER_RECIPIENT, "mail", kind, recipient.strip().lower())
