"""The Redis Streams bus: ``Publisher`` (ordered, pipelined ``XADD``) and ``RedisBus``.

Streams, under ``REDIS_PREFIX`` (see docs/architecture.md, "Scale-out"):

- ``bus:market``  the leader's price and bar frames, ids ``<epoch>-<seq>``;
- ``bus:events``  ``alert`` (user, the committed frames), ``tier`` (user, tier) and
  ``alerts`` (user, the alert ids changed) entries;
- ``bus:changes`` alert ids changed through the API, mail queued, and series whose MT5
  indicator values were stored (``i``), for the engine.

Redis only carries: alert frames are in the database's event log before they are published,
and a stream resumes from that log, so an entry lost to a Redis restart or a trim costs a
read of the log, never an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

from tradealerts.server.events import AlertFrame, Bus

__all__ = ["CHANGES", "EVENTS", "MARKET", "Publisher", "RedisBus", "stream_key"]

log = logging.getLogger("tradealerts.bus")

MARKET = "bus:market"
EVENTS = "bus:events"
CHANGES = "bus:changes"

#: entries sent in one pipeline (one round trip)
_BATCH = 2000


def stream_key(prefix: str, name: str) -> str:
    """The Redis key of one of the bus's streams."""
    return f"{prefix}:{name}"


class Publisher:
    """Appends entries to the bus's streams in the order given, from one task.

    ``add`` is called on the event loop and never waits: entries queue and go out in
    pipelines, so a burst costs one round trip. While Redis is away, market entries are
    dropped (live only: readers see the gap in the ids and reload the snapshot) and the rest
    wait, oldest dropped past ``maxlen`` (streams then read the log on reconnecting)."""

    def __init__(self, redis: Any, prefix: str, maxlen: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.maxlen = maxlen
        self.sent = 0
        self.failed = 0
        self.refused = 0
        self._queue: deque[tuple[str, dict[str, str], str]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._down = False
        # a flag as well as cancellation: redis-py can lose a cancel that lands in a call
        self._closing = False

    def add(self, stream: str, fields: dict[str, str], entry_id: str = "*") -> None:
        """Queue one entry for ``stream`` (a name such as ``MARKET``). Event loop only."""
        self._queue.append((stream, fields, entry_id))
        if len(self._queue) > 4 * self.maxlen:
            self._queue.popleft()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tradealerts-bus-publisher")

    async def stop(self, drain_seconds: float = 2.0) -> None:
        """Send what is queued (for up to ``drain_seconds``), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_seconds):
                while self._queue and not self._down:
                    await asyncio.sleep(0.01)
        self._closing = True
        self._wake.set()
        self._task.cancel()
        await asyncio.wait({self._task}, timeout=1.0)
        self._task = None

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._closing:
                batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
                try:
                    await self._send(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.failed += 1
                    if not self._down:
                        log.warning("bus: cannot write to Redis (%s); retrying", exc)
                    self._down = True
                    # live frames are not kept; alert, tier and change entries are
                    self._queue.extendleft(reversed([e for e in batch if e[0] != MARKET]))
                    await asyncio.sleep(0.5)
                    continue
                if self._down:
                    log.info("bus: writing to Redis again")
                self._down = False

    async def _send(self, batch: list[tuple[str, dict[str, str], str]]) -> None:
        batch = _pack_market(batch)
        pipe = self.redis.pipeline(transaction=False)
        for stream, fields, entry_id in batch:
            pipe.xadd(
                stream_key(self.prefix, stream),
                fields,
                id=entry_id,
                maxlen=self.maxlen,
                approximate=True,
            )
        results = await pipe.execute(raise_on_error=False)
        refused: list[str] = []
        for (stream, _f, entry_id), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                if isinstance(result, ConnectionError | OSError) or "connect" in str(result):
                    raise result
                # an old leader's market id below the new leader's: refused, as it should be
                refused.append(f"{stream} {entry_id}: {result}")
            else:
                self.sent += 1
        if refused:
            self.refused += len(refused)
            log.warning("bus: %d entries refused, the first: %s", len(refused), refused[0])


def _pack_market(
    batch: list[tuple[str, dict[str, str], str]],
) -> list[tuple[str, dict[str, str], str]]:
    """Consecutive market frames of one leader become one entry: ``s`` the first seq, ``f``
    the frames' fields as a JSON list, the id ``<epoch>-<last seq>``. One ``XADD`` per
    burst (a tick of 15 symbols, a bar close) instead of one per frame: the bus's cost is
    per entry, and a reader still sees a gap from ``s`` alone."""
    out: list[tuple[str, dict[str, str], str]] = []
    group: list[dict[str, str]] = []
    epoch = first = last = -1

    def flush() -> None:
        if group:
            fields = {"s": str(first), "f": json.dumps(group, separators=(",", ":"))}
            out.append((MARKET, fields, f"{epoch}-{last}"))
            group.clear()

    for stream, fields, entry_id in batch:
        if stream != MARKET or entry_id == "*":
            flush()
            out.append((stream, fields, entry_id))
            continue
        e, _, s = entry_id.partition("-")
        if int(e) != epoch or int(s) != last + 1 or len(group) >= 500:
            flush()
            epoch, first = int(e), int(s)
        last = int(s)
        group.append(fields)
    flush()
    return out


class RedisBus(Bus):
    """The ``Bus`` of a scaled-out process. Streams subscribe here as in embedded mode; an
    ``alert`` or ``tier`` event goes to Redis, and every API process (this one too) hands it
    to its own streams when it reads it back (``deliver_alert`` / ``deliver_tier``). Price and
    bar frames are fanned out locally: an API process makes them from its market mirror."""

    def __init__(self, queue_size: int, publisher: Publisher) -> None:
        super().__init__(queue_size)
        self.publisher = publisher

    def alert(self, user_id: int, frames: list[AlertFrame] | None = None) -> None:
        self.publisher.add(
            EVENTS,
            {"k": "alert", "u": str(user_id), "f": "" if frames is None else json.dumps(frames)},
        )

    def tier(self, user_id: int, tier: str) -> None:
        self.publisher.add(EVENTS, {"k": "tier", "u": str(user_id), "t": tier})

    def alerts_changed(self, user_id: int, ids: list[int]) -> None:
        self.publisher.add(EVENTS, {"k": "alerts", "u": str(user_id), "a": json.dumps(ids)})

    def change(self, alert_id: int) -> None:
        """An alert changed through this process's API: the engine re-reads it."""
        self.publisher.add(CHANGES, {"a": str(alert_id)})

    def ingested(self, symbol: str, timeframe: str) -> None:
        """The bridge's values of a series were stored through this process: the leading
        engine reads them from the database and draws them (the database keeps them)."""
        self.publisher.add(CHANGES, {"i": f"{symbol}:{timeframe}"})

    def mail(self) -> None:
        """Mail was queued through this process: the leading engine's mailer sends it."""
        self.publisher.add(CHANGES, {"m": "1"})

    def deliver_alert(self, user_id: int, frames: list[AlertFrame] | None) -> None:
        Bus.alert(self, user_id, frames)

    def deliver_tier(self, user_id: int, tier: str) -> None:
        Bus.tier(self, user_id, tier)

    def deliver_alerts_changed(self, user_id: int, ids: list[int]) -> None:
        Bus.alerts_changed(self, user_id, ids)

    def wake_all(self) -> None:
        """Every open stream reads the log after its last id (entries may have been lost)."""
        for user_id in [u for u, subs in self._by_user.items() if subs]:
            Bus.alert(self, user_id, None)
