"""``tradealerts-server engine``: the market side of a scaled-out deployment.

Waits as a standby until it holds the lease, then runs the feed, the market, the indicators,
the matcher and the event log's writes (each commit fenced by the lease's epoch), publishes
the market and the fires on the bus, writes the market snapshot, and applies alert changes
the API processes send. With ``--lines-source mt5`` it also draws the owner's lines: the API
processes store the bridge's posts in the database and say so on ``bus:changes``; the leader
reads what arrived (and on a timer, and after losing Redis), applies it, and publishes each
series' changed values as a ``lines`` market entry, so every mirror redraws in step. A new
leader loads every stored value from the database before its first event. Exit status: 0
after a clean stop, 3 when the lease was lost (a supervisor restarts it, as a standby).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tradealerts.core.indicators import IndicatorChanges
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.alerts.guard import WebhookGuard, system_resolver
from tradealerts.server.alerts.runtime import AlertRuntime
from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.engine import Engine, MarketState, wiring
from tradealerts.server.engine.owner_lines import OwnerLines, Row
from tradealerts.server.feeds import BarClose, Tick, create_feed
from tradealerts.server.incidents.setup import start_monitor
from tradealerts.server.ingest.store import received_since
from tradealerts.server.mail import Mailer
from tradealerts.server.scale.api import redis_client, redis_lost
from tradealerts.server.scale.bus import CHANGES, MARKET, Publisher, RedisBus, stream_key
from tradealerts.server.scale.lease import Lease, LeaseLost
from tradealerts.server.scale.mirror import values_data
from tradealerts.server.scale.procs import Heartbeat, identity, read_procs
from tradealerts.server.scale.snapshot import SnapshotWriter, StaleLeader
from tradealerts.server.settings import Settings

__all__ = ["LEASE_LOST", "MarketPublisher", "run_engine"]

log = logging.getLogger("tradealerts.engine")

#: the exit status of an engine that lost its lease
LEASE_LOST = 3


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MarketPublisher:
    """The leader's listener: every feed event as a ``bus:market`` entry ``<epoch>-<seq>``.

    The frame data is the embedded mode's (``engine.wiring.publish_market``); a bar entry
    also carries the series' versions after it (``v``, ``tv``)."""

    def __init__(self, publisher: Publisher, epoch: int) -> None:
        self.publisher = publisher
        self.epoch = epoch
        self.seq = 0
        self._offset = False

    def offset_versions(self, market: MarketState) -> None:
        """Number this leader's tick versions from ``(epoch - 1) << 32``: an ETag of an
        earlier leader never names a body of this one (epoch 1 numbers as embedded mode)."""
        if self._offset or not market.series:
            return
        self._offset = True
        for st in market.series.values():
            st.tick_version += (self.epoch - 1) << 32

    def listener(
        self, market: MarketState
    ) -> Callable[[Tick | BarClose, IndicatorChanges | None], None]:
        def listen(event: Tick | BarClose, _changes: object) -> None:
            self.offset_versions(market)  # no-op once done (here if the load came late)
            self.seq += 1
            fields: dict[str, str]
            if isinstance(event, Tick):
                data: dict[str, Any] = {
                    "symbol": event.symbol, "time": event.time, "bid": event.bid,
                    "ask": event.ask,
                }  # fmt: skip
                fields = {"k": "price", "d": json.dumps(data, separators=(",", ":"))}
            else:
                data = event.as_dict()
                fields = {"k": "bar", "d": json.dumps(data, separators=(",", ":"))}
                st = market.series.get((event.symbol, event.timeframe))
                if st is not None:
                    fields["v"], fields["tv"] = str(st.version), str(st.tick_version)
            fields["t"] = f"{time.time():.3f}"
            self.publisher.add(MARKET, fields, f"{self.epoch}-{self.seq}")

        return listen

    def owner_values(self, symbol: str, tf: Timeframe, rows: dict[int, Row], at: float) -> None:
        """The bridge's values the leader just applied to one series, as a ``lines`` entry
        (in the stream's order: a mirror applies them between the same two events)."""
        self.seq += 1
        fields = {"k": "lines", "d": values_data(symbol, tf, rows, at), "t": f"{time.time():.3f}"}
        self.publisher.add(MARKET, fields, f"{self.epoch}-{self.seq}")


#: how far back each read of the bridge's stored values starts before the newest it saw:
#: API processes on other machines stamp ``received_at`` by their own clocks
_SKEW = timedelta(seconds=5)
#: a read every this many seconds even when no ``bus:changes`` entry says so (one lost with
#: a Redis restart)
_OWNER_POLL = 5.0


def _stored_since(sessions: Any, since: datetime | None) -> list[Any]:
    with sessions() as s:
        return received_since(s, None if since is None else since - _SKEW, _any_series)


def _any_series(_symbol: str, _timeframe: str) -> bool:
    return True


async def _owner_sync(
    sessions: Any,
    owner: OwnerLines,
    pub: MarketPublisher,
    wake: asyncio.Event,
    halt: asyncio.Event,
) -> None:
    """The bridge's values other processes stored: applied, then published per series."""
    while not halt.is_set():
        await _either(wake, halt, _OWNER_POLL)
        wake.clear()
        if halt.is_set():
            return
        try:
            rows = await asyncio.to_thread(_stored_since, sessions, owner.synced_since)
        except Exception as exc:
            log.warning("owner lines: the stored values not read (%s); retrying", exc)
            continue
        # applied and published in one step of the loop: no event, and no snapshot, between
        for (sym, tf), (changed, at) in owner.take_stored(rows).items():
            pub.owner_values(sym, tf, changed, at)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop``; True when stopped. (Not ``wait_for``: before
    Python 3.12 it could swallow the task's cancellation, and a cancelled snapshot writer
    went on writing the old leader's market.)"""
    await _either(stop, stop, seconds)
    return stop.is_set()


async def _renew(lease: Lease, lost: asyncio.Event, stop: asyncio.Event) -> None:
    every = min(1.0, lease.ttl / 3)
    while not await _wait(stop, every):
        try:
            if not await asyncio.to_thread(lease.renew):
                lost.set()
                return
        except Exception as exc:  # the database is away: fencing still guards every write
            log.warning("engine lease not renewed (%s); retrying", exc)


async def _snapshots(
    writer: SnapshotWriter,
    market: MarketState,
    epoch: int,
    seq: Callable[[], int],
    every: float,
    halt: asyncio.Event,
    lost: asyncio.Event,
) -> None:
    while not halt.is_set():
        if market.series:
            try:
                await writer.write(market, epoch, seq)
            except StaleLeader as exc:  # a later leader wrote its own: this one is fenced
                log.error("engine: %s", exc)
                lost.set()
                return
            except Exception as exc:
                log.warning("market snapshot not written (%s); retrying in %gs", exc, every)
        if await _wait(halt, every):
            return


async def _changes(
    redis: Any,
    key: str,
    runtime: AlertRuntime,
    mailer: Mailer,
    halt: asyncio.Event,
    owner_wake: asyncio.Event | None = None,
) -> None:
    """Alert changes from the API processes: each read runs the change-feed sync at once;
    a ``m`` entry (mail queued) wakes the mailer, an ``i`` entry (the bridge's values
    stored) the owner lines' sync."""
    pos: str | None = None
    lost = False
    # (a flag as well as cancellation: a cancel that lands inside a Redis call can be lost)
    while not halt.is_set():
        try:
            if pos is None:
                top = await redis.xrevrange(key, count=1)
                pos = top[0][0].decode() if top else "0-0"
            got = await redis.xread({key: pos}, count=1000, block=1000)
            entries = got[0][1] if got else []
            if entries:
                pos = entries[-1][0].decode()
            if any(b"m" in fields for _id, fields in entries):
                mailer.wake()
            if owner_wake is not None and (lost or any(b"i" in f for _id, f in entries)):
                owner_wake.set()
            if lost or any(b"a" in fields for _id, fields in entries):
                lost = False
                await asyncio.to_thread(runtime.sync)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            lost = await redis_lost(lost, exc, log, "alert changes", "the table is read meanwhile")


async def run_engine(settings: Settings, stop: asyncio.Event) -> int:
    """Stand by, lead while the lease holds, then stop; returns the exit status."""
    db = make_engine(settings.db_url)
    upgrade(db)
    sessions = make_sessionmaker(db)
    redis = redis_client(settings)
    prefix = settings.redis_prefix
    lease = Lease(sessions, identity(), settings.lease_seconds)
    info: dict[str, Any] = {"role": "standby", "feed": settings.feed}
    beat = Heartbeat(redis, prefix, lambda: info)
    beat.start()
    try:
        log.info("engine standing by for the lease (%s)", lease.holder)
        while True:
            try:
                if await asyncio.to_thread(lease.try_acquire):
                    break
            except Exception as exc:
                log.warning("engine lease: database not answering (%s)", exc)
            if await _wait(stop, 0.5):
                return 0
        return await _lead(settings, stop, sessions, redis, lease, info)
    finally:
        await beat.stop()
        await redis.aclose()
        db.dispose()


async def _lead(
    settings: Settings,
    stop: asyncio.Event,
    sessions: Any,
    redis: Any,
    lease: Lease,
    info: dict[str, Any],
) -> int:
    took = time.monotonic()
    epoch = lease.epoch or 0
    loop = asyncio.get_running_loop()
    lost = asyncio.Event()
    origin, ours = await asyncio.to_thread(lease.feed_origin, time.time())
    options = wiring.feed_options(settings)
    if not ours:
        options.replay_origin = origin  # a replay goes on where the timeline is now
    feed = create_feed(settings.feed, options)
    market = Engine(
        feed, history_bars=settings.history_for_feed(), stale_after=wiring.stale_after(settings)
    )
    publisher = Publisher(redis, settings.redis_prefix, settings.bus_maxlen)
    publisher.start()
    bus = RedisBus(settings.stream_queue_size, publisher)
    mailer = Mailer(settings, sessions, _utc_now)  # the deployment's one mail sender
    mailer.start()
    runtime = AlertRuntime(settings, sessions, bus, _utc_now, mailer)

    def fence(conn: Any) -> None:
        try:
            lease.fence(conn)
        except LeaseLost as exc:
            log.error("engine fenced: %s", exc)
            loop.call_soon_threadsafe(lost.set)
            raise

    runtime.fence = fence
    owner: OwnerLines | None = None
    if settings.lines.uses_mt5:
        # every value the bridge ever sent, before the first event: nothing is lost to a
        # fail-over or a Redis restart (the API processes store each post first)
        owner = OwnerLines(settings.buffer_map, settings.lines, spec=settings.lines_source)
        await asyncio.to_thread(wiring.load_owner_lines, owner, sessions)
        market.market.make_indicators = owner.indicators
        owner.market = market.market
    count = await asyncio.to_thread(runtime.load)
    runtime.webhooks.guard = WebhookGuard.from_settings(settings, system_resolver)
    runtime.pushes.guard = runtime.webhooks.guard
    market.listeners.append(runtime.listener(market.market))
    runtime.backpressure(market)
    pub = MarketPublisher(publisher, epoch)
    market.listeners.append(pub.listener(market.market))
    await market.start()
    pub.offset_versions(market.market)  # before any event: the task has not run yet
    runtime.start()
    info.update(role="leader", epoch=epoch)
    wiring.settle_gc()  # the market and the book are loaded: as ``serve`` does
    writer = SnapshotWriter(redis, settings.redis_prefix, owner)
    halt = asyncio.Event()  # set when leading ends: the helper tasks' loops stop
    owner_wake = asyncio.Event()  # the bridge's values were stored: read them

    def status() -> dict[str, Any]:
        out = {
            "role": "leader", "epoch": epoch, "feed": settings.feed, "state": market.state,
            "events": market.events, "seq": pub.seq, "alerts": runtime.health()["status"],
            "fired": runtime.fired, "bus_waiting": publisher.waiting,
            "lag_seconds": round(market.lag, 6),
        }  # fmt: skip
        if owner is not None:
            out["lines"] = owner.health()  # per series: when the bridge last sent
        return out

    info.clear()
    info.update(status())
    standbys: dict[str, int | None] = {"alive": None}
    incidents = start_monitor(
        settings, sessions, _utc_now, engine=market, alerts=runtime, owner=owner,
        wake_mail=mailer.wake, standbys=lambda: standbys["alive"], epoch=epoch,
    )  # fmt: skip
    tasks = [
        asyncio.create_task(_renew(lease, lost, halt)),
        asyncio.create_task(
            _snapshots(
                writer,
                market.market,
                epoch,
                lambda: pub.seq,
                settings.snapshot_seconds,
                halt,
                lost,
            )
        ),
        asyncio.create_task(
            _changes(
                redis, stream_key(settings.redis_prefix, CHANGES), runtime, mailer, halt,
                owner_wake,
            )
        ),
    ]  # fmt: skip
    tasks.append(asyncio.create_task(_count_standbys(redis, settings, standbys, halt)))
    if owner is not None:
        tasks.append(asyncio.create_task(_owner_sync(sessions, owner, pub, owner_wake, halt)))
    log.info(
        "engine leading: epoch %d, %s feed %s, %d series, %d active alerts, ready %.2f s after "
        "taking the lease",
        epoch, settings.feed, market.state, len(market.market.series), count,
        time.monotonic() - took,
    )  # fmt: skip
    try:
        while not stop.is_set() and not lost.is_set():
            info.clear()
            info.update(status())
            await _either(stop, lost, 1.0)
    finally:
        halt.set()
        status_code = LEASE_LOST if lost.is_set() else 0
        if lost.is_set():
            log.error("engine lease lost: epoch %d no longer leads; stopping", epoch)
            lease.epoch = None  # every later write is refused by the fence too
        await incidents.stop()
        closing = asyncio.ensure_future(
            _close(tasks, runtime, market, publisher, mailer, lease, lost.is_set())
        )
        done, _ = await asyncio.wait({closing}, timeout=10.0)
        if not done:
            # a part that does not stop must not keep a fenced (or stopping) engine alive
            log.error("engine did not stop within 10 s; exiting now")
            logging.shutdown()
            os._exit(status_code)
    return LEASE_LOST if lost.is_set() else 0


async def _count_standbys(
    redis: Any, settings: Settings, out: dict[str, int | None], halt: asyncio.Event
) -> None:
    """The standby engines alive now, for the owner's alerts (``incident_standbys``)."""
    while not halt.is_set():
        try:
            procs = await read_procs(redis, settings.redis_prefix)
            out["alive"] = sum(
                1 for p in procs.values() if p.get("role") == "standby" and p.get("alive")
            )
        except Exception as exc:  # Redis away: unknown, not "none"
            log.warning("engine: standbys not counted (%s)", type(exc).__name__)
            out["alive"] = None
        if await _wait(halt, max(1.0, settings.incident_check_seconds)):
            return


async def _close(
    tasks: list[asyncio.Task[None]],
    runtime: AlertRuntime,
    market: Engine,
    publisher: Publisher,
    mailer: Mailer,
    lease: Lease,
    lost: bool,
) -> None:
    """Stop the leader's parts in order; release the lease after a clean stop."""
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runtime.stop(drain_seconds=0.0 if lost else 5.0)
    await market.stop()
    await publisher.stop(0.0 if lost else 2.0)
    await mailer.stop()
    if not lost:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(lease.release)


async def _either(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    """Wait until ``a`` or ``b`` is set, at most ``timeout`` seconds."""
    waiters = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
