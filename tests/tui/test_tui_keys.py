"""Issue #24, the TUI's keys: ``?`` lists ``enter`` where it does something (the dashboard's
watchlist, the chart's lines), and ``A`` opens the alerts table even after an alert's history
was opened there and the person moved away."""

from __future__ import annotations

from tests.tui.conftest import Person, until

from tradealerts.client import AsyncClient, endpoints
from tradealerts.core.alerts import AlertCreate


async def _help_rows(pilot) -> dict[str, str]:
    from tradealerts.tui.screens.help import HelpScreen, key_label

    app = pilot.app
    await pilot.press("question_mark")
    screen = await until(pilot, lambda: app.screen if isinstance(app.screen, HelpScreen)
                         else None, what="the help")  # fmt: skip
    rows = {desc: key_label(keys) for keys, desc, _ in screen.shown}
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
    return rows


async def test_help_lists_enter_on_the_dashboard_and_the_chart(running) -> None:
    from tradealerts.tui.screens.chart import ChartScreen, LinesTable

    app = running.app
    assert (await _help_rows(running)).get("Open its chart") == "enter"
    await running.press("C")
    screen = await until(running, lambda: app.screen if isinstance(app.screen, ChartScreen)
                         else None)  # fmt: skip
    await until(running, lambda: screen.query_one(LinesTable).row_count > 0, what="the lines")
    assert (await _help_rows(running)).get("Alert on the line") == "enter"


async def test_a_opens_the_alerts_table_after_a_history_and_a_move_away(
    running, person: Person
) -> None:
    from tradealerts.tui.screens.alerts import AlertsScreen
    from tradealerts.tui.screens.dashboard import DashboardScreen
    from tradealerts.tui.screens.history import HistoryScreen

    app = running.app
    async with AsyncClient(person.server.url) as c:
        await c.run(
            endpoints.alert_create(
                AlertCreate.model_validate(
                    {
                        "symbol": "EURUSD",
                        "timeframe": "H1",
                        "condition": "crossing_up",
                        "level": 9.0,
                    }
                )
            )
        )
    await running.press("A")
    screen = await until(running, lambda: app.screen if isinstance(app.screen, AlertsScreen)
                         else None)  # fmt: skip
    await until(running, lambda: screen.selected() is not None, what="the alert in the table")
    await running.press("h")
    await until(running, lambda: isinstance(app.screen, HistoryScreen), what="its history")
    await running.press("D")
    await until(running, lambda: isinstance(app.screen, DashboardScreen))
    await running.press("A")
    await until(running, lambda: app.current_mode == "alerts")
    await running.pause(0.2)
    assert isinstance(app.screen, AlertsScreen), app.screen
