"""The leader's market snapshot in Redis, from which an API process builds its mirror.

``snap:meta`` (JSON): epoch, seq (the snapshot is the state after the leader's event number
``seq``), and per series its version, tick version, ``updated_at`` and forming bar, plus the
last tick of each symbol. ``snap:bars`` (a hash, field ``SYMBOL:TF``): the series' closed
bars as raw little-endian columns behind a (version, count) header, rewritten only when the
version moved. Both are written in one ``MULTI``, so a reader never sees them disagree.

When the leader draws some series from the owner's MT5 buffers, the meta also holds its lines
source and buffer map (``owner``), and per series when the bridge last sent (``ls``) and the
revision of its buffer values (``ov``); the values themselves are in ``snap:bars`` under
``owner:SYMBOL:TF`` (zlib'd JSON behind the same header), rewritten when the revision moved.
A mirror built from the snapshot then draws exactly what the leader drew at ``seq``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.timeframes import UTC_CLOCK, BarClock, Timeframe
from tradealerts.server.engine.market import MarketState
from tradealerts.server.engine.owner_lines import OwnerLines, Row
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


def _encode_values(rows: dict[int, Row], revision: int) -> bytes:
    data = [[t, [[b, v] for b, v in row.items()]] for t, row in sorted(rows.items())]
    raw = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    return _HEADER.pack(revision, len(rows)) + zlib.compress(raw, 1)


def _decode_values(blob: bytes) -> tuple[int, dict[int, Row]]:
    revision, _n = _HEADER.unpack_from(blob)
    data = json.loads(zlib.decompress(blob[_HEADER.size :]))
    return revision, {int(t): {int(b): v for b, v in row} for t, row in data}


@dataclass
class Snapshot:
    """A leader's market as of its event ``seq``."""

    epoch: int
    seq: int
    bars: dict[tuple[str, Timeframe], Bars]
    #: (version, tick_version, updated_at) per series
    versions: dict[tuple[str, Timeframe], tuple[int, int, float]]
    last_tick: dict[str, Tick]
    #: the leader's lines source and buffer map (``OwnerLines.config``); None: all computed
    owner: dict[str, Any] | None = None
    #: the owner's buffer values of the ``mt5`` series, and when the bridge last sent
    values: dict[tuple[str, Timeframe], dict[int, Row]] | None = None
    last_sent: dict[tuple[str, Timeframe], float] | None = None
    #: the leader's bar clock (the terminal's, with MT5 ``auto``): mirrors build the forming
    #: bar on it
    clock: BarClock = UTC_CLOCK


class SnapshotWriter:
    """Takes the snapshot on the engine's loop (between two events) and writes it."""

    def __init__(self, redis: Any, prefix: str, owner: OwnerLines | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.owner = owner
        self._written: dict[str, int] = {}
        self.writes = 0

    def capture(
        self, market: MarketState, epoch: int, seq: int
    ) -> tuple[bytes, dict[str, bytes], dict[str, int]]:
        """(meta, changed series' blobs, their versions) as of now. Synchronous on purpose:
        nothing can move the market while it runs."""
        series, blobs, versions = [], {}, {}
        owner = self.owner
        for (sym, tf), st in market.series.items():
            f = st.bars.forming
            item: dict[str, Any] = {
                "s": sym, "tf": tf.value, "v": st.version, "tv": st.tick_version,
                "u": st.updated_at, "f": None if f is None else f.as_dict(),
            }  # fmt: skip
            series.append(item)
            field = f"{sym}:{tf.value}"
            if self._written.get(field) != st.version:
                blobs[field] = _encode(st.bars, st.version)
                versions[field] = st.version
            if owner is not None and owner.wanted(sym, tf.value):
                rev = owner.revision.get((sym, tf), 0)
                item["ov"] = rev
                if self._written.get("owner:" + field) != rev:
                    blobs["owner:" + field] = _encode_values(owner.values.get((sym, tf), {}), rev)
                    versions["owner:" + field] = rev
        ticks = {s: [t.time, t.bid, t.ask] for s, t in market.last_tick.items()}
        c = market.clock
        data: dict[str, Any] = {
            "epoch": epoch, "seq": seq, "series": series, "ticks": ticks,
            "clock": [c.name, c.offset, c.zone, c.shift, [list(x) for x in c.changes]],
        }  # fmt: skip
        if owner is not None:
            data["owner"] = owner.config()
            data["sent"] = {f"{s}:{tf.value}": at for (s, tf), at in owner.last_sent.items()}
        return json.dumps(data).encode(), blobs, versions

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
        if "ov" in item:
            blob = blobs.get(f"owner:{item['s']}:{item['tf']}".encode())
            if blob is None:
                return None
            revision, rows = _decode_values(blob)
            if revision != item["ov"]:
                return None
            out.values = out.values or {}
            out.values[key] = rows
    out.last_tick = {s: Tick(s, t, b, a) for s, (t, b, a) in meta["ticks"].items()}
    if meta.get("clock") is not None:
        name, offset, zone, shift, changes = meta["clock"]
        out.clock = BarClock(name, int(offset), zone, int(shift), tuple(map(tuple, changes)))
    if meta.get("owner") is not None:
        out.owner = meta["owner"]
        out.values = out.values or {}
        out.last_sent = {}
        for name, at in meta.get("sent", {}).items():
            sym, _, tf = name.partition(":")
            out.last_sent[(sym, Timeframe(tf))] = float(at)
    return out
