"""The lines of an ``IndicatorState``, kept in columns.

A server holds every line of every (symbol, timeframe): some 270,000 of them for 15 symbols x
9 timeframes x 5,000 bars. As NamedTuples with boxed floats and ints they cost ~200 bytes
each; here a horizontal line costs 25 bytes and a trendline 41, in one ``array`` per field
(O(1) append, like the bar columns). ``HorizontalLine`` / ``DiagonalLine`` objects are made
only when one is read, and are equal to the ones the batch functions return.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, overload

import numpy as np

from tradealerts.core.indicators._series import FloatArray, IntArray
from tradealerts.core.indicators.lines import DiagonalLine, HorizontalLine, LineKind

__all__ = ["DiagonalColumns", "HorizontalColumns"]

# the kind column holds 0 for resistance, 1 for support
_KINDS: tuple[LineKind, LineKind] = ("resistance", "support")
# the broken column holds -1 for a line not broken
_NOT_BROKEN = -1


def _code(kind: LineKind) -> int:
    return 1 if kind == "support" else 0


# numpy's type of each ``array`` typecode the columns use
_DTYPES: dict[str, type[np.generic]] = {"b": np.int8, "q": np.int64, "d": np.float64}


_L = TypeVar("_L", HorizontalLine, DiagonalLine)


class _Columns(Sequence[_L]):
    """What both stores share: the kind and broken columns, reading lines, equality (with
    each other and with lists of lines), no hashing."""

    __slots__ = ("broken", "support")

    def __init__(self) -> None:
        self.support = array("b")  # 1 = support, 0 = resistance
        self.broken = array("q")  # bar index, or -1

    def __len__(self) -> int:
        return len(self.broken)

    def set_broken(self, k: int, bar: int) -> None:
        """Line ``k`` was broken at ``bar``."""
        self.broken[k] = bar

    def is_broken(self, k: int) -> bool:
        return self.broken[k] != _NOT_BROKEN

    def since(self, start: int) -> Iterator[int]:
        """Positions of the lines active, or broken at bar ``start`` or later, oldest first."""
        for k, b in enumerate(self.broken):
            if b == _NOT_BROKEN or b >= start:
                yield k

    def _fill(self, **columns: np.ndarray) -> None:
        """Load whole columns from the batch search's arrays, each in its column's own type."""
        for name, values in columns.items():
            column: array[Any] = getattr(self, name)
            column.frombytes(np.ascontiguousarray(values, _DTYPES[column.typecode]).tobytes())

    def line(self, k: int) -> _L:
        """Line ``k`` as a line object."""
        raise NotImplementedError

    @overload
    def __getitem__(self, k: int) -> _L: ...
    @overload
    def __getitem__(self, k: slice) -> list[_L]: ...
    def __getitem__(self, k: int | slice) -> _L | list[_L]:
        if isinstance(k, slice):
            return [self.line(i) for i in range(*k.indices(len(self)))]
        return self.line(k)

    def __iter__(self) -> Iterator[_L]:
        for k in range(len(self)):
            yield self.line(k)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Columns | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class HorizontalColumns(_Columns[HorizontalLine]):
    """Horizontal lines in columns; ``confirmed`` is always ``origin + n``."""

    __slots__ = ("n", "origin", "price")

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.price = array("d")
        self.origin = array("q")

    @classmethod
    def from_arrays(
        cls, n: int, support: np.ndarray, price: FloatArray, origin: IntArray, broken: IntArray
    ) -> HorizontalColumns:
        """Columns from the batch search (``broken`` -1 where not broken)."""
        out = cls(n)
        out._fill(support=support, price=price, origin=origin, broken=broken)
        return out

    def append(self, line: HorizontalLine) -> None:
        if line.confirmed != line.origin + self.n:
            raise ValueError(f"a line at bar {line.origin} is confirmed at {line.origin + self.n}")
        self.support.append(_code(line.kind))
        self.price.append(line.price)
        self.origin.append(line.origin)
        self.broken.append(_NOT_BROKEN if line.broken is None else line.broken)

    def line(self, k: int) -> HorizontalLine:
        """Line ``k`` as a ``HorizontalLine``."""
        origin, b = self.origin[k], self.broken[k]
        return HorizontalLine(
            _KINDS[self.support[k]],
            self.price[k],
            origin,
            origin + self.n,
            None if b == _NOT_BROKEN else b,
        )


class DiagonalColumns(_Columns[DiagonalLine]):
    """Trendlines in columns."""

    __slots__ = ("i1", "i2", "p1", "p2")

    def __init__(self) -> None:
        super().__init__()
        self.i1 = array("q")
        self.p1 = array("d")
        self.i2 = array("q")
        self.p2 = array("d")

    @classmethod
    def from_arrays(
        cls,
        support: np.ndarray,
        i1: IntArray,
        p1: FloatArray,
        i2: IntArray,
        p2: FloatArray,
        broken: IntArray,
    ) -> DiagonalColumns:
        """Columns from the batch search (``broken`` -1 where not broken)."""
        out = cls()
        out._fill(support=support, i1=i1, p1=p1, i2=i2, p2=p2, broken=broken)
        return out

    def append(self, line: DiagonalLine) -> None:
        self.support.append(_code(line.kind))
        self.i1.append(line.i1)
        self.p1.append(line.p1)
        self.i2.append(line.i2)
        self.p2.append(line.p2)
        self.broken.append(_NOT_BROKEN if line.broken is None else line.broken)

    def value_at(self, k: int, j: int) -> float:
        """Line ``k``'s price at bar ``j``, to the bit what ``DiagonalLine.value_at`` gives."""
        p1, i1 = self.p1[k], self.i1[k]
        return p1 + (self.p2[k] - p1) * float(j - i1) / float(self.i2[k] - i1)

    def line(self, k: int) -> DiagonalLine:
        """Line ``k`` as a ``DiagonalLine``."""
        b = self.broken[k]
        return DiagonalLine(
            _KINDS[self.support[k]],
            self.i1[k],
            self.p1[k],
            self.i2[k],
            self.p2[k],
            None if b == _NOT_BROKEN else b,
        )
