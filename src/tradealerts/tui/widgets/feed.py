"""The live feed of fired alerts: time, pair, message; newest first; unseen ones marked. The
message is cut (…) to the pane's width: a row wider than the pane gave the feed a horizontal
scrollbar, a stray ``▉`` at 80 columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable

from tradealerts.client.lang import N_, _
from tradealerts.tui.base import ta

__all__ = ["AlertFeed"]

TIME_FORMAT = "%m-%d %H:%M:%S"


class AlertFeed(DataTable[Any]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def on_mount(self) -> None:
        for key, label in (("new", ""), ("time", N_("Time")), ("pair", N_("Pair")),
                           ("msg", N_("Alert"))):  # fmt: skip
            self.add_column(_(label) if label else label, key=key)
        ta(self).changed.subscribe(self, self._on_change)
        self.rebuild()

    def _on_change(self, what: str) -> None:
        if what in ("all", "feed"):
            self.rebuild()

    def on_resize(self, _event: events.Resize) -> None:
        self.rebuild()

    def _message_width(self, pairs: list[str]) -> int | None:
        """The cells left for the message: the pane's width less the other columns, their
        padding and room for the vertical scrollbar (there once the feed outgrows the pane).
        None before the first layout (the resize that follows rebuilds the rows)."""
        inner = self.region.shrink(self.styles.gutter).width
        if inner <= 0:
            return None
        pad = 2 * self.cell_padding
        time_width = len(datetime(2000, 1, 1).strftime(TIME_FORMAT))
        pair_width = max([cell_len(_("Pair")), *map(len, pairs)])
        others = (1 + pad) + (time_width + pad) + (pair_width + pad) + pad
        return max(8, inner - others - self.styles.scrollbar_size_vertical)

    def on_focus(self) -> None:
        """Looking at the feed is seeing it."""
        for item in ta(self).store.feed:
            item.seen = True
        self.rebuild()
        ta(self).publish("status")

    def rebuild(self) -> None:
        app = ta(self)
        self.clear()
        for column in self.columns.values():  # clear() keeps the widest cell's width
            column.content_width = column.label.cell_len
        feed = app.store.feed
        pairs = [f"{i.data.get('symbol', '')} {i.data.get('timeframe', '')}" for i in feed]
        width = self._message_width(pairs)
        for item, pair in zip(feed, pairs, strict=True):
            data = item.data
            try:
                when = app.local(datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00")))
                shown = when.strftime(TIME_FORMAT)
            except (KeyError, ValueError):
                shown = "?"
            message = Text(str(data.get("message", "")), no_wrap=True)
            if width is not None:
                message.truncate(width, overflow="ellipsis")
            self.add_row(
                Text("●", style="bold magenta") if not item.seen else "",
                shown,
                pair,
                message,
                key=str(item.id),
            )
