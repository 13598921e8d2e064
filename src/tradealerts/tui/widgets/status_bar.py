"""The status bar: server, connection state, tier, requests left this hour, the quota message
and the time in the person's timezone."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tradealerts.tui.base import ta

__all__ = ["StatusBar"]

_STATE_STYLE = {"live": "bold green", "logged out": "bold red"}


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; }"

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, lambda what: self.refresh() if what != "price" else None)
        self.set_interval(1.0, self.refresh)  # the clock

    def render(self) -> Text:
        app = ta(self)
        store = app.store
        out = Text(no_wrap=True, overflow="ellipsis")
        server = app.client.base_url.split("://", 1)[-1]
        out.append(f" {server} ")
        state = store.connection
        style = _STATE_STYLE.get(state, "bold yellow")
        out.append(f"● {state} ", style=style)
        out.append(f"│ {store.tier} ", style="bold")
        feed = app.feed_label(store.chart.symbol)
        if feed:  # the open chart's market: closed, or its data delayed (issue #29)
            out.append(f"│ {store.chart.symbol} {feed} ", style="bold yellow")
        rl = app.requests_left
        if rl is not None:
            out.append(f"│ {rl.remaining}/{rl.limit} req left ")
        if store.quota:
            out.append(f"│ {store.quota} ", style="bold red")
        unseen = store.unseen()
        if unseen:
            out.append(f"│ {unseen} new alert{'s' if unseen != 1 else ''} ", style="bold magenta")
        out.append(f"│ {app.local(app.clock()).strftime('%H:%M:%S %Z')}")
        return out
