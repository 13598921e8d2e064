"""What the chart takes from plotext's internals: a fixed drawing order, the cell of a value,
and a row of its cells as ANSI text or as Rich text."""

from __future__ import annotations

import math
from typing import Any

from rich.style import Style
from rich.text import Text

__all__ = ["Cells", "cell_of", "encode", "ordered_dedupe", "rich_row"]


def ordered_dedupe() -> None:
    """Make plotext draw in a fixed order.

    plotext drops duplicate points through a ``set`` of tuples holding strings (markers,
    colours), whose order follows Python's per-process string hashing: where two points share
    a cell, which one shows changed from one run to the next, so the same payload drew a
    slightly different chart each time. An order-keeping dedupe makes it draw the same."""
    import plotext._utility as ut

    if getattr(ut.no_duplicates, "__name__", "") != "_keep_order":

        def _keep_order(data: Any) -> list[Any]:
            return list(dict.fromkeys(data))

        ut.no_duplicates = _keep_order


def cell_of(v: float, lim: tuple[float, float], bins: int) -> int:
    """plotext's cell for a value (``utility.get_matrix_data``)."""
    return math.floor(round(0.5 + (bins - 1) * (v - lim[0]) / (lim[1] - lim[0]), 8))


def encode(markers: list[str], fg: list[Any], bg: list[Any], sty: list[Any], colour: bool) -> str:
    """One row of cells as text: plotext's own encoding (``matrix.set_canvas``), one row."""
    import plotext._utility as ut

    if not colour:
        return "".join(markers)
    out: list[str] = []
    last = len(markers) - 1
    for col, ch in enumerate(markers):
        colours = (fg[col], sty[col], bg[col])
        if col == 0 or colours != (fg[col - 1], sty[col - 1], bg[col - 1]):
            out.append(ut.colors_to_ansi(*colours))
        out.append(ch)
        if col == last or colours != (fg[col + 1], sty[col + 1], bg[col + 1]):
            out.append(ut.ansi_end)
    return "".join(out)


Cells = tuple[list[str], list[Any], list[Any], list[Any]]


_STYLES: dict[tuple[Any, Any, Any], Style | str] = {}


def rich_row(
    markers: list[str], fg: list[Any], bg: list[Any], sty: list[Any], colour: bool
) -> Text:
    """One row of cells as Rich text: what ``Text.from_ansi(encode(...))`` gives, built from
    the runs of one colour (each colour's style decoded once)."""
    import plotext._utility as ut

    out = Text(no_wrap=True, overflow="crop")
    if not colour:
        out.append("".join(markers))
        return out
    start = 0
    width = len(markers)
    for col in range(1, width + 1):
        if col < width and (fg[col], sty[col], bg[col]) == (fg[start], sty[start], bg[start]):
            continue
        key = (fg[start], sty[start], bg[start])
        style = _STYLES.get(key)
        if style is None:
            probe = Text.from_ansi(ut.colors_to_ansi(*key) + "x" + ut.ansi_end)
            style = _STYLES[key] = probe.spans[0].style if probe.spans else ""
        out.append("".join(markers[start:col]), style or None)
        start = col
    return out
