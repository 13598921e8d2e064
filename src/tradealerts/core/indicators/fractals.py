"""Bill Williams fractals, exactly as MT5's Fractals.mq5 marks them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from tradealerts.core.indicators._series import (
    FloatArray,
    IntArray,
    as_series,
    check_window,
    same_length,
)

__all__ = ["find_fractals", "is_down_fractal", "is_up_fractal"]


def find_fractals(high: ArrayLike, low: ArrayLike, n: int = 2) -> tuple[IntArray, IntArray]:
    """Indices of up and down fractals among closed bars.

    Bar ``i`` is an up fractal when ``high[i] >= high[i-k]`` and ``high[i] > high[i+k]`` for
    every k in 1..n (ties allowed on the older side only); down fractals mirror it on ``low``.
    A bar needs ``n`` closed bars on each side, so the last ``n`` bars are never fractals.
    """
    h = as_series("high", high)
    lo = as_series("low", low)
    size = same_length(high=h, low=lo)
    n = check_window(n)
    if size < 2 * n + 1:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    return _mask_indices(_up_mask(h, n), n), _mask_indices(_up_mask(-lo, n), n)


def _up_mask(h: FloatArray, n: int) -> np.ndarray:
    """For bars n..len-n-1: the up-fractal rule, vectorised as 2n shifted comparisons."""
    size = h.shape[0]
    centre = h[n : size - n]
    mask = np.ones(centre.shape[0], dtype=bool)
    for k in range(1, n + 1):
        mask &= centre >= h[n - k : size - n - k]
        mask &= centre > h[n + k : size - n + k]
    return mask


def _mask_indices(mask: np.ndarray, n: int) -> IntArray:
    return (np.flatnonzero(mask) + n).astype(np.int64)


def is_up_fractal(high: Sequence[float], i: int, n: int) -> bool:
    """The up-fractal rule for one bar (``i`` needs n bars on each side)."""
    c = high[i]
    return all(c >= high[i - k] and c > high[i + k] for k in range(1, n + 1))


def is_down_fractal(low: Sequence[float], i: int, n: int) -> bool:
    """The down-fractal rule for one bar (``i`` needs n bars on each side)."""
    c = low[i]
    return all(c <= low[i - k] and c < low[i + k] for k in range(1, n + 1))
