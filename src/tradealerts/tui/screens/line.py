"""A line of the chart (``enter`` on it): its id, price, origin, and an alert on that very line
(``line_break`` / ``trendline_break`` / ``line_touch`` with its ``line_id``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import ValidationError
from rich.cells import cell_len, set_cell_size
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tradealerts.client.lang import N_, _
from tradealerts.core.alerts import AlertCreate, validate_alert
from tradealerts.core.symbols import format_price

__all__ = ["LineScreen", "line_conditions"]


def line_conditions(line: dict[str, Any]) -> list[str]:
    brk = "line_break" if line["shape"] == "horizontal" else "trendline_break"
    return [brk, "line_touch"]


def _when(t: Any) -> str:
    return datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%d %H:%M UTC") if t else "—"


class LineScreen(ModalScreen[AlertCreate | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, line: dict[str, Any], symbol: str, timeframe: str) -> None:
        super().__init__()
        self.line, self.symbol, self.timeframe = line, symbol, timeframe

    def compose(self) -> ComposeResult:
        ln, sym = self.line, self.symbol
        if ln["shape"] == "horizontal":
            origin = _("fractal of {time}, confirmed {confirmed}").format(
                time=_when(ln.get("origin_time")), confirmed=_when(ln.get("confirmed_time"))
            )
        else:
            at = _("{price} at {time}")
            origin = " → ".join(
                at.format(price=format_price(sym, ln[p]), time=_when(ln[t]))
                for p, t in (("p1", "t1"), ("p2", "t2"))
            )
        pair = f"{sym} {self.timeframe}"
        resistance = ln["kind"] == "resistance"
        title = _("{pair} resistance line") if resistance else _("{pair} support line")
        rows = ((_("id"), ln["id"]), (_("price"), format_price(sym, ln["price"])),
                (_("origin"), origin))  # fmt: skip
        width = max(cell_len(name) for name, _value in rows) + 2
        with Vertical(id="form"):
            yield Label(title.format(pair=pair), classes="title")
            yield Static(
                "\n".join(set_cell_size(name, width) + str(value) for name, value in rows),
                id="line-info",
            )
            options = [(c, c) for c in line_conditions(ln)]
            with Horizontal(classes="row"):
                yield Label(_("Alert on"), classes="label")
                yield Select(options, value=options[0][0], allow_blank=False, id="condition")
            with Horizontal(classes="row", id="row-distance"):
                yield Label(_("Distance"), classes="label")
                yield Input(id="distance", placeholder=_("how close is a touch (price)"))
            yield Label("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button(_("Create alert"), variant="primary", id="create")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        self._toggle()
        self.query_one("#condition", Select).focus()

    @on(Select.Changed)
    def _toggle(self) -> None:
        touch = self.query_one("#condition", Select).value == "line_touch"
        self.query_one("#row-distance").display = touch

    def build(self) -> AlertCreate | str:
        cond = str(self.query_one("#condition", Select).value)
        data: dict[str, Any] = {"symbol": self.symbol, "timeframe": self.timeframe,
                                "condition": cond, "line_id": self.line["id"]}  # fmt: skip
        if cond == "line_touch":
            text = self.query_one("#distance", Input).value.strip()
            try:
                data["distance"] = float(text) if text else None
            except ValueError:
                return _("distance: must be a number")
        try:
            return validate_alert(data, now=datetime.now(UTC), allow_insecure_loopback=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err.get("loc", ())) or "alert"
            return f"{field}: {err['msg'].removeprefix('Value error, ')}"

    @on(Button.Pressed, "#create")
    def create(self) -> None:
        result = self.build()
        if isinstance(result, str):
            self.query_one("#error", Label).update(result)
            return
        self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
