"""The TUI in an 80×24 terminal, driven by Textual's pilot against a real server: every
timeframe key on the chart's bar, the alerts table's compact eight columns, the feed and the
lines table without a horizontal scrollbar (the stray ``▉``), hidden lines said so, a PRO
account's plan with no upgrade offer, and every screen's words whole (issue #24)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.server.serverkit import fire_event, set_tier
from tests.tui.conftest import Person, log_in, open_account, shown_actions, started, toasts, until
from textual.widgets import DataTable

from tradealerts.client import AsyncClient, endpoints
from tradealerts.core.alerts import AlertCreate
from tradealerts.tui.screens.alerts import AlertsScreen
from tradealerts.tui.store import TIMEFRAMES
from tradealerts.tui.widgets.chart_view import ChartView
from tradealerts.tui.widgets.feed import AlertFeed

SIZE = (80, 24)


def _fits(table: DataTable[Any]) -> bool:
    """No horizontal scrollbar: every column inside the table's own width."""
    return (
        table.virtual_size.width <= table.scrollable_content_region.width
        and not table.show_horizontal_scrollbar
    )


def _bar(app: Any) -> str:
    """The bar's text as the screen shows it: a text wider than the bar is cut there."""
    bar = app.screen.query_one("TimeframeBar")
    text = bar.render()
    assert text.cell_len <= bar.size.width, (text.plain, bar.size.width)
    return str(text.plain)


async def test_all_nine_timeframe_keys_show_at_80_columns_free_and_pro(make_app, person: Person):
    await log_in(person)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await until(pilot, lambda: app.store.lock("EURUSD", "H2"), what="FREE's locks")
        bar = _bar(app)
        # FREE on the 52-cell chart pane: the open ones named, the locked ones by key and plan
        for i in range(1, 10):
            assert re.search(rf"(^|\s){i}:?[MHD]\d+\b|PRO: [\d ]*\b{i}\b", bar), (i, bar)
        assert "PRO" in bar and "…" not in bar, bar
        set_tier(person.server, person.email, "PRO")
        await until(pilot, lambda: app.store.lock("EURUSD", "H2") is None, what="PRO")
        await pilot.pause(0.2)
        bar = _bar(app)
        # PRO: every timeframe by name; 1:M5 … 8:H12 filled the pane and 9:D1 was cut
        for i, tf in enumerate(TIMEFRAMES, 1):
            assert re.search(rf"(^|\s){i}:?{tf}(\s|$)", bar), (i, tf, bar)
        assert "PRO" not in bar and "…" not in bar, bar


async def test_the_alerts_table_shows_its_columns_within_80(make_app, person: Person):
    set_tier(person.server, person.email, "PRO")
    await log_in(person)
    async with AsyncClient(person.server.url) as c:
        made = [
            await c.run(endpoints.alert_create(AlertCreate(**spec)))
            for spec in (
                dict(symbol="EURUSD", timeframe="M15", condition="entering_channel",
                     lower=1.03, upper=1.05, frequency="once_per_bar_close",
                     expires_at=datetime.now(UTC) + timedelta(days=7)),
                dict(symbol="EURUSD", timeframe="H1", condition="line_break",
                     side="resistance", buffer=0.0005, confirm_bars=2),
                dict(symbol="EURUSD", timeframe="H1", condition="moving_down_pct",
                     amount=0.5, bars=3, frequency="once_per_minute"),
            )
        ]  # fmt: skip
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 3, what="the alerts")
        await pilot.pause(0.2)
        labels = [c.label.plain.strip() for c in table.columns.values()]
        # under 100 columns, no "Fired" (issue #24: a line alert's values pushed it and
        # "Health" out of sight); "Health" keeps the last 24 hours' fires
        assert labels == ["#", "Status", "Pair", "Condition", "Values", "Freq", "Expires",
                          "Health"]  # fmt: skip
        assert _fits(table), (table.virtual_size, table.scrollable_content_region)
        rows = {a.id: [str(c).strip() for c in table.get_row(str(a.id))] for a in made}
        channel, line, move = (rows[a.id] for a in made)
        assert channel[3:6] == ["entering_channel", "1.03–1.05", "1/close"], channel
        assert re.fullmatch(r"\d\d [A-Z][a-z]{2}", channel[6]), channel  # 7 days: the day
        assert line[3:6] == ["line_break", "R +0.0005 ×2", "once"], line
        assert move[3:6] == ["moving_down_pct", "0.5%/3 bars", "1/min"], move
        assert [r[7:] for r in (channel, line, move)] == [["0 ok"]] * 3


async def test_the_feed_and_the_lines_table_keep_within_their_panes(make_app, person: Person):
    await log_in(person)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        long = "EURUSD H1 closed through resistance 1.03428 at 1.03530 " * 2
        fire_event(person.server, person.email, message=long.strip())
        feed = app.screen.query_one(AlertFeed)
        await until(pilot, lambda: feed.row_count == 1, what="the fired alert")
        await pilot.pause(0.2)
        assert _fits(feed), (feed.virtual_size, feed.scrollable_content_region)
        message = str(feed.get_cell_at((0, 3)))
        assert message.endswith("…") and long.startswith(message[:-1]), message
        await pilot.press("C")
        from tradealerts.tui.screens.chart import LinesTable

        lines = await until(pilot, lambda: app.screen.query(LinesTable).first()
                            if app.screen.query(LinesTable) else None)  # fmt: skip
        await until(pilot, lambda: lines.row_count > 0, what="the chart's lines")
        await pilot.pause(0.2)
        assert _fits(lines), (lines.virtual_size, lines.scrollable_content_region)
        # the whole id, on one line (a trendline's on two, broken after a dash)
        row = str(lines.get_cell(lines.lines[0]["id"], "id")).replace("\n", "").replace(" ", "")
        assert row == lines.lines[0]["id"], row


async def test_lines_off_says_hidden_not_none(make_app, person: Person):
    await log_in(person)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        chart = app.screen.query_one(ChartView)
        await until(pilot, lambda: "Lines: " in chart.render().plain, what="the legend")
        await pilot.press("l")
        await until(pilot, lambda: "Lines: hidden (l)" in chart.render().plain, what="hidden")
        assert "none active" not in chart.render().plain
        await pilot.press("l")
        await until(pilot, lambda: "Lines: hidden" not in chart.render().plain)


async def test_a_pro_account_sees_its_plan_and_no_upgrade_offer(make_app, person: Person):
    """This server takes no payments: PRO was set by its owner."""
    set_tier(person.server, person.email, "PRO")
    await log_in(person)
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        screen = await open_account(pilot)
        profile = str(screen.query_one("#profile").render())
        offer = str(screen.query_one("#upgrade").render())
        assert "Plan: PRO" in profile
        assert "Upgrade" not in offer and "payment page" not in offer, offer
        assert "owner manages your plan" in offer, offer
        await until(pilot, lambda: "upgrade" not in shown_actions(screen), what="no offer")
        assert "manage_billing" not in shown_actions(screen)  # no portal on this server
        await pilot.press("u")
        await until(pilot, lambda: "You are on PRO already." in toasts(app), what="the answer")
        assert not any("ask its owner" in t for t in toasts(app))
        assert "ask its owner" not in str(screen.query_one("#upgrade").render())


def screen_text(app: Any) -> list[str]:
    """The screen as the terminal shows it, line by line (what a person reads)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def whole_on_a_line(text: list[str], *words: str, footer: bool = True) -> None:
    """Each of ``words`` whole on one line of the screen: a header, a date, a condition, an
    id cut (``hr-17903664…``) or moved out of sight fails."""
    shown = "\n".join(text)
    # the footer's way to every key of the screen, whole (issue #24: ``? He``)
    assert not footer or "? Help" in text[-1], shown
    for word in words:
        assert any(word in line for line in text), (word, shown)
    assert not re.search(r"\b[hd][rs]-[\d-]*…", shown), shown


async def _owner_of(person: Person) -> None:
    from tradealerts.server.db.models import User

    with person.server.app.state.sessions() as s:
        s.query(User).filter_by(email=person.email).one().is_admin = True
        s.commit()


async def test_every_screen_keeps_its_words_whole_at_80_by_24(make_app, person: Person):
    """Dashboard, Chart (its title, the lines' ids), Alerts (every header, a line alert's
    values), History, Notifications, Account, Admin and the help: each word a person reads,
    whole on one line of the 80×24 screen."""
    set_tier(person.server, person.email, "PRO")
    await _owner_of(person)
    await log_in(person)
    async with AsyncClient(person.server.url) as c:
        payload = await c.run(endpoints.indicators("EURUSD", "H1"))
        line_id = next(
            ln["id"]
            for ln in payload["horizontal_lines"]
            if ln["kind"] == "resistance" and ln.get("broken_time") is None
        )
        for spec in (
            dict(
                symbol="EURUSD",
                timeframe="H1",
                condition="line_break",
                side="resistance",
                line_id=line_id,
                buffer=0.0005,
                confirm_bars=2,
            ),
            dict(
                symbol="EURUSD",
                timeframe="M15",
                condition="entering_channel",
                lower=1.03,
                upper=1.05,
                frequency="once_per_bar_close",
                expires_at=datetime.now(UTC) + timedelta(days=7),
            ),
        ):
            await c.run(endpoints.alert_create(AlertCreate(**spec)))
    fire_event(person.server, person.email, condition="greater_than", level=1.09)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await until(pilot, lambda: "Lines: " in app.screen.query_one(ChartView).render().plain)
        await pilot.pause(0.3)
        whole_on_a_line(screen_text(app), "EURUSD H1", "Pair", "Last", "Time", "Alert",
                        "crossed")  # fmt: skip
        await pilot.press("C")
        from tradealerts.tui.screens.chart import LinesTable

        lines = await until(pilot, lambda: app.screen.query(LinesTable).first()
                            if app.screen.query(LinesTable) else None)  # fmt: skip
        await until(pilot, lambda: lines.row_count > 0, what="the chart's lines")
        await pilot.pause(0.3)
        picked = lines.lines[lines.cursor_row]  # the line nearest the price: in sight, whole
        if picked["shape"] == "horizontal":
            whole_on_a_line(screen_text(app), picked["id"])
        lines.move_cursor(row=0)  # then the top of the table
        await pilot.pause(0.3)
        shown = screen_text(app)
        # every id whole in the table, a trendline's on two lines (broken after a dash)
        for ln in lines.lines:
            cell = str(lines.get_cell(ln["id"], "id"))
            assert "…" not in cell and cell.replace("\n", "").replace(" ", "") == ln["id"], cell
        assert any(ln["shape"] == "diagonal" for ln in lines.lines), lines.lines
        # the chart's title (the pair, its timeframe and last price) and every id in sight
        whole_on_a_line(
            shown,
            "EURUSD H1 ·",
            "Line",
            "Id",
            *[ln["id"] for ln in lines.lines[:10] if ln["shape"] == "horizontal"],
        )
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        whole_on_a_line(screen_text(app), "Keys on this screen", "Arrows,", "tables;",
                        "panes;", "everywhere.", "Alert on the line", footer=False)  # fmt: skip
        await pilot.press("escape")
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2, what="the alerts")
        await pilot.pause(0.3)
        whole_on_a_line(screen_text(app), "Status", "Pair", "Condition", "Values", "Freq",
                        "Expires", "Health", "line_break", "entering_channel", line_id,
                        "1.03–1.05", "×2", "1/close", "0 ok")  # fmt: skip
        assert _fits(table), (table.virtual_size, table.scrollable_content_region)
        await pilot.press("H")
        await pilot.pause(0.6)
        day = app.local(datetime.now(UTC)).strftime("%Y-%m-%d")
        whole_on_a_line(screen_text(app), "Time", "Pair", "Condition", "Price", "Message",
                        "greater_than", day)  # fmt: skip
        await pilot.press("N")
        await pilot.pause(0.6)
        whole_on_a_line(screen_text(app), "Time", "Title", "Body", "Email verified", day)
        await pilot.press("O")
        await pilot.pause(0.6)
        whole_on_a_line(screen_text(app), "Stats", "Revenue", "Usage", "Errors", "users",
                        "sign-ups per day")  # fmt: skip
        await pilot.press("escape")
        await open_account(pilot)
        whole_on_a_line(screen_text(app), "Plan: PRO", "Timezone", "Alert bell",
                        "owner manages your")  # fmt: skip
