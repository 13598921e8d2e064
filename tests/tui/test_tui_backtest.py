"""Issue #26 in the TUI, driven by Textual's pilot against a real server replaying EURUSD H1:
``t`` on a chart line marks where alerts on it would have fired, the alert form's **Test**
shows the count and verdict before anything is saved, and ``c`` on an alert's history draws
its real fires on its chart."""

from __future__ import annotations

import re
from typing import Any

from tests.tui.conftest import Person, toasts, until
from textual.widgets import DataTable, Input, Label

from tradealerts.client import AsyncClient, endpoints
from tradealerts.client.chart import marked_bars, window
from tradealerts.core.alerts import AlertCreate
from tradealerts.tui.screens.alert_form import AlertFormScreen
from tradealerts.tui.screens.alerts import AlertsScreen
from tradealerts.tui.screens.chart import ChartScreen, LinesTable, touch_distance
from tradealerts.tui.screens.history import HistoryScreen
from tradealerts.tui.widgets.chart_view import ChartView


def drawn(app: Any) -> str:
    return str(app.screen.query_one(ChartView).render())


def marks_in_view(app: Any) -> int:
    """How many of the pair's fire markers fall on the bars the chart draws."""
    store = app.store
    view = app.screen.query_one(ChartView)
    payload = window(store.chart_payload(), view.visible_bars(), store.chart.offset)
    times = list(payload["bars"]["time"])
    if payload.get("forming"):
        times.append(payload["forming"]["time"])
    key = (store.chart.symbol, store.chart.timeframe)
    return len(marked_bars(times, store.fire_marks.get(key, ())))


async def test_t_on_a_chart_line_marks_where_alerts_on_it_would_have_fired(
    running: Any, person: Person
) -> None:
    app = running.app
    await running.press("C")
    await until(running, lambda: isinstance(app.screen, ChartScreen))
    table = app.screen.query_one(LinesTable)
    await until(running, lambda: table.row_count > 0, what="the chart's lines")
    # a line the price came near while it existed (a line confirmed a few bars ago, far from
    # the price, has nothing to show): asked of the server beforehand, as ``t`` asks it
    distance = touch_distance(app.store.chart_payload())
    specs = [{"symbol": "EURUSD", "timeframe": "H1", "condition": "line_touch",
              "line_id": ln["id"], "distance": distance, "frequency": "once_per_bar"}
             for ln in table.lines]  # fmt: skip
    async with AsyncClient(person.server.url) as c:
        counts = [r["count"] for r in (await c.run(endpoints.alerts_backtest(specs, 500)))[
            "results"]]  # fmt: skip
    touched = next(i for i, n in enumerate(counts) if n > 0)
    table.move_cursor(row=touched)
    line = table.lines[touched]
    app.store.chart.count = 500  # every bar held on screen: each marker can show
    await running.press("t")
    key = ("EURUSD", "H1")
    await until(running, lambda: key in app.store.fire_marks, what="the backtest's markers")
    notice = next(t for t in toasts(app) if t.startswith(f"On {line['id']}"))
    m = re.search(r"touches within [\d.]+, once a bar: (\d+) fires? .*Breaks \(\w+\): (\d+)",
                  notice)  # fmt: skip
    assert m, notice
    marks = app.store.fire_marks[key]
    assert len(marks) == int(m.group(1)) + int(m.group(2)) > 0, notice
    assert " over " in notice and "intra-bar" in notice
    await running.press("l")  # the lines' labels off: a touch's marker is on its line
    await until(running, lambda: "◆" in drawn(app), what="the markers drawn")
    assert marks_in_view(app) > 0
    await running.press("t")  # again: the markers go
    await until(running, lambda: "◆" not in drawn(app), what="the markers cleared")
    assert key not in app.store.fire_marks
    from tradealerts.tui.screens.help import HelpScreen

    await running.press("question_mark")  # the keys are in the help
    helped = await until(running, lambda: app.screen if isinstance(app.screen, HelpScreen)
                         else None)  # fmt: skip
    described = {label: keys for keys, label, _ in helped.shown}
    assert described["Test an alert on the line"] == "t"
    assert described["Clear fire markers"] == "x"
    await running.press("escape")


async def test_the_forms_test_shows_the_count_and_verdict_before_saving(running, person) -> None:
    app = running.app
    await running.press("A")
    await until(running, lambda: isinstance(app.screen, AlertsScreen))
    await running.press("n")
    form = await until(running, lambda: app.screen if isinstance(app.screen, AlertFormScreen)
                       else None, what="the form")  # fmt: skip
    result = form.query_one("#test-result", Label)
    form.query_one("#level", Input).value = "-1"
    await running.pause(0.1)
    await running.click("#test")
    await running.pause(0.3)
    assert form.tested is None and "greater than 0" in str(form.query_one("#error-level").render())
    far = "9"  # never reached: dormant
    form.query_one("#level", Input).value = far
    await running.click("#test")
    await until(running, lambda: "Would have fired" in str(result.render()), what="the count")
    assert form.tested is not None and form.tested["count"] == 0
    assert "0 fires over" in str(result.render()) and "dormant" in str(result.render())
    near = f"{app.store.last('EURUSD', 'H1'):.5f}"
    form.query_one("#level", Input).value = near
    await running.press("ctrl+t")
    await until(running, lambda: form.tested is not None and form.tested["count"] > 0,
                what="a count of fires")  # fmt: skip
    count = form.tested["count"]
    text = str(result.render())
    assert f"{count} fire" in text and form.tested["verdict"] in text and "intra-bar" in text
    assert app.screen is form  # still the form: nothing saved
    async with AsyncClient(person.server.url) as c:
        assert (await c.run(endpoints.alerts())).items == []


async def test_an_alerts_history_drawn_on_its_chart(running, person: Person) -> None:
    app = running.app
    async with AsyncClient(person.server.url) as c:
        made = await c.run(endpoints.alert_create(AlertCreate(
            symbol="EURUSD", timeframe="H1", condition="greater_than", level=0.5)))  # fmt: skip
    await until(running, lambda: app.store.feed, what="the alert's fire")
    await running.press("A")
    await until(running, lambda: isinstance(app.screen, AlertsScreen))
    await running.press("r")
    table = app.screen.query_one(DataTable)
    await until(running, lambda: str(made.id) in table.rows)
    table.move_cursor(row=table.get_row_index(str(made.id)))
    await running.press("h")
    await until(running, lambda: isinstance(app.screen, HistoryScreen))
    await running.press("c")
    await until(running, lambda: isinstance(app.screen, ChartScreen), what="the chart")
    key = ("EURUSD", "H1")
    await until(running, lambda: key in app.store.fire_marks)
    async with AsyncClient(person.server.url) as c:
        fired = (await c.run(endpoints.alert_history(alert_id=made.id))).items
    assert [p for _, p in app.store.fire_marks[key]] == [ev.price for ev in fired]
    await until(running, lambda: app.store.chart_payload() is not None)
    await until(running, lambda: "◆" in drawn(app), what="the real fire on the chart")
    assert any(f"Alert #{made.id}: 1 of its 1 fires marked" in t for t in toasts(app))
