"""The API role of a scaled-out ``serve``: reads the bus, keeps the market mirror, hands
alert changes to the engine, beats its heart. Started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.server.alerts.model import Alert
from tradealerts.server.engine.wiring import publish_market
from tradealerts.server.mail import Mailer
from tradealerts.server.scale.bus import EVENTS, MARKET, Publisher, RedisBus, stream_key
from tradealerts.server.scale.mirror import BusFeed, Mirror, event_of
from tradealerts.server.scale.procs import Heartbeat
from tradealerts.server.scale.snapshot import read_snapshot
from tradealerts.server.settings import Settings

__all__ = ["ApiRole", "BusMailer", "RemoteAlerts", "redis_bus", "redis_client"]

log = logging.getLogger("tradealerts.scale")

#: entries read at a time; a full read makes the reader check whether it was trimmed past
_COUNT = 1000


async def redis_lost(
    lost: bool, exc: Exception, logger: logging.Logger, who: str, meanwhile: str
) -> bool:
    """A reader's Redis call failed: said once per outage, not at every retry; waits before
    the retry. Returns the new ``lost``."""
    if not lost:
        logger.warning("%s: lost Redis (%s); %s", who, exc, meanwhile)
    await asyncio.sleep(0.5)
    return True


def redis_client(settings: Settings) -> Any:
    """An asyncio Redis client (bytes in and out; connections are made on first use)."""
    from redis import asyncio as aioredis

    if not settings.redis_url:
        raise ValueError("scale-out needs TRADEALERTS_REDIS_URL")
    return aioredis.Redis.from_url(settings.redis_url, health_check_interval=5)


def redis_bus(settings: Settings) -> RedisBus:
    """The bus of a scaled-out API process (its publisher starts with the lifespan)."""
    client = redis_client(settings)
    publisher = Publisher(client, settings.redis_prefix, settings.bus_maxlen)
    return RedisBus(settings.stream_queue_size, publisher)


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(b: Any) -> str:
    return b.decode() if isinstance(b, bytes) else str(b)


class RemoteAlerts:
    """``app.state.alerts`` of an API process: the engine is elsewhere; a committed change
    goes to it over the bus (routes call this from worker threads)."""

    def __init__(self, bus: RedisBus, loop: asyncio.AbstractEventLoop, beat: Heartbeat) -> None:
        self.bus = bus
        self.loop = loop
        self.beat = beat

    def changed(self, alert: Alert, version: int) -> None:
        self.loop.call_soon_threadsafe(self.bus.change, alert.id)

    def removed(self, alert_id: int) -> None:
        self.loop.call_soon_threadsafe(self.bus.change, alert_id)

    def health(self) -> dict[str, Any]:
        leader = self.beat.leader()
        if leader is None:
            return {
                "status": "no_leader",
                "error": "no engine leads: start tradealerts-server engine",
            }
        return {
            "status": "ok",
            "leader": f"{leader.get('host')}:{leader.get('pid')}",
            "epoch": leader.get("epoch"),
        }

    async def stop(self) -> None:
        return None


class BusMailer(Mailer):
    """The mailer of a scaled-out API process: routes queue mail in the database as ever,
    and ``wake`` (from any thread) tells the leading engine, whose mailer is the one sender
    (several processes reading one queue would send a mail twice)."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        bus: RedisBus,
    ) -> None:
        super().__init__(settings, sessions, clock)
        self.bus = bus
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()  # no sending task here

    def wake(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.bus.mail)


class ApiRole:
    """Everything a scaled-out API process runs besides the routes."""

    def __init__(self, app: FastAPI, settings: Settings, stale_after: float) -> None:
        self.app = app
        self.settings = settings
        bus = app.state.bus
        if not isinstance(bus, RedisBus):
            raise TypeError("a scaled-out app has a RedisBus")
        self.bus = bus
        self.redis = bus.publisher.redis
        self.prefix = settings.redis_prefix
        self.feed = BusFeed()
        self.mirror = Mirror(self.feed, stale_after)
        self.reads = 0
        self.resyncs = 0
        self.beat = Heartbeat(self.redis, self.prefix, self._info)
        self._task: asyncio.Task[None] | None = None
        self._closing = False  # see Publisher: a cancel inside a Redis call can be lost

    def _info(self) -> dict[str, Any]:
        return {
            "role": "api",
            "port": self.settings.port,
            "open_streams": self.bus.open_streams,
            "state": self.mirror.state,
            "epoch": self.feed.epoch,
            "seq": self.feed.seq,
            "lag_seconds": round(self.mirror.bus_lag(), 3),
            "resyncs": self.resyncs,
        }

    async def start(self) -> Mirror:
        """Start publishing, reading and the mirror; returns the mirror (``state.engine``)."""
        loop = asyncio.get_running_loop()
        self.bus.publisher.start()
        # the mirror's ticks and bars become this process's price and bar frames, rendered
        # by the same listener as in embedded mode (Bus.market: local fan-out)
        self.mirror.listeners.append(publish_market(self.bus))
        self.app.state.alerts = RemoteAlerts(self.bus, loop, self.beat)
        self._task = asyncio.create_task(self._read(), name="tradealerts-bus-reader")
        await self.mirror.start()
        self.beat.start()
        return self.mirror

    async def stop(self) -> None:
        self._closing = True
        await self.beat.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2.0)
        await self.bus.publisher.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.redis.aclose()

    async def _last_id(self, key: str) -> str:
        top = await self.redis.xrevrange(key, count=1)
        return _text(top[0][0]) if top else "0-0"

    async def _read(self) -> None:
        """Read ``bus:market`` and ``bus:events`` for ever, reconnecting after any failure."""
        mkey = stream_key(self.prefix, MARKET)
        ekey = stream_key(self.prefix, EVENTS)
        events_pos: str | None = None
        market_pos = "0-0"
        lost = False
        while not self._closing:
            try:
                if events_pos is None:
                    events_pos = await self._last_id(ekey)
                if self.feed.snapshot is None:
                    snap = await read_snapshot(self.redis, self.prefix)
                    if snap is not None:
                        self.feed.load(snap)
                        market_pos = f"{snap.epoch}-{snap.seq}"
                        self.resyncs += 1
                streams = {ekey: events_pos}
                if self.feed.snapshot is not None:
                    streams[mkey] = market_pos
                got = await self.redis.xread(streams, count=_COUNT, block=1000)
                self.feed.connected = True
                if lost:
                    # entries may have gone with the connection (or Redis itself): every
                    # stream reads the log after its last id; the mirror reloads
                    log.info("bus: reading Redis again; streams catch up from the log")
                    lost = False
                    self.bus.wake_all()
                    self.mirror.resync()
                for key, entries in got or ():
                    if _text(key) == mkey:
                        if self.feed.snapshot is None:
                            continue  # reloading: these come again after the new snapshot
                        market_pos = self._market(entries, market_pos)
                    else:
                        events_pos = await self._events(ekey, entries, events_pos)
                if self.feed.snapshot is None:
                    await asyncio.sleep(0.2)  # no snapshot (yet): do not spin
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.feed.connected = False
                lost = await redis_lost(lost, exc, log, "bus", "reconnecting")

    def _market(self, entries: list[Any], pos: str) -> str:
        """Hand the frames of ``bus:market`` entries to the mirror, checking every seq."""
        for entry_id, fields in entries:
            eid = _text(entry_id)
            epoch = int(eid.partition("-")[0])
            seq = int(fields[b"s"])
            for frame in json.loads(fields[b"f"]):
                event = event_of(frame["k"], frame["d"])
                if not self.feed.offer(epoch, seq, event, float(frame.get("t", 0))):
                    # trimmed past us, or a new leader: start again from its snapshot
                    log.info("bus: market frame %d-%d is not the next one; reloading", epoch, seq)
                    self.mirror.resync()
                    return pos
                seq += 1
            pos = eid
        return pos

    async def _events(self, key: str, entries: list[Any], pos: str) -> str:
        if len(entries) == _COUNT:
            first = await self.redis.xrange(key, count=1)
            if first and _id(_text(first[0][0])) > _id(pos):
                self.bus.wake_all()  # trimmed past what we read: the log has it all
        for entry_id, fields in entries:
            f = {_text(k): _text(v) for k, v in fields.items()}
            user_id = int(f["u"])
            if f["k"] == "alert":
                frames = [(int(i), str(t)) for i, t in json.loads(f["f"])] if f["f"] else None
                self.bus.deliver_alert(user_id, frames)
            elif f["k"] == "tier":
                self.app.state.callers.forget(user_id)
                self.bus.deliver_tier(user_id, f["t"])
            elif f["k"] == "alerts":
                self.bus.deliver_alerts_changed(user_id, [int(i) for i in json.loads(f["a"])])
            pos = _text(entry_id)
        return pos
