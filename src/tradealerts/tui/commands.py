"""The command palette (``ctrl+p``): every screen, chart toggle and symbol, "group: Action",
in the user's language."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tradealerts.client.lang import N_, _

__all__ = ["TradeAlertsCommands"]


#: the palette's screens: (mode, its name, as the app's keys name it)
_SCREENS = (
    ("dashboard", N_("Dashboard")),
    ("chart", N_("Chart")),
    ("alerts", N_("Alerts")),
    ("history", N_("History")),
    ("notifications", N_("Notifications")),
    ("account", N_("Account")),
)


class TradeAlertsCommands(Provider):
    """The palette's entries, "group: Action", in the user's language (built when shown)."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: Any = self.app
        screen = _("screen: {name}")
        out: list[tuple[str, Callable[[], Any], str]] = [
            (screen.format(name=_(name)), partial(app.switch_mode, mode),
             _("Show the {name} screen").format(name=_(name)))
            for mode, name in _SCREENS
        ]  # fmt: skip
        if app.is_admin:
            out.append((screen.format(name=_("Admin")), app.action_admin,
                        _("The owner's dashboard")))  # fmt: skip
        out += [
            (_("chart: Toggle lines"), partial(app.run_action, "screen.toggle_lines"), "l"),
            (_("chart: Toggle fractals"), partial(app.run_action, "screen.toggle_fractals"), "f"),
            (_("app: Help"), app.action_help, _("Keys of this screen")),
        ]
        tf = app.store.chart.timeframe
        for sym in sorted(app.store.access):
            out.append((_("symbol: {symbol}").format(symbol=sym), partial(app._jumped, sym),
                        _("Open {pair}").format(pair=f"{sym} {tf}")))  # fmt: skip
        return out

    async def discover(self) -> Hits:
        for name, run, help_text in self._commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)
