"""The chart screen: the open pair full size, and its lines; ``enter`` on a line shows it and
offers an alert on that very line."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable

from tradealerts.client import endpoints
from tradealerts.client.chart import line_label
from tradealerts.client.lang import N_, _
from tradealerts.core.symbols import format_price
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.screens.chart_keys import ChartKeys
from tradealerts.tui.widgets.chart_view import ChartView
from tradealerts.tui.widgets.footer import bottom_bars
from tradealerts.tui.widgets.timeframe_bar import TimeframeBar

__all__ = ["ChartScreen", "LinesTable", "chart_lines", "start_row", "touch_distance"]


def chart_lines(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The active lines of a payload, horizontal then diagonal, each with ``shape``."""
    if payload is None:
        return []
    out = [
        {**ln, "shape": "horizontal"}
        for ln in payload.get("horizontal_lines", [])
        if ln.get("broken_time") is None
    ]
    out += [
        {**ln, "shape": "diagonal", "price": ln["value_now"]}
        for ln in payload.get("diagonal_lines", [])
        if ln.get("broken_time") is None
    ]
    return out


class LinesTable(DataTable[Any]):
    """The open chart's active lines; ``enter`` picks one (its screen shows the whole id). The
    rows fit the pane: no cell padding but one leading space a cell, and the id cut (…) to the
    cells left; a trendline's id (two times, 25 cells) made the table wider than its 29-cell
    pane, and a horizontal scrollbar (a stray ``▉``) showed under it."""

    #: DataTable's own ``enter``, described: ``?`` lists it (issue #24)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", N_("Alert on the line"), show=False)
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", cell_padding=0, **kwargs)
        self.lines: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        for key, label in (("price", _("Line")), ("id", _("Id"))):
            self.add_column(Text(f" {label}"), key=key)
        ta(self).changed.subscribe(self, self._on_change)
        self.rebuild()

    def _on_change(self, what: str) -> None:
        if what in ("all", "chart", "bar"):
            self.rebuild()

    def on_resize(self, _event: events.Resize) -> None:
        self.rebuild(force=True)

    def rebuild(self, force: bool = False) -> None:
        store = ta(self).store
        payload = store.chart_payload()
        lines = sorted(chart_lines(payload), key=lambda ln: -ln["price"])
        if not force and [ln["id"] for ln in lines] == [ln["id"] for ln in self.lines]:
            return
        picked = (
            self.lines[self.cursor_row]["id"] if 0 <= self.cursor_row < len(self.lines) else None
        )
        self.lines = lines
        self.clear()
        for column in self.columns.values():  # clear() keeps the widest cell's width
            column.content_width = column.label.cell_len
        sym = store.chart.symbol
        prices = [format_price(sym, ln["price"]) for ln in lines]
        # the kind and the price in one column (`` TR 1.08909``: two cells fewer than apart,
        # so that a support/resistance id is whole at 80 columns, issue #24: ``hr-17903664…``);
        # the id gets what that column and the vertical scrollbar leave, and an id wider than
        # that (a trendline's two times) goes onto a second line after its dash, never cut
        inner = self.region.shrink(self.styles.gutter).width
        # the chart's own tags (``R``, ``TS`` …, in the user's language), without the price
        tags = [line_label(ln["kind"], ln["shape"] != "horizontal", "").strip() for ln in lines]
        shown_prices = [cell_len(f"{t} {p}") for t, p in zip(tags, prices, strict=True)]
        price_width = 1 + max([cell_len(_("Line")), *shown_prices])
        id_width = inner - price_width - self.styles.scrollbar_size_vertical
        for ln, price, tag in zip(lines, prices, tags, strict=True):
            style = "red" if ln["kind"] == "resistance" else "green"
            shown = ln["id"]
            if inner > 0 and len(shown) + 1 > id_width and "-" in shown:
                head, tail = shown.rsplit("-", 1)
                shown = f"{head}-\n {tail}"
            kind = Text.assemble((f" {tag}", style), f" {price}")
            self.add_row(kind, Text(f" {shown}", no_wrap=True), key=ln["id"],
                         height=shown.count("\n") + 1)  # fmt: skip
        if lines:
            self.move_cursor(row=start_row(lines, picked, payload), animate=False)


class ChartScreen(ChartKeys):
    AUTO_FOCUS = "LinesTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "test_line", N_("Test an alert on the line"), show=False),
        Binding("x", "clear_marks", N_("Clear fire markers"), show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield TimeframeBar()
            with Horizontal():
                yield ChartView()
                yield LinesTable(id="lines")
        yield from bottom_bars()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        table = self.query_one(LinesTable)
        line = next((ln for ln in table.lines if ln["id"] == event.row_key.value), None)
        if line is not None:
            from tradealerts.tui.screens.line import LineScreen

            chart = ta(self).store.chart
            ta(self).push_screen(LineScreen(line, chart.symbol, chart.timeframe), self._create)

    def _create(self, alert: Any) -> None:
        if alert is not None:
            spawn(self, partial(self._send, alert))

    async def _send(self, alert: Any) -> None:
        app = ta(self)
        try:
            created = await app.api(endpoints.alert_create(alert))
            app.store.alerts = await app.api(endpoints.alerts())
        except Handled:
            return
        app.say(
            _("Alert #{id} created: {condition} on line {line}.").format(
                id=created.id, condition=created.condition, line=created.line_id
            )
        )
        app.publish("alerts")

    def selected_line(self) -> dict[str, Any] | None:
        """The line under the lines table's cursor."""
        table = self.query_one(LinesTable)
        if not table.lines or not 0 <= table.cursor_row < len(table.lines):
            return None
        return table.lines[table.cursor_row]

    def action_test_line(self) -> None:
        """``t``: where alerts on the selected line would have fired over the bars the chart
        holds (its touches, once per bar, and its break on a bar's close), drawn as markers
        with a notice of the counts; ``t`` again takes the markers off."""
        app = ta(self)
        chart = app.store.chart
        key = (chart.symbol, chart.timeframe)
        if key in app.store.fire_marks:
            self.action_clear_marks()
            return
        line = self.selected_line()
        payload = app.store.chart_payload()
        if line is None or payload is None:
            app.say(_("No line to test: pick one in the lines table."), severity="warning")
            return
        spawn(self, partial(self._test_line, line, touch_distance(payload)), group="backtest",
              exclusive=True)  # fmt: skip

    async def _test_line(self, line: dict[str, Any], distance: float) -> None:
        from tradealerts.tui.backtest import result_marks, said
        from tradealerts.tui.store import CHART_BARS

        app = ta(self)
        chart = app.store.chart
        key = (chart.symbol, chart.timeframe)
        brk = "line_break" if line["shape"] == "horizontal" else "trendline_break"
        base = {"symbol": chart.symbol, "timeframe": chart.timeframe, "line_id": line["id"],
                "side": line["kind"]}  # fmt: skip
        touch = {**base, "condition": "line_touch", "distance": distance,
                 "frequency": "once_per_bar"}  # fmt: skip
        try:
            answer = await app.api(
                endpoints.alerts_backtest([touch, {**base, "condition": brk}], CHART_BARS)
            )
        except Handled:
            return
        touches, breaks = answer["results"]
        app.store.fire_marks[key] = result_marks(touches) + result_marks(breaks)
        price = format_price(chart.symbol, distance)
        app.say(
            _(
                "On {line}: touches within {price}, once a bar: {touches}. "
                "Breaks ({condition}): {breaks}. ◆ marks each (t again clears)."
            ).format(
                line=line["id"],
                price=price,
                touches=said(touches),
                condition=brk,
                breaks=breaks["count"],
            ),
            title=_("Would have fired"),
        )
        app.publish("chart")

    def action_clear_marks(self) -> None:
        app = ta(self)
        chart = app.store.chart
        if app.store.fire_marks.pop((chart.symbol, chart.timeframe), None) is not None:
            app.publish("chart")


def start_row(
    lines: list[dict[str, Any]], picked: str | None, payload: dict[str, Any] | None
) -> int:
    """The row the lines table's cursor rests on: the line picked before, while it lasts;
    else the line nearest the last price (the far lines on top are rarely the ones a trader
    tests with ``t`` or alerts on with ``enter``)."""
    ids = [ln["id"] for ln in lines]
    if picked in ids:
        return ids.index(picked)
    closes = ((payload or {}).get("bars") or {}).get("close") or []
    if not closes:
        return 0
    last = float(closes[-1])
    return min(range(len(lines)), key=lambda i: abs(float(lines[i]["price"]) - last))


def touch_distance(payload: dict[str, Any]) -> float:
    """How close counts as a touch for ``t``: a quarter of the chart's average bar range
    (the price's own scale, whatever the symbol)."""
    bars = payload["bars"]
    ranges = [h - lo for h, lo in zip(bars["high"], bars["low"], strict=False)]
    average = sum(ranges) / len(ranges) if ranges else 0.0
    return round(max(average / 4, 1e-5), 6)


def when(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") if t else "—"
