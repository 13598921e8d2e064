"""What a chart is drawn with: its options, its colours and marks, and a price as the chart
writes it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COLOURS",
    "FIRE_MARK",
    "GAP",
    "LEGEND_ROWS",
    "ChartOptions",
    "default_bars",
    "price_text",
    "to_ascii",
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
    "fire": "orange",
}
#: The marker of an alert's fire (a backtest's, or the history's): ``ChartOptions.marks``.
FIRE_MARK = ("◆", "*")
_ASCII = str.maketrans(
    {
        "▲": "^", "▼": "v", "█": "#", "▌": "#", "▐": "#", "▀": "#", "▄": "#",
        "│": "|", "┃": "|", "─": "-", "━": "-", "┼": "+", "┌": "+", "┐": "+", "└": "+",
        "┘": "+", "├": "+", "┤": "+", "┬": "+", "┴": "+", "╭": "+", "╮": "+", "╰": "+",
        "╯": "+", "◆": "*", "•": "*", "·": ".", "—": "-", "–": "-", "⠀": " ", "…": "~",
    }
)  # fmt: skip
#: The space inside the labels drawn on the closed part, told apart from blank canvas (where the
#: forming candle and the last-price line may go) and made a space again once drawn.
GAP = "\u00a0"
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
    #: where an alert fired (or would have): (epoch seconds, price), each drawn as
    #: ``FIRE_MARK`` on the bar holding that moment; one outside the bars drawn is left out
    marks: tuple[tuple[float, float], ...] = ()


def default_bars(width: int) -> int:
    """As many candles as fit: one column each next to the price axis."""
    return max(20, min(500, width - 16))


def price_text(symbol: str, value: float) -> str:
    from tradealerts.core.symbols import format_price

    return format_price(symbol, value).replace(",", "")


def to_ascii(text: str) -> str:
    """Replace the box-drawing and marker characters with ASCII (non-UTF-8 terminals); a
    letter loses its accent (``é`` → ``e``), any other character is a ``#`` a cell it takes."""
    text = text.translate(_ASCII)
    return "".join(ch if ord(ch) < 128 else _ascii_char(ch) for ch in text)


def _ascii_char(ch: str) -> str:
    import unicodedata

    from rich.cells import cell_len

    base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return base if len(base) == 1 else "#" * max(1, cell_len(ch))
