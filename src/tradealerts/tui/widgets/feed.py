"""The live feed of fired alerts: time, pair, message; newest first; unseen ones marked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tradealerts.tui.base import ta

__all__ = ["AlertFeed"]


class AlertFeed(DataTable[Any]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def on_mount(self) -> None:
        for key, label in (("new", ""), ("time", "Time"), ("pair", "Pair"), ("msg", "Alert")):
            self.add_column(label, key=key)
        ta(self).changed.subscribe(self, self._on_change)
        self.rebuild()

    def _on_change(self, what: str) -> None:
        if what in ("all", "feed"):
            self.rebuild()

    def on_focus(self) -> None:
        """Looking at the feed is seeing it."""
        for item in ta(self).store.feed:
            item.seen = True
        self.rebuild()
        ta(self).publish("status")

    def rebuild(self) -> None:
        app = ta(self)
        self.clear()
        for item in app.store.feed:
            data = item.data
            try:
                when = app.local(datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00")))
                shown = when.strftime("%m-%d %H:%M:%S")
            except (KeyError, ValueError):
                shown = "?"
            self.add_row(
                Text("●", style="bold magenta") if not item.seen else "",
                shown,
                f"{data.get('symbol', '')} {data.get('timeframe', '')}",
                Text(str(data.get("message", ""))),
                key=str(item.id),
            )
