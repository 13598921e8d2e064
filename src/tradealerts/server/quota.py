"""Hourly request quotas on data endpoints (60 FREE / 300 PRO), a moving window.

With a Redis URL, the moving window lives in Redis (``limits``' key layout), so every API
process shares one count per user and the counts outlive a restart. A process does not ask
Redis on every request: it reserves a *lease* of a few requests (``block``: 1/20 of the
hourly limit, doubling while the user keeps spending, up to 1/5) in one Lua call, spends it
locally, reserves the next block in the background when half is spent, and gives back what
it did not spend after ``lease_seconds`` idle (and when it stops). A request then waits for
Redis only when its process holds no token of the user's (the first request, or a burst
faster than the background reservation): the shared quota cost an API process a round trip
per request (3.3x the embedded cost per indicator request in bench_scaleout). What stays
exact and what does not: docs/architecture.md, "Quotas".

In the embedded default (one process), the same window in memory, here (a restart forgets
the counts): the ``limits`` memory storage starts a thread every 10 ms while requests flow
(its expiry timer runs once and is re-armed by the next hit), and each start blocked the
event loop until the thread ran; under load that and the library's per-call layers were a
quarter of the event loop's time (py-spy, ``bench/bench_server.py``). In memory a hit is
counted atomically under a lock: 2 x Q parallel requests get exactly Q answers, the rest
429; in Redis the same holds within one process, and across processes up to the leases'
bound.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from array import array
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from limits import RateLimitItemPerHour
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from tradealerts.core.tiers import Tier, limits_for

__all__ = ["Quota", "QuotaResult"]

log = logging.getLogger("tradealerts.quota")


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
    once a minute.

    Memory is bounded (docs/architecture.md, "Memory per user"): a key's times are packed
    doubles (8 bytes a counted request; a deque of float objects took ~32, and 20,000 users'
    hour of requests grew the server by ~40 MB), and at most ``max_keys`` keys are kept: past
    it the least recently hit key is forgotten (its user's count starts again; with Redis,
    nothing is forgotten)."""

    SWEEP_SECONDS = 60.0
    MAX_KEYS = 100_000

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        # insertion order is recency: a hit moves its key to the end
        self._hits: dict[str, array[float]] = {}
        self._lock = threading.Lock()  # the event loop and any thread may count
        self._next_sweep = 0.0

    def hit(self, key: str, limit: int) -> tuple[bool, int, float]:
        """Count one request: (allowed, remaining, when the oldest counted one leaves)."""
        now = time.time()
        cutoff = now - WINDOW
        with self._lock:
            hits = self._hits
            times = hits.pop(key, None)
            if times is None:
                times = array("d")
                if len(hits) >= self.max_keys:
                    del hits[next(iter(hits))]  # the least recently hit
            hits[key] = times
            gone = bisect_right(times, cutoff)
            if gone:
                del times[:gone]
            allowed = len(times) < limit
            if allowed:
                times.append(now)
            if now >= self._next_sweep:
                self._next_sweep = now + self.SWEEP_SECONDS
                for k in [k for k, t in hits.items() if not t or t[-1] <= cutoff]:
                    del hits[k]
            return allowed, limit - len(times), (times[0] if times else now) + WINDOW

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)


#: Reserve up to ARGV[4] requests in the moving window of KEYS[1] (``limits``' layout: a list
#: of request times, newest first, trimmed to the limit) at time ARGV[1]: as many as are
#: free, maybe fewer, maybe none. Returns {granted, counted in the window after it, the
#: oldest counted time}. The entries are ARGV[1] as given, so a release can name them.
_RESERVE = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local low, high, count = 0, redis.call('llen', KEYS[1]) - 1, 0
while low <= high do
    local mid = math.floor((low + high) / 2)
    local v = tonumber(redis.call('lindex', KEYS[1], mid))
    if v and v >= now - expiry then
        count = mid + 1
        low = mid + 1
    else
        high = mid - 1
    end
end
local grant = math.max(0, math.min(want, limit - count))
if grant > 0 then
    local entries = {}
    for i = 1, grant do entries[i] = ARGV[1] end
    redis.call('lpush', KEYS[1], unpack(entries))
    redis.call('ltrim', KEYS[1], 0, limit - 1)
    redis.call('expire', KEYS[1], math.ceil(expiry))
    count = count + grant
end
local oldest = ARGV[1]
if count > 0 then oldest = redis.call('lindex', KEYS[1], count - 1) end
return {grant, count, oldest}
"""

#: Give back ARGV[2] unspent requests reserved at time ARGV[1] (a lease's leftover).
_RELEASE = """
return redis.call('lrem', KEYS[1], tonumber(ARGV[2]), ARGV[1])
"""


@dataclass
class _Lease:
    """A process's reserved, not yet spent requests of one user (and limit)."""

    key: str
    limit: int
    #: requests to reserve next: ``Quota.block(limit)`` at first, doubled on each
    #: reservation ahead (the user keeps spending) up to ``Quota.max_block(limit)``
    size: int
    #: unspent reservations, oldest first: [the time they were reserved at, how many left]
    blocks: deque[list[Any]] = field(default_factory=deque)
    left: int = 0
    #: the window's count after this process's latest reservation (its own included)
    counted: int = 0
    oldest: float = 0.0
    used_at: float = 0.0  # monotonic: the last spend or reservation
    busy: bool = False  # a reservation is on its way (one at a time per lease)
    full: bool = False  # the window had fewer free than asked: no reserving ahead

    def take(self, stamp: str, granted: int, counted: int, oldest: float) -> None:
        if granted > 0:
            self.blocks.append([stamp, granted])
            self.left += granted
        # one reservation at a time per lease: the latest reply is the freshest count
        self.counted = counted
        self.oldest = oldest
        self.full = granted == 0 or counted >= self.limit

    def spend(self) -> None:
        head = self.blocks[0]
        head[1] -= 1
        if head[1] == 0:
            self.blocks.popleft()
        self.left -= 1

    def result(self, allowed: bool, window: float) -> QuotaResult:
        remaining = self.limit - self.counted + self.left if allowed else 0
        return QuotaResult(allowed, self.limit, max(0, remaining), math.ceil(self.oldest + window))


class Quota:
    """Per-user hourly quota by tier (in Redis: leased blocks, see the module's doc)."""

    #: a lease is this share of the hourly limit (FREE 3, PRO 15 requests)
    BLOCK_SHARE = 20
    #: a lease kept busy grows to this share of the hourly limit (FREE 12, PRO 60 requests)
    MAX_BLOCK_SHARE = 5

    def __init__(
        self, redis_url: str | None = None, prefix: str = "tradealerts", lease_seconds: float = 2.0
    ) -> None:
        self._storage = RedisStorage(redis_url, key_prefix=f"{prefix}:quota") if redis_url else None
        self._limiter = MovingWindowRateLimiter(self._storage) if self._storage else None
        self._memory = MemoryWindow()
        self._redis: Any = None
        if redis_url:  # imported only when scaled out: ~7 MB of RSS otherwise (bench_memory)
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self.lease_seconds = lease_seconds
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._wanted: set[str] = set()  # leases to reserve ahead for, by the lease thread
        self._wake = threading.Condition(self._lock)  # the lease thread waits on it
        self._done = threading.Condition(self._lock)  # a reservation came back
        self._thread: threading.Thread | None = None
        self._closed = False
        self._shas: tuple[str, str] | None = None
        self._keys: dict[tuple[int | str, int], str] = {}
        self._per_hour: dict[str, int] = {}  # tier -> limit: limits_for's Tier() cost ~0.7 µs

    @staticmethod
    def block(limit: int) -> int:
        """A new lease's block: requests reserved at a time."""
        return max(1, limit // Quota.BLOCK_SHARE)

    @staticmethod
    def max_block(limit: int) -> int:
        """The largest block a busy lease grows to."""
        return max(1, limit // Quota.MAX_BLOCK_SHARE)

    def ready(self, user_id: int | str, tier: Tier | str) -> bool:
        """Whether ``hit`` answers without waiting for Redis (always, in memory): the event
        loop calls ``hit`` itself only then, and otherwise from a thread, so a user's first
        request (a round trip, 0.5 ms on the busy test machine) does not hold every other."""
        if self._storage is None:
            return True
        per_hour = self._per_hour.get(tier)
        if per_hour is None:
            per_hour = self._per_hour[tier] = limits_for(tier).requests_per_hour
        key = self._keys.get((user_id, per_hour))
        lease = self._leases.get(key) if key is not None else None
        return lease is not None and lease.left > 0

    def hit(self, user_id: int | str, tier: Tier | str) -> QuotaResult:
        """Count one request of ``user_id`` against its tier's hourly limit (may wait for
        Redis: see ``ready``)."""
        per_hour = self._per_hour.get(tier)
        if per_hour is None:
            per_hour = self._per_hour[tier] = limits_for(tier).requests_per_hour
        if self._storage is None:
            # per limit, as limits' keys are: a new tier's limit starts its own count
            allowed, remaining, reset = self._memory.hit(f"{user_id}/{per_hour}", per_hour)
            return QuotaResult(allowed, per_hour, remaining, math.ceil(reset))
        key = self._keys.get((user_id, per_hour))
        if key is None:  # limits' key for the user and limit (its clear() finds it)
            item = RateLimitItemPerHour(per_hour)
            key = self._storage.prefixed_key(item.key_for("data", str(user_id)))
            if len(self._keys) > 100_000:
                self._keys.clear()
            self._keys[(user_id, per_hour)] = key
        window = WINDOW
        with self._lock:
            lease = self._leases.get(key)
            if lease is None:
                lease = self._leases[key] = _Lease(key, per_hour, self.block(per_hour))
                self._start()
            waited = False
            while True:
                if lease.left > 0:
                    lease.spend()
                    lease.used_at = time.monotonic()
                    result = lease.result(True, window)
                    if (
                        lease.left <= lease.size // 2
                        and not lease.busy
                        and not lease.full
                        and not self._closed
                    ):
                        lease.busy = True  # the lease thread reserves the next block
                        self._wanted.add(key)
                        self._wake.notify_all()
                    return result
                if not lease.busy or waited:
                    break
                # the lease thread's reservation is on its way; past 5 s (Redis hanging),
                # this request reserves for itself rather than wait on
                waited = not self._done.wait(5.0)
            lease.busy = True
        # none left here: reserve a block now, in this thread (the request waits for it)
        try:
            stamp = f"{time.time():.6f}"
            want = [(key, stamp, per_hour, window, lease.size)]
            granted, counted, oldest = self._reserve(want)[0]
        except BaseException:
            with self._lock:
                lease.busy = False
                self._done.notify_all()
            raise
        with self._lock:
            lease.busy = False
            self._done.notify_all()
            lease.take(stamp, granted, counted, oldest)
            lease.used_at = time.monotonic()
            if lease.left == 0:
                return lease.result(False, window)
            lease.spend()
            return lease.result(True, window)

    # -- Redis ---------------------------------------------------------------------------------
    def _scripts(self) -> tuple[str, str]:
        if self._shas is None:
            self._shas = (
                self._redis.script_load(_RESERVE),
                self._redis.script_load(_RELEASE),
            )
        return self._shas

    def _run(self, calls: list[tuple[int, str, list[Any]]]) -> list[Any]:
        """``(script, key, args)`` calls (0 reserve, 1 release) in one pipeline."""
        from redis.exceptions import NoScriptError

        for attempt in (0, 1):
            shas = self._scripts()
            pipe = self._redis.pipeline(transaction=False)
            for script, key, args in calls:
                pipe.evalsha(shas[script], 1, key, *args)
            try:
                return list(pipe.execute())
            except NoScriptError:  # a restarted Redis forgot the scripts: load them again
                if attempt:
                    raise
                self._shas = None
        raise AssertionError("unreachable")

    def _reserve(
        self,
        wants: list[tuple[str, str, int, float, int]],
        releases: list[tuple[str, str, int]] | None = None,
    ) -> list[tuple[int, int, float]]:
        releases = releases or []
        calls: list[tuple[int, str, list[Any]]] = [
            (1, key, [stamp, n]) for key, stamp, n in releases
        ]
        calls += [(0, key, [stamp, limit, window, n]) for key, stamp, limit, window, n in wants]
        replies = self._run(calls)[len(releases) :]
        return [(int(g), int(c), float(o)) for g, c, o in replies]

    # -- the lease thread ----------------------------------------------------------------------
    def _start(self) -> None:
        """Start the lease thread (lock held): reserves ahead, gives back idle leftovers."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._leasing, name="quota-leases", daemon=True)
            self._thread.start()

    def _idle(self, now: float, everything: bool) -> list[tuple[str, str, int]]:
        """Take the leftovers of leases unspent for ``lease_seconds`` (lock held)."""
        out: list[tuple[str, str, int]] = []
        for key, lease in list(self._leases.items()):
            if lease.busy or not (everything or now - lease.used_at >= self.lease_seconds):
                continue
            out += [(key, stamp, n) for stamp, n in lease.blocks]
            del self._leases[key]  # the next request starts a fresh lease
        return out

    def _leasing(self) -> None:
        next_sweep = 0.0
        while not self._closed:
            try:
                next_sweep = self._lease_round(next_sweep)
            except Exception:  # never let the thread die: requests would wait on it
                log.exception("quota: the lease thread failed a round")
                time.sleep(0.2)

    def _lease_round(self, next_sweep: float) -> float:
        """Reserve ahead for the leases that asked, give back idle ones; the next sweep."""
        with self._lock:
            if not self._wanted and not self._closed:
                self._wake.wait(self.lease_seconds / 2)
            if self._closed:
                # the leases that asked are not reserved for now: not busy, so close()
                # gives their unspent blocks back (a busy lease is skipped there)
                for key in self._wanted:
                    if key in self._leases:
                        self._leases[key].busy = False
                self._wanted = set()
                self._done.notify_all()
                return next_sweep
            keys, self._wanted = self._wanted, set()
            leases = [self._leases[k] for k in keys if k in self._leases]
            now = time.monotonic()
            releases: list[tuple[str, str, int]] = []
            if now >= next_sweep:
                # not on every wake: under load the thread wakes hundreds of times a
                # second, and a pass looks at every user's lease
                next_sweep = now + self.lease_seconds / 2
                releases = self._idle(now, everything=False)
            for lease in leases:
                # reserving ahead means the user keeps spending: a bigger block next time,
                # fewer trips to Redis (a lease idle for lease_seconds starts over)
                lease.size = min(lease.size * 2, self.max_block(lease.limit))
        stamp = f"{time.time():.6f}"
        wants = [(lease.key, stamp, lease.limit, WINDOW, lease.size) for lease in leases]
        try:
            replies = self._reserve(wants, releases) if wants or releases else []
        except Exception as exc:  # Redis away: requests reserve (and fail) themselves
            log.warning("quota: cannot reserve or release in Redis (%s)", exc)
            replies = []
            time.sleep(0.2)
        with self._lock:
            for lease, reply in zip(leases, replies, strict=False):
                lease.take(stamp, *reply)
            for lease in leases:
                lease.busy = False
                self._done.notify_all()
        return next_sweep

    def close(self) -> None:
        """Give back every unspent reservation (a process stopping): other processes and a
        restart see the user's true count."""
        if self._redis is None:
            return
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(5.0)  # its reservation on the way lands first
        with self._lock:
            releases = self._idle(time.monotonic(), everything=True)
        if releases:
            try:
                self._reserve([], releases)
            except Exception as exc:
                log.warning("quota: unspent reservations not given back (%s)", exc)
        self._redis.close()

    def reset(self, user_id: int | str, tier: Tier | str) -> None:
        """Forget a user's count (after a tier change the new limit starts fresh)."""
        per_hour = limits_for(tier).requests_per_hour
        if self._limiter is None or self._storage is None:
            self._memory.clear(f"{user_id}/{per_hour}")
            return
        item = RateLimitItemPerHour(per_hour)
        with self._lock:
            self._leases.pop(self._storage.prefixed_key(item.key_for("data", str(user_id))), None)
        self._limiter.clear(item, "data", str(user_id))
