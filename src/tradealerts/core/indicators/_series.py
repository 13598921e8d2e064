"""Input checks shared by the indicator functions."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def as_series(name: str, values: ArrayLike) -> FloatArray:
    """``values`` as a 1-D float64 array of finite numbers, or a ValueError naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got {arr.ndim} dimensions")
    if not bool(np.all(np.isfinite(arr))):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name}[{bad}] is not a finite number")
    return arr


def check_window(n: int) -> int:
    """The fractal window: a whole number of at least 1."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a whole number of at least 1, got {n!r}")
    return int(n)


def same_length(**series: FloatArray) -> int:
    """The common length of the series, or a ValueError listing the lengths."""
    lengths = {name: int(a.shape[0]) for name, a in series.items()}
    if len(set(lengths.values())) > 1:
        got = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"series must have equal lengths, got {got}")
    return next(iter(lengths.values()))
