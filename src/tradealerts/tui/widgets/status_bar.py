"""The status bar: server, connection state, tier, requests left this hour, the quota message
and the time in the person's timezone."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tradealerts.client.lang import N_, _, ngettext
from tradealerts.tui.base import ta

__all__ = ["StatusBar"]

_STATE_STYLE = {"live": "bold green", "logged out": "bold red"}
#: the connection's states (the store keeps the English word: styles and tests key on it)
_STATES = {"live": N_("live"), "logged out": N_("logged out"), "connecting": N_("connecting"),
           "unreachable": N_("unreachable"), "reconnecting": N_("reconnecting")}  # fmt: skip


#: the store's countdowns (``reconnecting in 12s``, ``maintenance: reconnecting in 12m``,
#: see tui/stream.py), the time left after the prefix
_COUNTDOWNS = {
    "maintenance: reconnecting in ": N_("maintenance: reconnecting in {time}"),
    "reconnecting in ": N_("reconnecting in {time}"),
}


def _said_state(state: str) -> str:
    """The connection's state in the user's language (the store keeps the English)."""
    for prefix, said in _COUNTDOWNS.items():
        if state.startswith(prefix):
            return _(said).format(time=state.removeprefix(prefix))
    return _(_STATES.get(state, state))


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; }"

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, lambda what: self.refresh() if what != "price" else None)
        from tradealerts.tui.widgets.notice_banner import NoticeBanner

        if not self.screen.query(NoticeBanner):  # every screen with a status bar shows it
            self.screen.mount(NoticeBanner())
        self.set_interval(1.0, self.refresh)  # the clock

    def render(self) -> Text:
        app = ta(self)
        store = app.store
        out = Text(no_wrap=True, overflow="ellipsis")
        server = app.client.base_url.split("://", 1)[-1]
        out.append(f" {server} ")
        state = store.connection
        style = _STATE_STYLE.get(state, "bold yellow")
        out.append(f"● {_said_state(state)} ", style=style)
        out.append(f"│ {store.tier} ", style="bold")
        feed = app.feed_label(store.chart.symbol)
        if feed:  # the open chart's market: closed, or its data delayed (issue #29)
            out.append(f"│ {store.chart.symbol} {feed} ", style="bold yellow")
        rl = app.requests_left
        if rl is not None:
            left = _("{remaining}/{limit} req left").format(remaining=rl.remaining, limit=rl.limit)
            out.append(f"│ {left} ")
        if store.quota:
            out.append(f"│ {store.quota} ", style="bold red")
        unseen = store.unseen()
        if unseen:
            new = ngettext("{count} new alert", "{count} new alerts", unseen).format(count=unseen)
            out.append(f"│ {new} ", style="bold magenta")
        out.append(f"│ {app.local(app.clock()).strftime('%H:%M:%S %Z')}")
        return out
