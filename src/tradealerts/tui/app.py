"""The ``TradeAlertsApp``: one session against one server.

    start ─► logged in? ── no ─► LoginScreen ─┐
              │ yes                           │
              ▼                               ▼
          load: me, symbols, watchlist, alerts, history, chart ─► stream (one per session)
                                                                    │ price/bar/alert/tier
                                     Store (tui.store) ◄────────────┘
                                        │ ``changed`` signal
                                  screens redraw what they show

In three layers, one concern each: ``tui.calls.ServerCalls`` (every API call and what its
failure means on screen), ``tui.stream.StreamSession`` (the stream and its frames), and
``TradeAlertsApp`` here (the session's life, modes, keys and actions).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.signal import Signal

from tradealerts.client import AsyncClient, RateLimit, endpoints
from tradealerts.client.lang import N_, _, language_for, use_language
from tradealerts.tui.base import spawn
from tradealerts.tui.errors import Handled, log
from tradealerts.tui.store import SPARK_BARS, Store
from tradealerts.tui.stream import BACKOFF_CAP, StreamSession

__all__ = ["BACKOFF_CAP", "TradeAlertsApp"]


class TradeAlertsApp(StreamSession):
    """The full-screen session. Build it with ``tradealerts.tui.make_tui``."""

    CSS_PATH = "app.tcss"
    TITLE = "tradealerts"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {lambda: _commands()}
    MODES: ClassVar[dict[str, str | Callable[..., Any]]] = {
        name: (lambda name=name: _screen(name))
        for name in ("dashboard", "chart", "alerts", "history", "notifications", "account", "admin")
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", N_("Help")),
        Binding("q", "quit", N_("Quit")),
        Binding("slash", "jump", N_("Symbol")),
        Binding("D", "switch_mode('dashboard')", N_("Dashboard"), show=False),
        Binding("C", "switch_mode('chart')", N_("Chart"), show=False),
        Binding("A", "switch_mode('alerts')", N_("Alerts"), show=False),
        Binding("H", "switch_mode('history')", N_("History"), show=False),
        Binding("N", "switch_mode('notifications')", N_("Notifications"), show=False),
        Binding("U", "switch_mode('account')", N_("Account"), show=False),
        Binding("O", "admin", N_("Admin (owner)"), show=False),
    ]

    def __init__(
        self,
        client: AsyncClient,
        *,
        symbol: str | None = None,
        timeframe: str | None = None,
        bell: bool = True,
        clock: Callable[[], datetime] | None = None,
        colour: bool = True,
    ) -> None:
        super().__init__()
        self.client = client
        # the user's language (cached by the client at login and on every preferences
        # answer), or the locale's before login; widgets translate as they are built
        use_language(language_for(client.session.base_url))
        self.store = Store()
        if symbol:
            self.store.chart.symbol = symbol
        if timeframe:
            self.store.chart.timeframe = timeframe
        self._chart_given = bool(symbol or timeframe)
        self.ring_bell = bell
        self.clock = clock or (lambda: datetime.now(UTC))
        self.colour = colour
        self.changed: Signal[str] = Signal(self, "changed")
        self._attempt = 0
        self._logging_in = False
        self.requests_left: RateLimit | None = None
        self._price_due, self._price_at = False, 0.0
        self.not_modified = 0
        self.session_started = asyncio.Event()
        self._streamed = False

    # -- life ------------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.client.credentials is None:
            self.logged_out(_("Log in to start."))
        else:
            self.start_session()

    async def on_unmount(self) -> None:
        await self.client.aclose()

    def start_session(self) -> None:
        self.store.connection = "connecting"
        self._streamed = False  # the session's load reads the alerts
        spawn(self, self._load, group="load", exclusive=True)

    async def _load(self) -> None:
        """Fill the store in three round trips: who (alone: it refreshes the token if due),
        then what they may see, then the chart beside the alerts and history."""
        s = self.store
        t0 = time.perf_counter()
        try:
            s.me = await self.api(endpoints.me())
            symbols, watchlist, s.preferences = await asyncio.gather(
                self.api(endpoints.symbols()),
                self.api(endpoints.watchlist()),
                self.api(endpoints.preferences(), quiet=True),
            )
            s.set_symbols(symbols)
            s.watchlist = watchlist
            spawn(self, self._load_feed_state, group="feedstate", exclusive=True)
            if s.watchlist and not self._chart_given:
                s.chart.symbol, s.chart.timeframe = s.watchlist[0].symbol, s.watchlist[0].timeframe
            self._apply_theme()
            self.publish("all")
            _chart, (s.alerts, page) = await asyncio.gather(
                self._first_chart(), asyncio.gather(
                    self.api(endpoints.alerts()), self.api(endpoints.alert_history(per_page=20))
                )
            )  # fmt: skip
            for item in reversed(page.items):
                s.apply_alert(item.id, item.model_dump(mode="json"))
            for seen in s.feed:
                seen.seen = True  # history, not news
            s.last_event_id = page.items[0].id if page.items else 0
            self.publish("all")
            self.restart_stream()
            await asyncio.gather(*(self._spark(w.symbol, w.timeframe) for w in s.watchlist))
        except Handled:
            self.publish("all")
            return
        log.info("session loaded in %.0f ms", (time.perf_counter() - t0) * 1e3)
        self.publish("all")
        # the objects of a loaded session (Textual's DOM and styles, the payloads) live as
        # long as it: out of the collector's full passes, which walked all of them every few
        # seconds of live frames (tens of ms each, a frame waiting behind: bench_tui_live p99)
        gc.collect()
        gc.freeze()
        self.session_started.set()

    async def _first_chart(self) -> None:
        s = self.store
        why = s.lock(s.chart.symbol, s.chart.timeframe)
        if why is None:
            await self.fetch_chart()
        else:
            self.say(why, title=_("Locked"), severity="warning")

    async def _spark(self, symbol: str, timeframe: str) -> None:
        """A watchlist pair's last bars (its sparkline and change), once."""
        s = self.store
        if (symbol, timeframe) in s.payloads or s.lock(symbol, timeframe) is not None:
            return
        s.payloads[(symbol, timeframe)] = await self.api(
            endpoints.indicators(symbol, timeframe, SPARK_BARS)
        )
        self.publish("watchlist")

    def _apply_theme(self) -> None:
        prefs = self.store.preferences
        if prefs is not None and prefs.theme in self.available_themes:
            self.theme = prefs.theme
        if prefs is not None:  # chosen elsewhere meanwhile: what is shown from now on speaks it
            use_language(prefs.language)

    def open_chart(self, symbol: str, timeframe: str) -> bool:
        """Show a pair; a locked one says which plan opens it and changes nothing."""
        s = self.store
        why = s.lock(symbol, timeframe)
        if why is not None:
            self.say(why, title=_("Locked"), severity="warning")
            return False
        before = s.stream_pairs()
        s.chart.symbol, s.chart.timeframe, s.chart.offset = symbol, timeframe, 0
        self.publish("chart")
        spawn(self, self._fetch_chart_quietly, group="chart", exclusive=True)
        if s.stream_pairs() != before:
            self.restart_stream()
        return True

    # -- actions ---------------------------------------------------------------------------
    @property
    def is_admin(self) -> bool:
        return bool(getattr(self.store.me, "is_admin", False))

    def action_admin(self) -> None:
        """The owner's dashboard, for an account with the admin role (the server checks too)."""
        if self.is_admin:
            self.switch_mode("admin")
        else:
            self.say(
                _("The Admin screen is for the server's administrators."),
                title=_("Admin"),
                severity="warning",
            )

    async def action_switch_mode(self, mode: str) -> None:
        """``D``, ``C``, ``A`` …: the mode's own screen, never a screen opened on top of it
        earlier (``A`` after an alert's history and a move away showed that history again)."""
        await self.switch_mode(mode)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            self.pop_screen()

    def action_help(self) -> None:
        from tradealerts.tui.screens.help import HelpScreen, bindings_of

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(bindings_of(self.screen)))

    def action_jump(self) -> None:
        from tradealerts.tui.screens.jump import JumpScreen

        self.push_screen(JumpScreen(), self._jumped)

    def _jumped(self, symbol: str | None) -> None:
        if not symbol:
            return
        s = self.store
        tf = s.chart.timeframe
        if s.lock(symbol, tf) is not None:  # keep the timeframe when it can, else the first open
            tf = next((t for t, (ok, _) in s.access.get(symbol, {}).items() if ok), tf)
        self.open_chart(symbol, tf)


def _commands() -> Any:
    from tradealerts.tui.commands import TradeAlertsCommands

    return TradeAlertsCommands


def _screen(name: str) -> Any:
    """The screen of a mode, imported when first shown."""
    from tradealerts.tui import screens

    return screens.SCREENS[name]()
