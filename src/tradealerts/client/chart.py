"""Draw the indicator payload in the terminal with plotext: candlesticks, fractal markers,
support/resistance and trendlines, the last price, the user's alert levels, and a legend of the
lines' prices. The one drawing module of ``tradealerts charts`` and ``tradealerts tui``.

Pure: ``render(payload, ...)`` returns the text (ANSI colours when ``colour``); the ``charts``
command prints it, the TUI turns it into a Rich ``Text``. ``move_forming``, ``add_bar`` and
``window`` update or slice a payload from stream frames without asking the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ChartOptions",
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
    import plotext as plt

    _ordered_dedupe()

    symbol, timeframe = payload["symbol"], payload["timeframe"]
    c = _candles(payload)
    n = len(c["time"])
    plt.clear_figure()
    plt.plotsize(opts.width, max(8, opts.height - LEGEND_ROWS))
    plt.theme(opts.theme if opts.colour else "clear")
    if n == 0:
        plt.title(f"{symbol} {timeframe}: no bars yet")
        return str(plt.build())
    xs = list(range(n))
    index = {t: i for i, t in enumerate(c["time"])}
    plt.candlestick(
        xs, {"Open": c["open"], "Close": c["close"], "High": c["high"], "Low": c["low"]}
    )
    up_mark, down_mark = ("▲", "▼") if opts.unicode else ("^", "v")
    offset = (max(c["high"]) - min(c["low"])) * 0.03  # markers just outside the wick
    for side, mark, sign in (("up", up_mark, 1), ("down", down_mark, -1)):
        if not opts.fractals:
            break
        pts = [f for f in payload.get("fractals", {}).get(side, []) if f["time"] in index]
        if pts:
            plt.scatter(
                [index[f["time"]] for f in pts],
                [f["price"] + sign * offset for f in pts],
                marker=mark,
                color=COLOURS[side],
            )
    legend: list[str] = []
    if opts.lines:
        for ln in visible_lines(payload):
            colour = COLOURS[ln["kind"]]
            label = f"{'R' if ln['kind'] == 'resistance' else 'S'} {_price(symbol, ln['price'])}"
            plt.hline(ln["price"], colour)
            plt.text(label, 0, ln["price"], color=colour, alignment="left")
            legend.append(label)
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
            legend.append(
                f"{'TR' if d['kind'] == 'resistance' else 'TS'} {_price(symbol, d['value_now'])}"
            )
    lo, hi = _band(c["low"], c["high"])
    for label, price in opts.levels:
        if lo <= price <= hi:  # a far level would squeeze the candles, as a far line would
            plt.hline(price, COLOURS["alert"])
            plt.text(f"{label} {_price(symbol, price)}", n // 2, price, color=COLOURS["alert"])
    last = c["close"][-1]
    last_label = f"last {_price(symbol, last)}"
    plt.hline(last, COLOURS["last"])
    plt.text(last_label, n - 1, last, color=COLOURS["last"], alignment="right")
    # only as many time labels as fit side by side: plotext would drop overlapping ones itself,
    # but which it keeps changes from one process to the next
    label_width = len(_time_label(c["time"][0], timeframe)) + 3
    slots = max(1, min(5, (opts.width - 8) // label_width))
    ticks = sorted({round(i * (n - 1) / max(1, slots - 1)) for i in range(slots)})
    plt.xticks(ticks, [_time_label(c["time"][i], timeframe) for i in ticks])
    span = f"{_price(symbol, min(c['low']))}–{_price(symbol, max(c['high']))}"
    plt.title(f"{symbol} {timeframe} · {n} bars · range {span} · {last_label}")
    text = str(plt.build()).rstrip("\n")
    if not opts.colour:
        text = plt.uncolorize(text)
    if opts.lines:
        text = "\n".join([text, *_legend(legend, opts.width)])
    else:  # hidden, not absent: "none active near the price" said there were none
        text = "\n".join(
            [text, "Lines: hidden" + (f" ({opts.lines_hint})" if opts.lines_hint else "")]
        )
    return text if opts.unicode else to_ascii(text)


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


def _time_label(t: float, timeframe: str) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%m-%d" if timeframe == "D1" else "%m-%d %H:%M")


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
