"""Stable ids of indicator lines: the one place their format is defined.

``h`` + kind initial + origin time for a horizontal line (``hr-1732406400``), ``d`` + kind
initial + both fractal times for a trendline (``ds-1732406400-1732420800``). The same line keeps
its id across restarts and recomputes, so an alert can follow it.
"""

from __future__ import annotations

import re

__all__ = ["LINE_ID_DIAGONAL", "LINE_ID_HORIZONTAL", "diagonal_line_id", "horizontal_line_id"]

LINE_ID_HORIZONTAL = re.compile(r"^h([rs])-(\d{1,12})$")
LINE_ID_DIAGONAL = re.compile(r"^d([rs])-(\d{1,12})-(\d{1,12})$")


def horizontal_line_id(kind: str, origin_time: int) -> str:
    """Id of the support/resistance line starting at the fractal at ``origin_time``."""
    return f"h{kind[0]}-{origin_time}"


def diagonal_line_id(kind: str, t1: int, t2: int) -> str:
    """Id of the trendline through the fractals at ``t1`` and ``t2``."""
    return f"d{kind[0]}-{t1}-{t2}"
