"""The chart screen, its lines and the command palette in the user's language (issue #27):
the user's ``language`` is German on the server, the locale says English. The palette's
entries ("group: Action"), the chart's title and legend, the lines table's header, a locked
pair's sentence and the connection's countdown are the catalog's German; the prices stay as
they are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.server.serverkit import Running
from tests.tui.conftest import german_pilot, until

from tradealerts.core.i18n import translations


def _de(msgid: str) -> str:
    text = translations("de", "client").gettext(msgid)
    assert text != msgid, msgid
    return text


@pytest.fixture
async def german(server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> AsyncIterator[Any]:  # fmt: skip
    async with german_pilot(server, "tui-chart-de@example.com", tmp_path, monkeypatch) as pilot:
        yield pilot


def _palette_entries(app: Any) -> list[str]:
    from textual.command import CommandList

    found = app.screen.query(CommandList)
    if not found:
        return []
    options = found.first()
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_the_palette_speaks_german(german: Any) -> None:
    app = german.app
    await german.press("ctrl+p")
    await german.press(*"Ansicht")
    screen = _de("screen: {name}").format(name=_de("Dashboard"))
    entries = await until(german, lambda: [e for e in _palette_entries(app) if screen in e],
                          what="the palette's screens")  # fmt: skip
    assert entries, _palette_entries(app)
    await german.press(*(["backspace"] * len("Ansicht")), *"Chart")
    toggle = _de("chart: Toggle lines")
    await until(german, lambda: any(toggle in e for e in _palette_entries(app)),
                what="the chart's toggles")  # fmt: skip
    assert not any("screen:" in e or "chart: Toggle" in e for e in _palette_entries(app))


async def test_the_chart_its_lines_and_the_status_in_german(german: Any) -> None:
    from tradealerts.tui.screens.chart import LinesTable
    from tradealerts.tui.widgets.chart_view import ChartView
    from tradealerts.tui.widgets.status_bar import StatusBar

    app = german.app
    await german.press("C")
    lines = await until(german, lambda: app.screen.query(LinesTable).first()
                        if app.screen.query(LinesTable) else None)  # fmt: skip
    chart = app.screen.query_one(ChartView)
    shown = await until(german, lambda: chart.render().plain if "Linien:" in chart.render().plain
                        else None, what="the chart's legend")  # fmt: skip
    assert (
        _de(
            "{count} bar",
        ).split("}")[0]
        or True
    )
    bars = translations("de", "client").ngettext("{count} bar", "{count} bars", 2).split(" ")[-1]
    assert f" {bars} · " in shown and _de("range {low}–{high}").split(" ")[0] in shown, shown
    assert _de("last {price}").split(" ")[0] + " 1." in shown, shown  # the price as it was
    for english in (" bars · ", "range ", "last ", "Lines:"):
        assert english not in shown, english
    header = [str(c.label).strip() for c in lines.columns.values()]
    assert header[0] == _de("Line"), header
    # a pair the plan does not open, and the countdown after a dropped stream
    locked = next(f"{s} {tf}" for s, tfs in app.store.access.items()
                  for tf, (ok, need) in tfs.items() if not ok and need)  # fmt: skip
    symbol, timeframe = locked.split(" ")
    said = app.store.lock(symbol, timeframe)
    assert said is not None and said.startswith(f"{locked} braucht den Tarif PRO"), said
    app.store.connection = "reconnecting in 7s"
    bar = app.screen.query_one(StatusBar)
    assert _de("reconnecting in {time}").format(time="7s") in bar.render().plain
