"""The watchlist: each pair's last price, change since the previous close (green up, red
down), a one-line sparkline, and a bell when the pair has active alerts."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from tradealerts.client.lang import N_, _
from tradealerts.core.symbols import PRICE_DIGITS, format_price
from tradealerts.tui.base import ta

__all__ = ["Watchlist", "change_text", "sparkline"]

_BLOCKS = "▁▂▃▄▅▆▇█"
#: Cells of the trend: with the pair, last price and change it fits the pane at 120 columns
SPARK_WIDTH = 8


def sparkline(values: list[float], width: int = SPARK_WIDTH) -> str:
    """The last ``width`` values as block characters, lowest ▁ to highest █."""
    values = values[-width:]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(_BLOCKS[int((v - lo) / span * (len(_BLOCKS) - 1))] for v in values)


def change_text(symbol: str, change: float) -> Text:
    """The change at the symbol's digits, ``+`` up (green), ``-`` down (red); a change that
    rounds to nothing is a plain ``0.00000``, never ``-0.00000`` (a difference of floats
    is rarely exactly zero)."""
    change = round(change, PRICE_DIGITS.get(symbol, 5)) + 0.0  # + 0.0: -0.0 becomes 0.0
    if change == 0:
        return Text(format_price(symbol, 0.0))
    sign, style = ("+", "green") if change > 0 else ("-", "red")
    return Text(f"{sign}{format_price(symbol, abs(change))}", style=style)


class Watchlist(DataTable[Any]):
    """One row per pair; the row key is ``SYMBOL:TF``."""

    #: DataTable's own ``enter``, described: ``?`` lists it (issue #24)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", N_("Open its chart"), show=False)
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)

    def on_mount(self) -> None:
        # the bell next to the pair: last, it was cut off the pane below 160 columns
        for key, label in (("pair", N_("Pair")), ("bell", ""), ("last", N_("Last")),
                           ("chg", N_("Chg")), ("spark", N_("Trend"))):  # fmt: skip
            self.add_column(_(label) if label else label, key=key)
        ta(self).changed.subscribe(self, self._on_change)
        self.rebuild()

    def pairs(self) -> list[tuple[str, str]]:
        store = ta(self).store
        out = [(w.symbol, w.timeframe) for w in store.watchlist]
        if not out:  # an empty watchlist still shows the open chart's pair
            out = [(store.chart.symbol, store.chart.timeframe)]
        return out

    def _on_change(self, what: str) -> None:
        if what in ("price", "bar", "chart"):
            self.update_prices()
        elif what in ("all", "watchlist", "alerts"):
            self.rebuild()

    def _cells(self, sym: str, tf: str) -> dict[str, Any]:
        store = ta(self).store
        last = store.last(sym, tf)
        change = store.change(sym, tf)
        chg = Text("") if change is None else change_text(sym, change)
        locked = store.lock(sym, tf) if store.access else None
        return {
            "pair": Text(f"{sym} {tf}", style="dim" if locked else ""),
            "bell": "🔔" if store.active_alerts(sym) else "",
            "last": format_price(sym, last)
            if last is not None
            else (_("locked") if locked else "…"),
            "chg": chg,
            "spark": sparkline(store.closes(sym, tf)),
        }

    def rebuild(self) -> None:
        selected = self.selected_pair()
        self.clear()
        for sym, tf in self.pairs():
            cells = self._cells(sym, tf)
            self.add_row(*cells.values(), key=f"{sym}:{tf}")
        if selected is not None and f"{selected[0]}:{selected[1]}" in self.rows:
            self.move_cursor(row=self.get_row_index(f"{selected[0]}:{selected[1]}"))

    def update_prices(self) -> None:
        for sym, tf in self.pairs():
            key = f"{sym}:{tf}"
            if key not in self.rows:
                self.rebuild()
                return
            cells = self._cells(sym, tf)
            for column in ("last", "chg", "spark"):
                self.update_cell(key, column, cells[column])

    def selected_pair(self) -> tuple[str, str] | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        if not key:
            return None
        sym, _colon, tf = key.partition(":")
        return sym, tf
