"""Issue #29 in the TUI (pilot): the stream's ``feed`` event shows on the status bar and in
the chart's title, on the person's clock: "data delayed since HH:MM" when the feed stalls,
nothing once it is back, "market closed (opens …)" on a weekend. A real server on the MT5
stand-in (quotes move only when the test says) whose clock the test moves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.server.feedkit import feed_server, tick_until_seen
from tests.server.serverkit import register_and_login
from tests.tui.conftest import started, until

from tradealerts.client import AsyncClient
from tradealerts.tui import make_tui


async def test_feed_state_on_the_status_bar_and_the_chart_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradealerts.tui.screens.chart import ChartScreen
    from tradealerts.tui.widgets.chart_view import ChartView
    from tradealerts.tui.widgets.status_bar import StatusBar

    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("TRADEALERTS_TOKEN", raising=False)
    # tokens outlive the weekend the clock is moved to
    with feed_server(tmp_path / "srv", symbols=("EURUSD",), access_token_minutes=10_080) as (
        srv,
        mt5,
    ):
        token = register_and_login(srv, "tui-feed@example.com")["access_token"]
        c = srv.client(token)
        assert c.patch("/api/user/preferences", json={"timezone": "Asia/Tokyo"}).is_success
        await asyncio.to_thread(tick_until_seen, srv, mt5, token)
        async with AsyncClient(srv.url) as login:
            await login.login("tui-feed@example.com", "correct horse battery")
        app = make_tui(AsyncClient(srv.url), symbol="EURUSD", timeframe="H1", bell=False,
                       clock=srv.clock)  # fmt: skip
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot)
            await pilot.press("C")
            screen = await until(pilot, lambda: app.screen if isinstance(app.screen, ChartScreen)
                                 else None, what="the chart")  # fmt: skip
            view = screen.query_one(ChartView)
            bar = screen.query_one(StatusBar)
            await until(pilot, lambda: view.chart.static_draws, what="the chart drawn")
            assert "delayed" not in bar.render().plain
            # the feed stalls: delayed since the last price, Wednesday 12:00 UTC (21:00 Tokyo)
            srv.clock.advance(seconds=45)
            said = "EURUSD data delayed since 21:00"
            await until(pilot, lambda: said in bar.render().plain, what="delayed on the bar")
            await until(pilot, lambda: "data delayed since 21:00" in view.render().plain,
                        what="delayed in the chart title")  # fmt: skip
            # prices again: the bar and the title say nothing more
            mt5._advance(5.0)
            await until(pilot, lambda: "delayed" not in bar.render().plain, what="back")
            await until(pilot, lambda: "delayed" not in view.render().plain, what="title back")
            # Saturday: the market is closed until Sunday 22:00 UTC, Monday 07:00 in Tokyo
            srv.clock.advance(days=3)
            said = "EURUSD market closed (opens Mon 07:00)"
            await until(pilot, lambda: said in bar.render().plain, what="closed on the bar")
            await until(pilot, lambda: "market closed" in view.render().plain,
                        what="closed in the chart title")  # fmt: skip
