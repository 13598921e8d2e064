"""The leader's market snapshot in Redis, from which an API process builds its mirror.

``snap:meta`` (JSON): epoch, seq (the snapshot is the state after the leader's event number
``seq``), and per series its version, tick version, ``updated_at`` and forming bar, plus the
last tick of each symbol. ``snap:bars`` (a hash, field ``SYMBOL:TF``): the series' closed
bars as raw little-endian columns behind a (version, count) header, rewritten only when the
version moved. Both are written in one ``MULTI``, so a reader never sees them disagree.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.engine.market import MarketState
from tradealerts.server.feeds import Tick

__all__ = ["Snapshot", "SnapshotWriter", "StaleLeader", "read_snapshot"]

_HEADER = struct.Struct("<qq")  # version, closed bars


#: one script, so the check and the writes are atomic: an old leader that wakes up can never
#: put its market over a later leader's
_WRITE = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return 1
"""


class StaleLeader(Exception):
    """A later leader has written its snapshot: this engine no longer leads."""


def _epoch_key(prefix: str) -> str:
    return f"{prefix}:snap:epoch"


def _meta_key(prefix: str) -> str:
    return f"{prefix}:snap:meta"


def _bars_key(prefix: str) -> str:
    return f"{prefix}:snap:bars"


def _encode(bars: Bars, version: int) -> bytes:
    cols = [bars.time.astype("<i8"), *(c.astype("<f8") for c in (
        bars.open, bars.high, bars.low, bars.close, bars.volume))]  # fmt: skip
    return _HEADER.pack(version, len(bars)) + b"".join(c.tobytes() for c in cols)


def _decode(blob: bytes, forming: Bar | None) -> tuple[int, Bars]:
    version, n = _HEADER.unpack_from(blob)
    off = _HEADER.size
    t = np.frombuffer(blob, "<i8", n, off).astype(np.int64)
    off += 8 * n
    cols = []
    for _ in range(5):
        cols.append(np.frombuffer(blob, "<f8", n, off).astype(np.float64))
        off += 8 * n
    o, h, lo, c, v = cols
    return version, Bars(t, o, h, lo, c, v, forming=forming)


def _bar(d: dict[str, Any] | None) -> Bar | None:
    if d is None:
        return None
    return Bar(int(d["time"]), d["open"], d["high"], d["low"], d["close"], d["volume"])


@dataclass
class Snapshot:
    """A leader's market as of its event ``seq``."""

    epoch: int
    seq: int
    bars: dict[tuple[str, Timeframe], Bars]
    #: (version, tick_version, updated_at) per series
    versions: dict[tuple[str, Timeframe], tuple[int, int, float]]
    last_tick: dict[str, Tick]


class SnapshotWriter:
    """Takes the snapshot on the engine's loop (between two events) and writes it."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._written: dict[tuple[str, Timeframe], int] = {}
        self.writes = 0

    def capture(
        self, market: MarketState, epoch: int, seq: int
    ) -> tuple[bytes, dict[str, bytes], dict[tuple[str, Timeframe], int]]:
        """(meta, changed series' blobs, their versions) as of now. Synchronous on purpose:
        nothing can move the market while it runs."""
        series, blobs, versions = [], {}, {}
        for (sym, tf), st in market.series.items():
            f = st.bars.forming
            series.append({
                "s": sym, "tf": tf.value, "v": st.version, "tv": st.tick_version,
                "u": st.updated_at, "f": None if f is None else f.as_dict(),
            })  # fmt: skip
            if self._written.get((sym, tf)) != st.version:
                blobs[f"{sym}:{tf.value}"] = _encode(st.bars, st.version)
                versions[(sym, tf)] = st.version
        ticks = {s: [t.time, t.bid, t.ask] for s, t in market.last_tick.items()}
        meta = json.dumps({"epoch": epoch, "seq": seq, "series": series, "ticks": ticks})
        return meta.encode(), blobs, versions

    async def write(self, market: MarketState, epoch: int, seq: Callable[[], int]) -> None:
        """Capture (at ``seq()``, read at the moment of capture) and write; after a Redis
        restart (no meta key) every series is rewritten."""
        if not await self.redis.exists(_meta_key(self.prefix)):
            self._written.clear()
        meta, blobs, versions = self.capture(market, epoch, seq())
        args: list[Any] = [epoch, meta]
        for k, v in blobs.items():
            args += [k, v]
        keys = [_epoch_key(self.prefix), _meta_key(self.prefix), _bars_key(self.prefix)]
        if not await self.redis.eval(_WRITE, 3, *keys, *args):
            raise StaleLeader(f"a later leader's snapshot is in Redis (this one led epoch {epoch})")
        self._written.update(versions)
        self.writes += 1


async def read_snapshot(redis: Any, prefix: str) -> Snapshot | None:
    """The latest snapshot, or None when no leader has written one (or it is incomplete)."""
    pipe = redis.pipeline(transaction=True)
    pipe.get(_meta_key(prefix))
    pipe.hgetall(_bars_key(prefix))
    raw, blobs = await pipe.execute()
    if raw is None:
        return None
    meta = json.loads(raw)
    out = Snapshot(int(meta["epoch"]), int(meta["seq"]), {}, {}, {})
    for item in meta["series"]:
        key = (item["s"], Timeframe(item["tf"]))
        blob = blobs.get(f"{item['s']}:{item['tf']}".encode())
        if blob is None:
            return None
        version, bars = _decode(blob, _bar(item["f"]))
        if version != item["v"]:
            return None
        out.bars[key] = bars
        out.versions[key] = (int(item["v"]), int(item["tv"]), float(item["u"]))
    out.last_tick = {s: Tick(s, t, b, a) for s, (t, b, a) in meta["ticks"].items()}
    return out
