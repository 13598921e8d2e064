"""Issue #24 item 5, live everywhere: an alert made elsewhere (the CLI's API calls, here
from a client of its own) is drawn on the open chart and belled on the watchlist at once,
through the stream's ``alerts_changed`` event, without opening the Alerts screen or pressing
a key; and the watchlist's bell shows at 120 and 80 columns."""

from __future__ import annotations

from typing import Any

from tests.tui.conftest import Person, log_in, started, until
from textual.widgets import DataTable

from tradealerts.client import AsyncClient, endpoints
from tradealerts.client.chart import window
from tradealerts.core.alerts import AlertCreate


def bell_shown(table: DataTable[Any], row: str) -> bool:
    """The row's bell is set and its column lies inside the pane (not scrolled off)."""
    if str(table.get_cell(row, "bell")).strip() != "🔔":
        return False
    left = 0
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        if column.key.value == "bell":
            return left + width <= table.scrollable_content_region.width
        left += width
    return False


async def test_an_alert_made_elsewhere_is_drawn_and_belled_at_once(make_app, person: Person):
    from tradealerts.tui.screens.alerts import AlertsScreen
    from tradealerts.tui.screens.chart import ChartScreen
    from tradealerts.tui.screens.dashboard import DashboardScreen
    from tradealerts.tui.widgets.chart_view import ChartView
    from tradealerts.tui.widgets.watchlist import Watchlist

    await log_in(person)
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        await pilot.press("C")
        screen = await until(pilot, lambda: app.screen if isinstance(app.screen, ChartScreen)
                             else None, what="the chart")  # fmt: skip
        view = screen.query_one(ChartView)
        await until(pilot, lambda: view.chart.static_draws, what="the chart drawn")
        # a level inside the drawn range (a far one is left off, as a far line is); a bar a
        # time at most, so it stays active when the replay crosses it
        bars = window(app.store.chart_payload(), view.visible_bars())["bars"]
        level = round((min(bars["low"]) + max(bars["high"])) / 2, 5)
        spec = {"symbol": "EURUSD", "timeframe": "H1", "condition": "crossing_up",
                "level": level, "frequency": "once_per_bar"}  # fmt: skip
        async with AsyncClient(person.server.url) as c:  # the CLI's calls
            made = await c.run(endpoints.alert_create(AlertCreate.model_validate(spec)))
        label = f"#{made.id}"
        await until(pilot, lambda: label in view.render().plain, what="the level on the chart")
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        table = app.screen.query_one(Watchlist)
        await until(pilot, lambda: bell_shown(table, "EURUSD:H1"), what="the bell at 120")
        dashboard_chart = app.screen.query_one(ChartView)
        await until(pilot, lambda: label in dashboard_chart.render().plain,
                    what="the level on the dashboard's chart")  # fmt: skip
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: bell_shown(table, "EURUSD:H1"), what="the bell at 80")
        await pilot.resize_terminal(120, 40)
        # deleted elsewhere: the bell goes, and the chart no longer draws the level
        async with AsyncClient(person.server.url) as c:
            await c.run(endpoints.alert_delete(made.id))
        await until(pilot, lambda: not str(table.get_cell("EURUSD:H1", "bell")).strip(),
                    what="the bell gone")  # fmt: skip
        await until(pilot, lambda: label not in dashboard_chart.render().plain,
                    what="the level gone")  # fmt: skip
        assert not any(isinstance(s, AlertsScreen) for s in app.screen_stack)
