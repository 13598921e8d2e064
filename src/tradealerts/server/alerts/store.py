"""Alert rows in columns, and the sorted price index that finds the alerts a move concerns.

A million alerts fit in a few dozen bytes each: the columns are ``array``/``bytearray`` (fast
item access from Python, and zero-copy numpy views for bulk work), not one object per alert.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right

import numpy as np
from numpy.typing import NDArray

__all__ = ["NEVER", "Rows", "SweepIndex"]

#: ``Rows.last`` of an alert that never fired.
NEVER = float("nan")

_INT_COLUMNS = ("alert_id", "user_id", "serial", "count")
_FLOAT_COLUMNS = ("a", "b", "last")
_BYTE_COLUMNS = ("cond", "freq", "source", "tf", "alive")


class Rows:
    """Per-alert columns of one symbol, addressed by row number.

    ``a``/``b`` hold the level (``a``) or the channel's lower/upper; ``last`` the last fire
    time (NaN: never). A freed row is reused; ``serial`` (unique per allocation) tells the new
    alert from the old one, so heap entries and index entries left by the old one are harmless.
    """

    def __init__(self) -> None:
        self.alert_id = array("q")
        self.user_id = array("q")
        self.serial = array("q")
        self.count = array("q")
        self.a = array("d")
        self.b = array("d")
        self.last = array("d")
        self.cond = bytearray()
        self.freq = bytearray()
        self.source = bytearray()
        self.tf = bytearray()
        self.alive = bytearray()
        self._free: list[int] = []
        self._serial = 0
        self.live = 0

    def __len__(self) -> int:
        return len(self.alive)

    def alloc(
        self,
        alert_id: int,
        user_id: int,
        codes: tuple[int, int, int, int],
        a: float,
        b: float,
        last: float,
        count: int,
    ) -> int:
        """Store one alert; ``codes`` are (condition, frequency, source, timeframe)."""
        self._serial += 1
        values = (alert_id, user_id, self._serial, count, a, b, last, *codes, 1)
        names = (*_INT_COLUMNS, *_FLOAT_COLUMNS, *_BYTE_COLUMNS)
        if self._free:
            row = self._free.pop()
            for name, value in zip(names, values, strict=True):
                getattr(self, name)[row] = value
        else:
            row = len(self.alive)
            for name, value in zip(names, values, strict=True):
                getattr(self, name).append(value)
        self.live += 1
        return row

    def extend(
        self,
        alert_id: NDArray[np.int64],
        user_id: NDArray[np.int64],
        cond: NDArray[np.uint8],
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        codes: tuple[int, int, int],
    ) -> range:
        """Append many never-fired alerts at once (frequency, source, timeframe shared)."""
        n = int(alert_id.shape[0])
        start = len(self.alive)
        serial = np.arange(self._serial + 1, self._serial + 1 + n, dtype=np.int64)
        self._serial += n
        self.alert_id.frombytes(alert_id.astype(np.int64).tobytes())
        self.user_id.frombytes(user_id.astype(np.int64).tobytes())
        self.serial.frombytes(serial.tobytes())
        self.count.frombytes(np.zeros(n, np.int64).tobytes())
        self.a.frombytes(a.astype(np.float64).tobytes())
        self.b.frombytes(b.astype(np.float64).tobytes())
        self.last.frombytes(np.full(n, NEVER).tobytes())
        self.cond.extend(cond.astype(np.uint8).tobytes())
        for name, code in zip(("freq", "source", "tf"), codes, strict=True):
            getattr(self, name).extend(bytes([code]) * n)
        self.alive.extend(b"\x01" * n)
        self.live += n
        return range(start, start + n)

    def release(self, row: int) -> None:
        """Forget the alert of ``row``; the row may be reused."""
        self.alive[row] = 0
        self.live -= 1
        self._free.append(row)

    def view(self, name: str) -> NDArray[np.generic]:
        """A numpy view of a column (valid until the next append)."""
        col = getattr(self, name)
        dtype = np.uint8 if isinstance(col, bytearray) else np.dtype(col.typecode)
        return np.frombuffer(col, dtype=dtype)


class SweepIndex:
    """Critical prices (levels, channel edges, thresholds, band edges) sorted, with their rows.

    ``between(lo, hi)`` is two binary searches and a slice: the rows of every key in
    ``[lo, hi]``, O(log n + k). Removals leave stale entries (the matcher re-checks every
    candidate exactly), counted so the owner can rebuild once they outnumber the live ones.
    """

    __slots__ = ("keys", "live", "rows", "stale")

    def __init__(self) -> None:
        self.keys = array("d")
        self.rows = array("q")
        self.live = 0
        self.stale = 0

    def __len__(self) -> int:
        return len(self.keys)

    def insert(self, key: float, row: int) -> None:
        """Add one key (O(n) memmove: fine for the API's trickle of changes)."""
        i = bisect_right(self.keys, key)
        self.keys.insert(i, key)
        self.rows.insert(i, row)
        self.live += 1

    def forget(self, count: int) -> None:
        """``count`` entries just went stale."""
        self.live -= count
        self.stale += count

    @property
    def worn(self) -> bool:
        """True when stale entries outnumber live ones (and are worth a rebuild)."""
        return self.stale > 64 and self.stale > self.live

    def load(self, keys: NDArray[np.float64], rows: NDArray[np.int64]) -> None:
        """Replace the whole index (sorted here)."""
        order = np.lexsort((rows, keys))
        self.keys = array("d", keys[order].astype(np.float64).tobytes())
        self.rows = array("q", rows[order].astype(np.int64).tobytes())
        self.live = int(keys.shape[0])
        self.stale = 0

    def load_row(self, keys: list[float], row: int) -> None:
        """Replace the whole index with ``keys``, all of one row (what ``load`` gives them,
        ~4x sooner for a few keys)."""
        self.keys = array("d", sorted(keys))
        self.rows = array("q", [row]) * len(keys)
        self.live = len(keys)
        self.stale = 0

    def between(self, lo: float, hi: float) -> array[int]:
        """Rows whose key lies in ``[lo, hi]`` (inclusive both ends)."""
        keys = self.keys
        return self.rows[bisect_left(keys, lo) : bisect_right(keys, hi)]
