"""The chart of ``tradealerts charts``: drawn by ``tradealerts.client.chart``, the module the
TUI draws with too (one look in both)."""

from __future__ import annotations

from tradealerts.client.chart import (
    ChartOptions,
    add_bar,
    default_bars,
    move_forming,
    render,
    to_ascii,
    visible_lines,
    window,
)

__all__ = [
    "ChartOptions",
    "add_bar",
    "default_bars",
    "move_forming",
    "render",
    "to_ascii",
    "visible_lines",
    "window",
]
