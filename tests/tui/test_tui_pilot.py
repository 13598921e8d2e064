"""The TUI driven by Textual's pilot against a real server on loopback, fed by the replay
file: log in, the dashboard, live frames, timeframes and tiers, alerts through the form."""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from tests.server.serverkit import set_tier
from tests.tui.conftest import Person, log_in, started, toasts, until
from textual.widgets import DataTable, Input

from tradealerts.client import AsyncClient, endpoints
from tradealerts.client.chart import render, window
from tradealerts.tui.screens.alert_form import AlertFormScreen
from tradealerts.tui.screens.alerts import AlertsScreen
from tradealerts.tui.screens.dashboard import DashboardScreen
from tradealerts.tui.screens.login import LoginScreen
from tradealerts.tui.widgets.chart_view import ChartView
from tradealerts.tui.widgets.feed import AlertFeed
from tradealerts.tui.widgets.watchlist import Watchlist


def _cell(table: DataTable[Any], row: str, column: str) -> str:
    """A cell's text (the alerts table leads each with a space: it has no cell padding)."""
    return str(table.get_cell(row, column)).strip()


async def test_log_in_from_the_login_screen_and_the_dashboard_fills(make_app, person: Person):
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="the login screen")
        await pilot.click("#email")
        await pilot.press(*person.email)
        await pilot.click("#password")
        await pilot.press(*"wrong password", "enter")
        error = app.screen.query_one("#error")
        await until(pilot, lambda: "Logging" not in str(error.render()) and str(error.render()),
                    what="the refusal")  # fmt: skip
        assert isinstance(app.screen, LoginScreen)  # still asking
        app.screen.query_one("#password", Input).value = person.password
        await pilot.click("#login")
        await started(pilot)
        assert isinstance(app.screen, DashboardScreen)
        store = app.store
        assert store.tier == "FREE"
        payload = store.chart_payload()
        assert payload is not None and payload["symbol"] == "EURUSD" and payload["bars"]["time"]
        table = app.screen.query_one(Watchlist)
        assert "EURUSD:H1" in table.rows
        assert _cell(table, "EURUSD:H1", "last") not in ("", "…")
        chart = app.screen.query_one(ChartView).render().plain
        assert "EURUSD H1" in chart and "Lines:" in chart
        status = str(app.screen.query_one("StatusBar").render())
        assert "live" in status and "FREE" in status and "req left" in status


async def test_a_price_frame_moves_the_last_price_and_a_closed_bar_adds_a_candle(running):
    app = running.app
    store = app.store
    payload = store.chart_payload()
    seen_prices = {store.last("EURUSD", "H1")}
    first_bar = payload["bars"]["time"][-1]
    # the replay streams 4 ticks a bar: the last price and the forming candle follow them
    await until(running, lambda: store.last_price.get("EURUSD") not in seen_prices | {None},
                what="a price frame")  # fmt: skip

    def forming_follows() -> bool:
        forming = store.chart_payload()["forming"]
        return bool(forming) and forming["close"] == store.last_price["EURUSD"]

    await until(running, forming_follows, what="the forming candle at the last price")
    await until(running, lambda: store.chart_payload()["bars"]["time"][-1] > first_bar,
                what="a closed bar")  # fmt: skip
    await running.pause(0.3)  # the chart repaints at most 20 times a second
    table = app.screen.query_one(Watchlist)
    shown = _cell(table, "EURUSD:H1", "last")
    assert shown.replace(",", "") == f"{store.last('EURUSD', 'H1'):.5f}"


def as_closed(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its forming candle as one more closed bar: drawn by plotext with the
    rest (the drawing the forming candle put on top of the closed part must match)."""
    bars = {k: list(v) for k, v in payload["bars"].items()}
    for key, column in bars.items():
        column.append(payload["forming"].get(key, 0))
    return {**payload, "bars": bars, "forming": None}


async def test_a_price_frame_repaints_the_forming_candle_without_drawing_the_closed_chart_again(
    running,
):
    """A price frame inside the chart's range, within a bar: the chart shows the new last price
    and forming candle as plotext draws a candle, and plotext did not draw the
    closed candles, fractals and lines again (what made a frame cost tens of ms)."""
    app = running.app
    store = app.store
    view = app.screen.query_one(ChartView)
    await until(running, lambda: view.chart.static_draws, what="the chart drawn")

    def inside(payload: dict[str, Any]) -> bool:
        forming = payload.get("forming")
        bars = window(payload, view.visible_bars())["bars"]
        return bool(forming) and min(bars["low"]) < forming["low"] <= forming["high"] < max(
            bars["high"]
        )

    checked = 0
    for _ in range(40):
        await running.pause(0.2)  # shown: a repaint waits 1/FPS at most
        payload = store.chart_payload()
        price = store.last_price.get("EURUSD")
        before = (payload, payload["bars"]["time"][-1], inside(payload))
        draws = view.chart.static_draws
        shown = view.render().plain
        await until(running, lambda p=price: store.last_price.get("EURUSD") != p,
                    what="a price frame")  # fmt: skip
        await running.pause(0.2)
        payload = store.chart_payload()
        if (payload, payload["bars"]["time"][-1], inside(payload)) != (before[0], before[1], True):
            continue  # re-read, a closed bar, a new high or low: the closed part is drawn again
        if not before[2]:
            continue
        now = view.render().plain
        last = f"last {store.last_price['EURUSD']:.5f}"
        assert last in now and now != shown
        drawn, opts = view.inputs(payload, view.size.width, view.size.height)
        whole = render(as_closed(drawn), opts)  # plotext draws that candle itself
        assert now == Text.from_ansi(whole).plain
        assert view.chart.static_draws == draws
        checked += 1
        if checked == 2:
            return
    raise AssertionError("no price frame inside the range within a bar")


async def test_timeframe_keys_and_a_locked_one_on_free_says_which_plan(running):
    app = running.app
    await running.press("6")  # H4: open to FREE
    await until(running, lambda: app.store.chart.timeframe == "H4")
    await until(running, lambda: app.store.chart_payload() is not None, what="the H4 payload")
    assert "EURUSD H4" in app.screen.query_one(ChartView).render().plain
    await running.press("5")  # H2: PRO only
    await running.pause(0.1)
    assert app.store.chart.timeframe == "H4"  # nothing changed
    assert any("EURUSD H2 needs the PRO plan" in t for t in toasts(app))
    bar = str(app.screen.query_one("TimeframeBar").render())
    assert re.search(r"5H2 PRO|PRO: [\d ]*\b5\b", bar) and "6H4" in bar, bar


async def test_a_tier_change_is_applied_live(running, person: Person):
    app = running.app
    await running.press("5")
    await running.pause(0.1)
    assert app.store.chart.timeframe != "H2"
    set_tier(person.server, person.email, "PRO")
    await until(running, lambda: app.store.tier == "PRO", what="the tier event")
    assert any("Your plan is now PRO" in t for t in toasts(app))
    await until(running, lambda: app.store.lock("EURUSD", "H2") is None)
    await running.press("5")
    await until(running, lambda: app.store.chart.timeframe == "H2")
    await until(running, lambda: (app.store.chart_payload() or {}).get("timeframe") == "H2")
    assert "PRO" not in str(app.screen.query_one("TimeframeBar").render())


async def _open_form(pilot: Any) -> AlertFormScreen:
    app = pilot.app
    await pilot.press("A")
    await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
    await pilot.press("n")
    return await until(pilot, lambda: app.screen if isinstance(app.screen, AlertFormScreen)
                       else None, what="the form")  # fmt: skip


async def test_the_form_shows_a_field_error_and_sends_nothing_then_creates(running, person):
    app = running.app
    form = await _open_form(running)
    assert form.query_one("#row-level").display and not form.query_one("#row-lower").display
    level = form.query_one("#level", Input)
    level.focus()
    await running.press(*"-5")
    await running.pause(0.1)
    error = str(form.query_one("#error-level").render())
    assert "greater than 0" in error
    await running.press("ctrl+s")
    await running.pause(0.3)
    assert app.screen is form  # refused locally
    async with AsyncClient(person.server.url) as c:
        assert (await c.run(endpoints.alerts())).items == []  # nothing was sent
    level.value = "1.5"
    await running.pause(0.1)
    assert not form.query_one("#error-level").display
    await running.press("ctrl+s")
    await until(running, lambda: isinstance(app.screen, AlertsScreen))
    await until(running, lambda: app.store.alerts is not None and app.store.alerts.items)
    alert = app.store.alerts.items[0]
    assert (alert.symbol, alert.timeframe, alert.condition.value, alert.level) == (
        "EURUSD", "H1", "crossing_up", 1.5)  # fmt: skip
    table = app.screen.query_one(DataTable)
    assert _cell(table, str(alert.id), "values") == "1.5"


async def test_pause_resume_and_delete(running, person: Person):
    app = running.app
    async with AsyncClient(person.server.url) as c:
        from tradealerts.core.alerts import AlertCreate

        made = await c.run(endpoints.alert_create(AlertCreate(
            symbol="EURUSD", timeframe="H1", condition="crossing_down", level=0.5)))  # fmt: skip
    await running.press("A")
    await until(running, lambda: isinstance(app.screen, AlertsScreen))
    await running.press("r")
    table = app.screen.query_one(DataTable)
    await until(running, lambda: str(made.id) in table.rows)
    await running.press("space")
    await until(running, lambda: _cell(table, str(made.id), "status") == "paused")
    await running.press("space")
    await until(running, lambda: _cell(table, str(made.id), "status") == "active")
    await running.press("d")
    await running.pause(0.2)
    await running.press("y")
    await until(running, lambda: str(made.id) not in table.rows, what="the deletion")
    async with AsyncClient(person.server.url) as c:
        assert (await c.run(endpoints.alerts())).items == []


async def test_a_fired_alert_appears_in_the_feed_and_as_a_toast(running, person: Person):
    app = running.app
    async with AsyncClient(person.server.url) as c:
        from tradealerts.core.alerts import AlertCreate

        # above any EURUSD price: the engine fires it on the next replayed tick
        await c.run(endpoints.alert_create(AlertCreate(
            symbol="EURUSD", timeframe="H1", condition="greater_than", level=0.5,
            message="EURUSD above {{level}} at {{price}}")))  # fmt: skip
    await until(running, lambda: app.store.feed, what="the fired alert")
    item = app.store.feed[0]
    assert item.data["message"].startswith("EURUSD above 0.5")
    feed = app.screen.query_one(AlertFeed)
    await until(running, lambda: str(item.id) in feed.rows, what="the feed's row")
    assert any(t.startswith("EURUSD above 0.5") for t in toasts(app))
    assert not item.seen and "1 new alert" in str(app.screen.query_one("StatusBar").render())
    await until(running, lambda: [a.fire_count for a in app.store.alerts.items] == [1],
                what="the alerts list refreshed")  # fmt: skip
    # the alerts screen's last column: fires in the last 24 hours and the health flags
    alert_id = str(app.store.alerts.items[0].id)
    await running.press("A")
    await until(running, lambda: isinstance(app.screen, AlertsScreen))
    table = app.screen.query_one(DataTable)
    await until(running, lambda: alert_id in table.rows, what="the alerts table")
    assert _cell(table, alert_id, "health") == "1 ok"


async def test_not_logged_in_shows_the_login_screen(make_app, person: Person):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert app.store.connection == "logged out"


async def test_a_session_ended_on_the_server_goes_back_to_login(make_app, person: Person):
    await log_in(person)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        async with AsyncClient(person.server.url) as c:
            await c.logout()  # the refresh token is revoked on the server
        person.server.clock.advance(days=1)  # ...and the access token has expired
        await pilot.press("A")
        await pilot.press("r")  # a request (or the stream's reauth): 401, the refresh refused
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="the login screen")
        assert app.store.connection == "logged out"


async def test_an_alert_on_a_chart_line_from_enter(running, person: Person):
    from tradealerts.tui.screens.chart import ChartScreen, LinesTable
    from tradealerts.tui.screens.line import LineScreen

    app = running.app
    await running.press("C")
    await until(running, lambda: isinstance(app.screen, ChartScreen))
    table = app.screen.query_one(LinesTable)
    await until(running, lambda: table.row_count > 0, what="the chart's lines")
    line = table.lines[table.cursor_row]
    await running.press("enter")
    screen = await until(running, lambda: app.screen if isinstance(app.screen, LineScreen)
                         else None, what="the line's screen")  # fmt: skip
    info = str(screen.query_one("#line-info").render())
    assert line["id"] in info and "origin" in info
    await running.click("#create")
    await until(running, lambda: isinstance(app.screen, ChartScreen))
    async with AsyncClient(person.server.url) as c:
        items = (await c.run(endpoints.alerts())).items
    kind = "line_break" if line["shape"] == "horizontal" else "trendline_break"
    assert [(a.line_id, a.condition.value) for a in items] == [(line["id"], kind)]


async def test_the_chart_lines_start_at_the_line_nearest_the_price(running, person):
    """``t`` and ``enter`` act on the line under the cursor: it starts on the line nearest
    the last close (not the highest, far above the price), and stays on the line picked."""
    from tradealerts.tui.screens.chart import ChartScreen, LinesTable

    app = running.app
    await running.press("C")
    await until(running, lambda: isinstance(app.screen, ChartScreen))
    table = app.screen.query_one(LinesTable)
    await until(running, lambda: table.row_count > 1, what="the chart's lines")
    last = app.store.chart_payload()["bars"]["close"][-1]
    gaps = [abs(ln["price"] - last) for ln in table.lines]
    nearest = gaps.index(min(gaps))
    assert nearest != 0, "the data put the nearest line on top: this test would prove nothing"
    assert table.cursor_row == nearest
    other = (nearest + 1) % table.row_count
    table.move_cursor(row=other)
    table.rebuild(force=True)  # a resize, a new bar: the pick is kept
    assert table.cursor_row == other


async def test_every_binding_shown_by_help_exists_and_does_what_it_says(running, person):
    from textual.command import CommandPalette

    from tradealerts.tui.screens.help import HelpScreen
    from tradealerts.tui.screens.jump import JumpScreen

    app = running.app
    store = app.store
    await running.press("question_mark")
    help_screen = await until(running, lambda: app.screen if isinstance(app.screen, HelpScreen)
                              else None)  # fmt: skip
    shown = list(help_screen.shown)
    table = help_screen.query_one(DataTable)
    assert table.row_count == len(shown) >= 20
    await running.press("escape")
    await until(running, lambda: isinstance(app.screen, DashboardScreen))
    dashboard = app.screen
    active = dashboard.active_bindings

    async def press(key: str) -> None:
        await running.press(key)
        await running.pause(0.15)

    checked = set()
    for keys, label, _action in shown:
        for key in keys.split(" / "):
            assert key in active, (key, label)
        key = keys.split(" / ")[0]
        chart = store.chart
        if label.startswith("Timeframe "):
            tf = label.split()[-1]
            await press(key)
            if store.lock("EURUSD", tf) is None:
                assert chart.timeframe == tf, label
            else:
                assert chart.timeframe != tf and any(f"EURUSD {tf} needs" in t
                                                      for t in toasts(app)), label  # fmt: skip
            await press("4")  # back to H1
        elif label in ("Pan back", "Pan forward"):
            await press("left")
            before = chart.offset
            await press(key)
            assert chart.offset != before, label
        elif label in ("Zoom in", "Zoom out"):
            chart.count = 0
            await press(key)
            shown_bars = app.screen.query_one(ChartView).visible_bars()
            assert (shown_bars < 57) if label == "Zoom in" else (shown_bars > 57), label
            chart.count = 0
        elif label in ("Lines", "Fractals"):
            attr = label.lower()
            before = getattr(chart, attr)
            await press(key)
            assert getattr(chart, attr) is not before, label
        elif label == "Watch pair":
            await press(key)
            await until(running, lambda: [(w.symbol, w.timeframe) for w in store.watchlist]
                        == [("EURUSD", "H1")])  # fmt: skip
        elif label == "Unwatch":
            dashboard.query_one(Watchlist).focus()
            await press(key)
            await until(running, lambda: store.watchlist == [])
        elif label == "Next pane":
            before = app.focused
            await press(key)
            assert app.focused is not before
        elif label == "Help":
            await press(key)
            assert isinstance(app.screen, HelpScreen)
            await press("escape")
        elif label == "Symbol":
            await press(key)
            assert isinstance(app.screen, JumpScreen)
            await running.press(*"xau", "enter")
            await until(running, lambda: store.chart.symbol == "XAUUSD")
            await press("slash")
            await running.press(*"eurusd", "enter")
            await until(running, lambda: store.chart.symbol == "EURUSD")
        elif label == "Command palette":
            await press(key)
            assert isinstance(app.screen, CommandPalette)
            await press("escape")
        elif label in ("Dashboard", "Chart", "Alerts", "History", "Notifications", "Account"):
            await press(key)
            assert app.current_mode == label.lower(), label
            await press("D")
        elif label == "Admin (owner)":  # a FREE user, not an administrator
            await press(key)
            assert app.current_mode == "dashboard"
            assert any("for the server's administrators" in t for t in toasts(app))
        elif label == "Open its chart":  # enter on the watchlist (focused at the start)
            watchlist = dashboard.query_one(Watchlist)
            watchlist.focus()
            await press(key)
            assert (chart.symbol, chart.timeframe) == watchlist.selected_pair(), label
        elif label == "Quit":
            continue  # last, below
        else:
            raise AssertionError(f"no check for {label!r}: add one")
        checked.add(label)
        assert isinstance(app.screen, DashboardScreen), label
    await press("q")
    assert app._exit_renderables is not None or not app.is_running


def test_the_watchlist_change_has_the_symbols_digits_and_no_negative_zero():
    from tradealerts.tui.widgets.watchlist import change_text

    tiny = 1.08123 - 1.081230000001  # a float difference that rounds to nothing, below zero
    assert tiny < 0
    flat = change_text("EURUSD", tiny)
    assert (flat.plain, str(flat.style)) == ("0.00000", "")
    assert change_text("USDJPY", -1e-7).plain == "0.000"
    down = change_text("EURUSD", -0.000123)
    assert (down.plain, str(down.style)) == ("-0.00012", "red")
    up = change_text("USDJPY", 0.0126)
    assert (up.plain, str(up.style)) == ("+0.013", "green")
