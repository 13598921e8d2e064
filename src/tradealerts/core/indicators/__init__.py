"""Fractal indicators: Bill Williams fractals, horizontal lines at them, trendlines through them.

These functions speak bar indices; every bar passed is closed. The server adds times.
"""

from tradealerts.core.indicators.fractals import find_fractals
from tradealerts.core.indicators.incremental import IndicatorChanges, IndicatorState
from tradealerts.core.indicators.lines import (
    DiagonalLine,
    HorizontalLine,
    LineKind,
    diagonal_lines,
    horizontal_lines,
    nearest_active,
)

__all__ = [
    "DiagonalLine",
    "HorizontalLine",
    "IndicatorChanges",
    "IndicatorState",
    "LineKind",
    "diagonal_lines",
    "find_fractals",
    "horizontal_lines",
    "nearest_active",
]
