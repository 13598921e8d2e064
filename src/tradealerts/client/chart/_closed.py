"""The closed part of a chart, drawn by plotext: the closed candles, fractals, lines, alert
levels, fires, axes and legend, kept as plotext's cells for the live part to be drawn over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from tradealerts.client.chart._options import (
    COLOURS,
    FIRE_MARK,
    GAP,
    LEGEND_ROWS,
    ChartOptions,
    price_text,
)
from tradealerts.client.chart._payload import marked_bars, price_band, visible_lines
from tradealerts.client.chart._plotext import encode, ordered_dedupe
from tradealerts.client.chart._texts import (
    full_title,
    hidden_lines,
    legend_rows,
    line_label,
    no_bars_title,
    time_label,
)

__all__ = ["ClosedPart", "draw_closed", "draw_empty"]


@dataclass
class ClosedPart:
    """The closed part of a chart as plotext drew it: its cells (plotext's matrix, rows from
    the bottom), where its canvas is, its axes' limits, and each row already as text."""

    marker: list[list[str]]
    fullground: list[list[Any]]
    background: list[list[Any]]
    style: list[list[Any]]
    cols: range  # the canvas's columns
    rows: range  # the canvas's rows
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    ticks: tuple[Any, Any, Any]  # the title's colour, style and background
    canvas_colour: Any
    text: list[str]  # every row as text, top first
    legend: list[str]
    gaps: set[tuple[int, int]]  # (row, column) of the spaces in the labels: not blank canvas
    rich: list[Text] | None = None  # every row as Rich text, once asked for

    @classmethod
    def of_monitor(
        cls, monitor: Any, xlim: Any, ylim: Any, legend: list[str], colour: bool
    ) -> ClosedPart:
        """plotext's built figure (its ``monitor``): the labels' spaces noted as such and made
        spaces again, every row encoded once."""
        m = monitor.matrix
        gaps = set()
        for r, markers in enumerate(m.marker):
            for col, ch in enumerate(markers):
                if ch == GAP:
                    markers[col] = " "
                    gaps.add((r, col))
        layers = (m.marker, m.fullground, m.background, m.style)
        text = [
            encode(m.marker[r], m.fullground[r], m.background[r], m.style[r], colour)
            for r in reversed(range(len(m.marker)))
        ]
        ticks = (monitor.ticks_color, monitor.ticks_style, m.axes_color)
        return cls(*layers, m.Cols_canvas, m.Rows_canvas, (xlim[0], xlim[1]), (ylim[0], ylim[1]),
                   ticks, m.canvas_color, text, legend, gaps)  # fmt: skip


def _clip(
    x0: float, y0: float, x1: float, y1: float, bottom: float, top: float
) -> tuple[list[float], list[float]] | None:
    """The part of the segment between the prices ``bottom`` and ``top`` (None: no part).

    A trendline from a fractal far from today's prices would otherwise stretch the price
    axis and squeeze the candles into a few rows."""
    if y0 == y1:
        return ([x0, x1], [y0, y1]) if bottom <= y0 <= top else None
    ta, tb = (bottom - y0) / (y1 - y0), (top - y0) / (y1 - y0)
    t_in, t_out = max(0.0, min(ta, tb)), min(1.0, max(ta, tb))
    if t_in > t_out:
        return None
    at = [t_in, t_out]
    return [x0 + t * (x1 - x0) for t in at], [y0 + t * (y1 - y0) for t in at]


def draw_empty(payload: dict[str, Any], opts: ChartOptions) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(opts.width, max(8, opts.height - LEGEND_ROWS))
    plt.theme(opts.theme if opts.colour else "clear")
    plt.title(no_bars_title(payload))
    return str(plt.build())


def draw_closed(
    payload: dict[str, Any], c: dict[str, list[float]], opts: ChartOptions
) -> ClosedPart:
    """plotext's drawing of everything but the forming candle, the last price and the title,
    on the axes the whole chart has (the limits plotext would pick with them: set here, so the
    parts drawn on top land where plotext would have put them)."""
    import plotext as plt
    import plotext._core as core
    import plotext._utility as ut

    ordered_dedupe()
    symbol, timeframe = payload["symbol"], payload["timeframe"]
    n = len(c["time"])
    closed = n - 1 if payload.get("forming") else n
    plt.clear_figure()
    plt.plotsize(opts.width, max(8, opts.height - LEGEND_ROWS))
    plt.theme(opts.theme if opts.colour else "clear")
    index = {t: i for i, t in enumerate(c["time"])}
    # every point plotext takes its limits from, the forming candle's and the last price's too
    xs: list[float] = [0, n - 1, n // 2]
    ys: list[float] = [min(c["low"]), max(c["high"])]
    if closed:
        plt.candlestick(
            list(range(closed)),
            {k.title(): c[k][:closed] for k in ("open", "close", "high", "low")},
        )
    up_mark, down_mark = ("▲", "▼") if opts.unicode else ("^", "v")
    offset = (max(c["high"]) - min(c["low"])) * 0.03  # markers just outside the wick
    for side, mark, sign in (("up", up_mark, 1), ("down", down_mark, -1)):
        if not opts.fractals:
            break
        pts = [f for f in payload.get("fractals", {}).get(side, []) if f["time"] in index]
        if pts:
            fx = [index[f["time"]] for f in pts]
            fy = [f["price"] + sign * offset for f in pts]
            plt.scatter(fx, fy, marker=mark, color=COLOURS[side])
            ys += fy
    legend: list[str] = []
    if opts.lines:
        for ln in visible_lines(payload):
            colour = COLOURS[ln["kind"]]
            label = line_label(ln["kind"], False, price_text(symbol, ln["price"]))
            plt.hline(ln["price"], colour)
            plt.text(label.replace(" ", GAP), 0, ln["price"], color=colour, alignment="left")
            legend.append(label)
            ys.append(ln["price"])
        bottom, top = price_band(c["low"], c["high"])
        for d in payload.get("diagonal_lines", []):
            if d.get("broken_time") is not None:
                continue
            now_x = n - 1
            start = index.get(d["t1"], 0)
            slope = d["slope_per_bar"]
            y0 = d["value_now"] - slope * (now_x - start)
            part = _clip(start, y0, now_x, d["value_now"], bottom, top)
            if part is None:
                continue
            plt.plot(*part, color=COLOURS[f"trend_{d['kind']}"])
            ys += part[1]
            legend.append(line_label(d["kind"], True, price_text(symbol, d["value_now"])))
    lo, hi = price_band(c["low"], c["high"])
    for label, price in opts.levels:
        if lo <= price <= hi:  # a far level would squeeze the candles, as a far line would
            plt.hline(price, COLOURS["alert"])
            tag = f"{label}{GAP}{price_text(symbol, price)}"
            plt.text(tag, n // 2, price, color=COLOURS["alert"])
            ys.append(price)
    # last: over the lines and levels (a touch fires on its line's very price)
    fires = marked_bars(c["time"], opts.marks)
    if fires:
        plt.scatter([x for x, _ in fires], [p for _, p in fires],
                    marker=FIRE_MARK[0 if opts.unicode else 1], color=COLOURS["fire"])  # fmt: skip
        ys += [p for _, p in fires]
    # only as many time labels as fit side by side: plotext would drop overlapping ones itself,
    # but which it keeps changes from one process to the next
    label_width = len(time_label(c["time"][0], timeframe, opts.zone)) + 3
    slots = max(1, min(5, (opts.width - 8) // label_width))
    ticks = sorted({round(i * (n - 1) / max(1, slots - 1)) for i in range(slots)})
    plt.xticks(ticks, [time_label(c["time"][i], timeframe, opts.zone) for i in ticks])
    xlim, ylim = ut.get_lim(xs), ut.get_lim(ys)
    plt.xlim(*xlim)
    plt.ylim(*ylim)
    plt.title(full_title(payload, c))  # its row; the title itself is written over each time
    fig = core._figure
    fig._set_sizes()  # plt.build() without its text of the whole figure: encode makes it
    fig._build_matrix()
    shown = legend_rows(legend, opts.width) if opts.lines else [hidden_lines(opts.lines_hint)]
    return ClosedPart.of_monitor(fig.monitor, xlim, ylim, shown, opts.colour)
