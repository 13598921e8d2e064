"""``tradealerts tui``: the full-screen session (Textual). Imported only by that command.

``make_tui(client)`` builds the app; ``run()`` is what the command calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradealerts.tui.app import TradeAlertsApp

__all__ = ["make_tui", "run"]


def make_tui(client: Any, **options: Any) -> TradeAlertsApp:
    """The app over an ``AsyncClient`` (options: symbol, timeframe, bell, clock)."""
    from tradealerts.tui.app import TradeAlertsApp

    return TradeAlertsApp(client, **options)


def run(server: str | None = None, **options: Any) -> int:
    """Run the app until the person quits; the exit code of the command."""
    from tradealerts.client import AsyncClient
    from tradealerts.tui.errors import setup_logging

    setup_logging()
    app = make_tui(AsyncClient(server), **options)
    app.run()
    return int(app.return_code or 0)
