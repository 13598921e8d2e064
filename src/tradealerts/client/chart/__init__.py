"""Draw the indicator payload in the terminal with plotext: candlesticks, fractal markers,
support/resistance and trendlines, the last price, the user's alert levels, and a legend of the
lines' prices. The one drawing module of ``tradealerts charts`` and ``tradealerts tui``.

Pure: ``render(payload, ...)`` returns the text (ANSI colours when ``colour``); the ``charts``
command prints it, the TUI turns it into a Rich ``Text``. ``move_forming``, ``add_bar`` and
``window`` update or slice a payload from stream frames without asking the server.

The public face of small private modules:

- ``_options``: ``ChartOptions``, the colours and marks, a price as the chart writes it;
- ``_payload``: the payload read (candles, lines near them, fires' bars) and moved by frames;
- ``_texts``: the words drawn (title, legend, time labels);
- ``_closed``: plotext's drawing of the closed part, kept as cells;
- ``_live``: ``LiveChart``, the forming candle, last price and title drawn over it;
- ``_plotext``: what is taken from plotext's internals (cells as ANSI or Rich text);
- ``_bars``: ``bar_chart``, the owner's dashboard's figures.
"""

from __future__ import annotations

from typing import Any

from tradealerts.client.chart._bars import bar_chart
from tradealerts.client.chart._live import LiveChart
from tradealerts.client.chart._options import (
    COLOURS,
    FIRE_MARK,
    LEGEND_ROWS,
    ChartOptions,
    default_bars,
    to_ascii,
)
from tradealerts.client.chart._payload import (
    add_bar,
    marked_bars,
    move_forming,
    visible_lines,
    window,
)
from tradealerts.client.chart._texts import line_label

__all__ = [
    "COLOURS",
    "FIRE_MARK",
    "LEGEND_ROWS",
    "ChartOptions",
    "LiveChart",
    "add_bar",
    "bar_chart",
    "default_bars",
    "line_label",
    "marked_bars",
    "move_forming",
    "render",
    "to_ascii",
    "visible_lines",
    "window",
]


def render(payload: dict[str, Any], opts: ChartOptions) -> str:
    """The chart of ``payload`` as text, ``opts.width`` × ``opts.height`` characters."""
    return LiveChart().render(payload, opts)
