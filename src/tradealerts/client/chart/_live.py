"""``LiveChart``: the closed part drawn once, the forming candle, the last price and the title
drawn over it on every frame."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text

from tradealerts.client.chart._closed import ClosedPart, draw_closed, draw_empty
from tradealerts.client.chart._options import COLOURS, ChartOptions, to_ascii
from tradealerts.client.chart._payload import candles
from tradealerts.client.chart._plotext import Cells, cell_of, encode, rich_row
from tradealerts.client.chart._texts import as_cells, last_label, title_forms
from tradealerts.client.lang import language

__all__ = ["LiveChart"]


class LiveChart:
    """Draws one chart again and again as its forming candle moves.

    plotext draws the whole figure each time (tens of milliseconds for a few hundred candles):
    too slow for every price frame of a live chart. So plotext draws the closed part once —
    the closed candles, fractals, lines, alert levels, axes and legend — and it is drawn again
    only when that part changes (a bar closes, the payload is re-read, the window pans or
    zooms, a toggle, a resize, a level, or the forming candle leaving the price axis); each
    render puts the forming candle, the last-price line and its label, and the title on top of
    it, re-encoding only the rows they touch. ``render`` on a fresh instance is the whole
    drawing (the ``charts`` command); the TUI keeps one per chart view."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._static: ClosedPart | None = None
        #: times plotext drew the closed part (what the cache saves is read from it)
        self.static_draws = 0

    def render(self, payload: dict[str, Any], opts: ChartOptions) -> str:
        """The chart as text (ANSI colours when ``opts.colour``)."""
        drawn = self._current(payload, opts)
        if isinstance(drawn, str):
            return drawn
        st, touched = drawn
        rows = st.text[:]
        for i, cells in touched.items():
            rows[i] = encode(*cells, opts.colour)
        text = "\n".join([*rows, *st.legend])
        return text if opts.unicode else to_ascii(text)

    def lines(self, payload: dict[str, Any], opts: ChartOptions) -> list[tuple[str, Text]]:
        """The chart row by row: (its text with ANSI colours, the same as Rich text). The
        closed part's rows are turned into Rich text once per drawing of it, the rows a price
        frame touches from their cells (no ANSI parsing: it cost as much as plotext)."""
        drawn = self._current(payload, opts)
        if isinstance(drawn, str) or not opts.unicode:
            text = self.render(payload, opts) if not isinstance(drawn, str) else drawn
            return [
                (ln, Text.from_ansi(ln, no_wrap=True, overflow="crop")) for ln in text.split("\n")
            ]
        st, touched = drawn
        if st.rich is None:
            st.rich = [
                rich_row(st.marker[r], st.fullground[r], st.background[r], st.style[r], opts.colour)
                for r in reversed(range(len(st.marker)))
            ] + [Text(ln, no_wrap=True, overflow="crop") for ln in st.legend]
        out = list(zip([*st.text, *st.legend], st.rich, strict=True))
        for i, cells in touched.items():
            out[i] = (encode(*cells, opts.colour), rich_row(*cells, opts.colour))
        return out

    def _current(
        self, payload: dict[str, Any], opts: ChartOptions
    ) -> str | tuple[ClosedPart, dict[int, Cells]]:
        """The closed part (drawn again if it changed) and the rows drawn over it; a chart
        with no bars is its whole text."""
        c = candles(payload)
        n = len(c["time"])
        if n == 0:
            return draw_empty(payload, opts)
        live = bool(payload.get("forming"))  # the forming candle is the last of ``c``
        key = (
            opts,
            payload["symbol"],
            payload["timeframe"],
            payload["bars"],
            c["time"][-1],
            payload.get("fractals"),
            payload.get("horizontal_lines"),
            payload.get("diagonal_lines"),
            live,
            language(),  # the legend's words
        )
        # the forming candle may grow within the price axis drawn (the candles' range and a
        # margin): past it, the axis is drawn again to hold it
        fits = self._static is not None and (
            not live
            or self._static.ylim[0] <= c["low"][-1] <= c["high"][-1] <= self._static.ylim[1]
        )
        if self._static is None or key != self._key or not fits:
            self._static = draw_closed(payload, c, opts)
            self._key = key
            self.static_draws += 1
        return self._static, _compose(self._static, payload, c)


def _compose(
    st: ClosedPart, payload: dict[str, Any], c: dict[str, list[float]]
) -> dict[int, Cells]:
    """The closed part with the forming candle, the last-price line and label, and the title
    on top, in plotext's order: the line under the candles, the candle over the lines (over
    blank cells and the lines' ``─`` only), the label over all. Only the rows touched are
    copied: the rows touched (their index from the top) and their cells."""
    symbol = payload["symbol"]
    n = len(c["time"])
    c0, c1 = st.cols.start, st.cols.stop
    r0, r1 = st.rows.start, st.rows.stop
    touched: dict[int, Cells] = {}

    def row_of(r: int) -> Cells:
        if r not in touched:
            touched[r] = (st.marker[r][:], st.fullground[r][:], st.background[r][:], st.style[r][:])
        return touched[r]

    def y_row(y: float) -> int:
        return r0 + cell_of(y, st.ylim, r1 - r0)

    def paint(r: int, col: int, ch: str, colour: str) -> None:
        """A cell of the line or the candle, over blank canvas and lines only."""
        if not (r0 <= r < r1 and c0 <= col < c1):
            return
        if st.marker[r][col] in " ─" and (r, col) not in st.gaps:
            mk, fg, _bg, _sty = row_of(r)
            mk[col], fg[col] = ch, colour

    last = c["close"][-1]
    r_last = y_row(last)
    if r0 <= r_last < r1:
        for col in range(c0, c1):
            paint(r_last, col, "─", COLOURS["last"])
        mk, _fg, _bg, _sty = row_of(r_last)
        if c0 >= 1 and mk[c0 - 1] in "│┤":
            mk[c0 - 1] = "├"  # plotext's axis tick for a horizontal line
        if c1 < len(mk) and mk[c1] in "│├":
            mk[c1] = "┤"
    col_last = c0 + cell_of(n - 1, st.xlim, c1 - c0)
    if payload.get("forming"):
        o, h, lo, cl = c["open"][-1], c["high"][-1], c["low"][-1], c["close"][-1]
        colour = COLOURS["up"] if cl > o else COLOURS["down"]
        body_lo, body_hi = y_row(min(o, cl)), y_row(max(o, cl))
        for r in range(y_row(lo), y_row(h) + 1):
            ch = "█" if body_lo <= r <= body_hi else "│"
            paint(r, col_last, ch, colour)
    label = as_cells(last_label(symbol, last))
    if r0 <= r_last < r1:
        mk, fg, bg, sty = row_of(r_last)
        start = col_last - len(label) + 1  # right-aligned on the last candle, as plotext puts it
        for i, ch in enumerate(label):
            col = start + i
            if not c0 <= col < c1:
                continue
            if (ch == "" and col == c0) or (col + 1 == c1 and cell_len(ch) == 2):
                ch = " "  # half of a wide character is cut off: a space keeps the row's width
            mk[col], fg[col], bg[col] = ch, COLOURS["last"], st.canvas_colour
    top = r1 + 1  # the title's row, above the frame
    if top < len(st.marker):
        mk, fg, bg, sty = row_of(top)
        fg_t, sty_t, bg_t = st.ticks
        width = len(mk)
        mk[:] = [" "] * width
        # the longest of the title's forms that fits: plotext leaves out a title too wide,
        # and the 50-cell chart of an 80-column terminal lost it whole (issue #24)
        forms = [as_cells(t) for t in title_forms(payload, c)]
        title = next((t for t in forms if len(t) <= width), [])
        start = max(0, c0 + (c1 - c0) // 2 - len(title) // 2)
        start = min(start, width - len(title))
        if title:
            for i, ch in enumerate(title):
                mk[start + i], fg[start + i], sty[start + i], bg[start + i] = ch, fg_t, sty_t, bg_t
    height = len(st.marker)
    return {height - 1 - r: cells for r, cells in touched.items()}
