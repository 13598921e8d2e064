"""Draw the indicator payload in the terminal with plotext: candlesticks, fractal markers,
support/resistance and trendlines, the last price, the user's alert levels, and a legend of the
lines' prices. The one drawing module of ``tradealerts charts`` and ``tradealerts tui``.

Pure: ``render(payload, ...)`` returns the text (ANSI colours when ``colour``); the ``charts``
command prints it, the TUI turns it into a Rich ``Text``. ``move_forming``, ``add_bar`` and
``window`` update or slice a payload from stream frames without asking the server.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.style import Style
from rich.text import Text

__all__ = [
    "ChartOptions",
    "LiveChart",
    "add_bar",
    "bar_chart",
    "default_bars",
    "move_forming",
    "render",
    "to_ascii",
    "visible_lines",
    "window",
]

COLOURS = {
    "up": "green",
    "down": "red",
    "support": "green",
    "resistance": "red",
    "trend_support": "cyan",
    "trend_resistance": "magenta",
    "last": "blue",
    "alert": "yellow",
}
_ASCII = str.maketrans(
    {
        "▲": "^", "▼": "v", "█": "#", "▌": "#", "▐": "#", "▀": "#", "▄": "#",
        "│": "|", "┃": "|", "─": "-", "━": "-", "┼": "+", "┌": "+", "┐": "+", "└": "+",
        "┘": "+", "├": "+", "┤": "+", "┬": "+", "┴": "+", "╭": "+", "╮": "+", "╰": "+",
        "╯": "+", "•": "*", "·": ".", "—": "-", "–": "-", "⠀": " ", "…": "~",
    }
)  # fmt: skip
#: The space inside the labels drawn on the closed part, told apart from blank canvas (where the
#: forming candle and the last-price line may go) and made a space again once drawn.
_GAP = "\u00a0"
#: Rows under the plot: the legend of line prices.
LEGEND_ROWS = 2


@dataclass(frozen=True)
class ChartOptions:
    width: int = 80
    height: int = 24
    lines: bool = True
    theme: str = "dark"
    colour: bool = True
    unicode: bool = True
    fractals: bool = True
    #: the user's own alert levels on this pair: (label, price), e.g. ("#12", 1.0912)
    levels: tuple[tuple[str, float], ...] = ()
    #: with ``lines`` off, how to turn them back on, for the legend: ``l`` in the TUI
    lines_hint: str = ""
    #: the IANA zone of the time axis (the user's ``timezone`` setting); D1 bars keep their day
    zone: str = "UTC"


def default_bars(width: int) -> int:
    """As many candles as fit: one column each next to the price axis."""
    return max(20, min(500, width - 16))


def _price(symbol: str, value: float) -> str:
    from tradealerts.core.symbols import format_price

    return format_price(symbol, value).replace(",", "")


def to_ascii(text: str) -> str:
    """Replace the box-drawing and marker characters with ASCII (non-UTF-8 terminals)."""
    text = text.translate(_ASCII)
    return "".join(ch if ord(ch) < 128 else "#" for ch in text)


def _band(lows: list[float], highs: list[float]) -> tuple[float, float]:
    """The prices the chart shows: the candles' range and 10% of it beyond each side."""
    lo, hi = min(lows), max(highs)
    pad = (hi - lo) * 0.10
    return lo - pad, hi + pad


def visible_lines(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Active horizontal lines near the candles (within 10% of their range beyond it)."""
    lows, highs = payload["bars"]["low"], payload["bars"]["high"]
    if not lows:
        return []
    bottom, top = _band(lows, highs)
    return [
        ln
        for ln in payload.get("horizontal_lines", [])
        if ln.get("broken_time") is None and bottom <= ln["price"] <= top
    ]


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


def _candles(payload: dict[str, Any]) -> dict[str, list[float]]:
    bars = payload["bars"]
    data = {k: list(bars[k]) for k in ("time", "open", "high", "low", "close")}
    forming = payload.get("forming")
    if forming:
        for key in data:
            data[key].append(forming[key])
    return data


def _ordered_dedupe() -> None:
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


def render(payload: dict[str, Any], opts: ChartOptions) -> str:
    """The chart of ``payload`` as text, ``opts.width`` × ``opts.height`` characters."""
    return LiveChart().render(payload, opts)


@dataclass
class _Static:
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
        self._static: _Static | None = None
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
            rows[i] = _encode(*cells, opts.colour)
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
                _rich(st.marker[r], st.fullground[r], st.background[r], st.style[r], opts.colour)
                for r in reversed(range(len(st.marker)))
            ] + [Text(ln, no_wrap=True, overflow="crop") for ln in st.legend]
        out = list(zip([*st.text, *st.legend], st.rich, strict=True))
        for i, cells in touched.items():
            out[i] = (_encode(*cells, opts.colour), _rich(*cells, opts.colour))
        return out

    def _current(
        self, payload: dict[str, Any], opts: ChartOptions
    ) -> str | tuple[_Static, dict[int, _Cells]]:
        """The closed part (drawn again if it changed) and the rows drawn over it; a chart
        with no bars is its whole text."""
        c = _candles(payload)
        n = len(c["time"])
        if n == 0:
            return _empty(payload, opts)
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
        )
        # the forming candle may grow within the price axis drawn (the candles' range and a
        # margin): past it, the axis is drawn again to hold it
        fits = self._static is not None and (
            not live
            or self._static.ylim[0] <= c["low"][-1] <= c["high"][-1] <= self._static.ylim[1]
        )
        if self._static is None or key != self._key or not fits:
            self._static = _draw_static(payload, c, opts)
            self._key = key
            self.static_draws += 1
        return self._static, _compose(self._static, payload, c)


def _empty(payload: dict[str, Any], opts: ChartOptions) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(opts.width, max(8, opts.height - LEGEND_ROWS))
    plt.theme(opts.theme if opts.colour else "clear")
    plt.title(f"{payload['symbol']} {payload['timeframe']}: no bars yet")
    return str(plt.build())


def _title(payload: dict[str, Any], c: dict[str, list[float]]) -> str:
    symbol = payload["symbol"]
    span = f"{_price(symbol, min(c['low']))}–{_price(symbol, max(c['high']))}"
    last = f"last {_price(symbol, c['close'][-1])}"
    return f"{symbol} {payload['timeframe']} · {len(c['time'])} bars · range {span} · {last}"


def _titles(payload: dict[str, Any], c: dict[str, list[float]]) -> list[str]:
    """The title, then shorter forms of it for a narrow chart, the pair and timeframe last.
    A ``feed_state`` in the payload (``market closed``, ``data delayed since 14:05``: put
    there by the TUI, issue #29) ends every form but the last, before the range goes."""
    full = _title(payload, c)
    head = f"{payload['symbol']} {payload['timeframe']}"
    last = f"last {_price(payload['symbol'], c['close'][-1])}"
    forms = [full, f"{head} · {len(c['time'])} bars · {last}", f"{head} · {last}"]
    state = payload.get("feed_state")
    if state:
        forms = [f"{f} · {state}" for f in forms] + [f"{head} · {state}"]
    return [*forms, head]


def _draw_static(payload: dict[str, Any], c: dict[str, list[float]], opts: ChartOptions) -> _Static:
    """plotext's drawing of everything but the forming candle, the last price and the title,
    on the axes the whole chart has (the limits plotext would pick with them: set here, so the
    parts drawn on top land where plotext would have put them)."""
    import plotext as plt
    import plotext._core as core
    import plotext._utility as ut

    _ordered_dedupe()
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
            label = f"{'R' if ln['kind'] == 'resistance' else 'S'} {_price(symbol, ln['price'])}"
            plt.hline(ln["price"], colour)
            plt.text(label.replace(" ", _GAP), 0, ln["price"], color=colour, alignment="left")
            legend.append(label)
            ys.append(ln["price"])
        bottom, top = _band(c["low"], c["high"])
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
            legend.append(
                f"{'TR' if d['kind'] == 'resistance' else 'TS'} {_price(symbol, d['value_now'])}"
            )
    lo, hi = _band(c["low"], c["high"])
    for label, price in opts.levels:
        if lo <= price <= hi:  # a far level would squeeze the candles, as a far line would
            plt.hline(price, COLOURS["alert"])
            tag = f"{label}{_GAP}{_price(symbol, price)}"
            plt.text(tag, n // 2, price, color=COLOURS["alert"])
            ys.append(price)
    # only as many time labels as fit side by side: plotext would drop overlapping ones itself,
    # but which it keeps changes from one process to the next
    label_width = len(_time_label(c["time"][0], timeframe, opts.zone)) + 3
    slots = max(1, min(5, (opts.width - 8) // label_width))
    ticks = sorted({round(i * (n - 1) / max(1, slots - 1)) for i in range(slots)})
    plt.xticks(ticks, [_time_label(c["time"][i], timeframe, opts.zone) for i in ticks])
    xlim, ylim = ut.get_lim(xs), ut.get_lim(ys)
    plt.xlim(*xlim)
    plt.ylim(*ylim)
    plt.title(_title(payload, c))  # its row; the title itself is written over each time
    fig = core._figure
    fig._set_sizes()  # plt.build() without its text of the whole figure: _encode makes it
    fig._build_matrix()
    mon = fig.monitor
    m = mon.matrix
    gaps = set()
    for r, markers in enumerate(m.marker):
        for col, ch in enumerate(markers):
            if ch == _GAP:
                markers[col] = " "
                gaps.add((r, col))
    static = _Static(
        marker=m.marker,
        fullground=m.fullground,
        background=m.background,
        style=m.style,
        cols=m.Cols_canvas,
        rows=m.Rows_canvas,
        xlim=(xlim[0], xlim[1]),
        ylim=(ylim[0], ylim[1]),
        ticks=(mon.ticks_color, mon.ticks_style, m.axes_color),
        canvas_colour=m.canvas_color,
        text=[],
        # hidden, not absent: "none active near the price" said there were none
        legend=_legend(legend, opts.width)
        if opts.lines
        else ["Lines: hidden" + (f" ({opts.lines_hint})" if opts.lines_hint else "")],
        gaps=gaps,
    )
    static.text = [
        _encode(m.marker[r], m.fullground[r], m.background[r], m.style[r], opts.colour)
        for r in reversed(range(len(m.marker)))
    ]
    return static


def _encode(markers: list[str], fg: list[Any], bg: list[Any], sty: list[Any], colour: bool) -> str:
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


_Cells = tuple[list[str], list[Any], list[Any], list[Any]]


def _compose(st: _Static, payload: dict[str, Any], c: dict[str, list[float]]) -> dict[int, _Cells]:
    """The closed part with the forming candle, the last-price line and label, and the title
    on top, in plotext's order: the line under the candles, the candle over the lines (over
    blank cells and the lines' ``─`` only), the label over all. Only the rows touched are
    copied: the rows touched (their index from the top) and their cells."""
    symbol = payload["symbol"]
    n = len(c["time"])
    c0, c1 = st.cols.start, st.cols.stop
    r0, r1 = st.rows.start, st.rows.stop
    touched: dict[int, _Cells] = {}

    def row_of(r: int) -> _Cells:
        if r not in touched:
            touched[r] = (st.marker[r][:], st.fullground[r][:], st.background[r][:], st.style[r][:])
        return touched[r]

    def y_row(y: float) -> int:
        return r0 + _cell(y, st.ylim, r1 - r0)

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
    col_last = c0 + _cell(n - 1, st.xlim, c1 - c0)
    if payload.get("forming"):
        o, h, lo, cl = c["open"][-1], c["high"][-1], c["low"][-1], c["close"][-1]
        colour = COLOURS["up"] if cl > o else COLOURS["down"]
        body_lo, body_hi = y_row(min(o, cl)), y_row(max(o, cl))
        for r in range(y_row(lo), y_row(h) + 1):
            ch = "█" if body_lo <= r <= body_hi else "│"
            paint(r, col_last, ch, colour)
    label = f"last {_price(symbol, last)}"
    if r0 <= r_last < r1:
        mk, fg, bg, sty = row_of(r_last)
        start = col_last - len(label) + 1  # right-aligned on the last candle, as plotext puts it
        for i, ch in enumerate(label):
            col = start + i
            if c0 <= col < c1:
                mk[col], fg[col], bg[col] = ch, COLOURS["last"], st.canvas_colour
    top = r1 + 1  # the title's row, above the frame
    if top < len(st.marker):
        mk, fg, bg, sty = row_of(top)
        fg_t, sty_t, bg_t = st.ticks
        width = len(mk)
        mk[:] = [" "] * width
        # the longest of the title's forms that fits: plotext leaves out a title too wide,
        # and the 50-cell chart of an 80-column terminal lost it whole (issue #24)
        title = next((t for t in _titles(payload, c) if len(t) <= width), "")
        start = max(0, c0 + (c1 - c0) // 2 - len(title) // 2)
        start = min(start, width - len(title))
        if title:
            for i, ch in enumerate(title):
                mk[start + i], fg[start + i], sty[start + i], bg[start + i] = ch, fg_t, sty_t, bg_t
    height = len(st.marker)
    return {height - 1 - r: cells for r, cells in touched.items()}


_STYLES: dict[tuple[Any, Any, Any], Style | str] = {}


def _rich(markers: list[str], fg: list[Any], bg: list[Any], sty: list[Any], colour: bool) -> Text:
    """One row of cells as Rich text: what ``Text.from_ansi(_encode(...))`` gives, built from
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


def _cell(v: float, lim: tuple[float, float], bins: int) -> int:
    """plotext's cell for a value (``utility.get_matrix_data``)."""
    return math.floor(round(0.5 + (bins - 1) * (v - lim[0]) / (lim[1] - lim[0]), 8))


def _legend(labels: list[str], width: int) -> list[str]:
    """``Lines: R 1.09120  S 1.08400 …`` wrapped to ``LEGEND_ROWS`` rows of ``width``."""
    if not labels:
        return ["Lines: none active near the price"]
    rows, row = [], "Lines:"
    for i, label in enumerate(labels):
        if len(row) + 2 + len(label) <= width:
            row += ("  " if row != "Lines:" else " ") + label
            continue
        rows.append(row)
        if len(rows) == LEGEND_ROWS:
            return [*rows[:-1], _with_more(row, len(labels) - i, width)]
        row = "      " + label
    rows.append(row)
    return rows


def _with_more(row: str, left: int, width: int) -> str:
    """``row`` and " +N more", dropping whole labels from its end until it fits."""
    labels = row.split("  ")
    while True:
        text = "  ".join(labels) + f"  +{left} more"
        if len(text) <= width or len(labels) <= 1:
            return text[:width]
        labels.pop()
        left += 1


def _time_label(t: float, timeframe: str, zone: str = "UTC") -> str:
    """A bar's place on the time axis: its open on the user's clock; a D1 bar by its own day
    (the date of its middle)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if timeframe == "D1":
        # A broker's D1 bar opens the evening before in UTC (Monday's at 22:00 UTC Sunday on
        # the New-York-close clock): its date is the one of its middle, on any bar clock.
        return datetime.fromtimestamp(t + 43_200, UTC).strftime("%m-%d")
    dt = datetime.fromtimestamp(t, UTC)
    # a zone this machine lacks: UTC, as on the wire
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        dt = dt.astimezone(ZoneInfo(zone))
    return dt.strftime("%m-%d %H:%M")


def move_forming(payload: dict[str, Any], bid: float, t: int) -> None:
    """A ``price`` frame: the forming candle's close (and high/low) follow the bid."""
    forming = payload.get("forming")
    if not forming:
        payload["forming"] = {"time": t, "open": bid, "high": bid, "low": bid, "close": bid}
        return
    forming["close"] = bid
    forming["high"] = max(forming["high"], bid)
    forming["low"] = min(forming["low"], bid)


def add_bar(payload: dict[str, Any], bar: dict[str, Any], keep: int | None = None) -> bool:
    """A ``bar`` frame: append the closed bar (once) and drop the forming candle it closes.

    Returns False for a bar already held. ``keep`` caps the bars held (oldest dropped)."""
    bars = payload["bars"]
    times = bars["time"]
    if times and bar["time"] <= times[-1]:
        return False
    for key in ("time", "open", "high", "low", "close", "volume"):
        bars.setdefault(key, [])
        bars[key] = [*bars[key], bar.get(key, 0)]
        if keep is not None and len(bars[key]) > keep:
            bars[key] = bars[key][-keep:]
    forming = payload.get("forming")
    if forming and forming["time"] <= bar["time"]:
        payload["forming"] = None
    return True


def window(payload: dict[str, Any], count: int, offset: int = 0) -> dict[str, Any]:
    """The payload's last ``count`` bars, ``offset`` bars back from the newest (panning).

    Panned back (``offset`` > 0) the forming candle is left out: it is not in that window."""
    bars = payload["bars"]
    n = len(bars["time"])
    offset = max(0, min(offset, max(0, n - 1)))
    end = n - offset
    start = max(0, end - count)
    out = dict(payload)
    out["bars"] = {k: list(v[start:end]) for k, v in bars.items()}
    if offset:
        out["forming"] = None
    return out


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    width: int = 80,
    height: int = 12,
    colour: bool = True,
    theme: str = "dark",
) -> str:
    """A bar chart of counts or amounts per label (days, months, hours) as text: the owner's
    dashboard draws its sign-ups, fires, revenue and requests with it. Labels are thinned to
    what fits under the bars, so plotext never drops overlapping ones."""
    import plotext as plt

    _ordered_dedupe()
    plt.clear_figure()
    plt.plotsize(max(20, width), max(6, height))
    plt.theme(theme if colour else "clear")
    plt.title(title)
    if not labels:
        return str(plt.build()).rstrip("\n")
    xs = list(range(len(labels)))
    plt.bar(xs, values, width=0.6, color="cyan" if colour else None)
    top = max(max(values, default=0), 1)
    if all(float(v).is_integer() for v in values):  # whole counts: whole ticks, not 0.33 steps
        step = -(-int(top) // 5)
        top = step * -(-int(top) // step)
        plt.yticks(list(range(0, int(top) + 1, step)))
    plt.ylim(0, top)  # counts and amounts: never a negative axis, even when all are 0
    room = max(1, (width - 10) // (max(len(s) for s in labels) + 2))
    step = max(1, -(-len(labels) // room))
    ticks = xs[::-1][::step][::-1]  # the newest always labelled
    plt.xticks(ticks, [labels[i] for i in ticks])
    return str(plt.build()).rstrip("\n")
