"""The command palette (``ctrl+p``): every screen, chart toggle and symbol, "group: Action"."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["TradeAlertsCommands"]


class TradeAlertsCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: Any = self.app
        out: list[tuple[str, Callable[[], Any], str]] = [
            (f"screen: {name.capitalize()}", partial(app.switch_mode, name), f"Show {name}")
            for name in ("dashboard", "chart", "alerts", "history", "notifications", "account")
        ]
        if app.is_admin:
            out.append(("screen: Admin", app.action_admin, "The owner's dashboard"))
        out += [
            ("chart: Toggle lines", partial(app.run_action, "screen.toggle_lines"), "l"),
            ("chart: Toggle fractals", partial(app.run_action, "screen.toggle_fractals"), "f"),
            ("app: Help", app.action_help, "Keys of this screen"),
        ]
        tf = app.store.chart.timeframe
        for sym in sorted(app.store.access):
            out.append((f"symbol: {sym}", partial(app._jumped, sym), f"Open {sym} {tf}"))
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
