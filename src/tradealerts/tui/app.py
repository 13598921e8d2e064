"""The ``TradeAlertsApp``: one session against one server.

    start ─► logged in? ── no ─► LoginScreen ─┐
              │ yes                           │
              ▼                               ▼
          load: me, symbols, watchlist, alerts, history, chart ─► stream (one per session)
                                                                    │ price/bar/alert/tier
                                     Store (tui.store) ◄────────────┘
                                        │ ``changed`` signal
                                  screens redraw what they show

Every API call goes through ``api()``, which turns errors into what the person sees: 401 → the
login screen, 403 → the tier's message, 429 → "quota used, frees at HH:MM", unreachable →
reconnecting; anything unexpected is logged to ``tui.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.signal import Signal

from tradealerts.client import (
    ApiError,
    AsyncClient,
    Call,
    NotLoggedIn,
    RateLimit,
    Unreachable,
    endpoints,
)
from tradealerts.client.lang import N_, _, language_for, use_language
from tradealerts.client.notices import describe, maintenance_wait
from tradealerts.tui.base import spawn
from tradealerts.tui.errors import Handled, log, log_file
from tradealerts.tui.store import CHART_BARS, SPARK_BARS, Store

__all__ = ["BACKOFF_CAP", "TradeAlertsApp"]

T = TypeVar("T")
BACKOFF_BASE, BACKOFF_CAP = 1.0, 30.0
#: Seconds without a byte (the server beats every 15 s) before the stream counts as dead.
STREAM_READ_TIMEOUT = 45.0
#: Seconds between two "price" updates of the widgets at most (frames between are coalesced).
PRICE_EVERY = 1 / 30
LINE_CONDITIONS = ("line_break", "trendline_break")


class TradeAlertsApp(App[None]):
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
        #: published with what changed: "all", "price", "bar", "chart", "alerts", "feed",
        #: "status", "watchlist"
        self.changed: Signal[str] = Signal(self, "changed")
        self._attempt = 0
        self._logging_in = False
        self.requests_left: RateLimit | None = None
        self._price_due, self._price_at = False, 0.0
        #: chart re-reads the server answered 304 (nothing new, no body)
        self.not_modified = 0
        self.session_started = asyncio.Event()
        #: the stream connected before (``alerts_changed`` is live only: a reconnect re-reads)
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

    def say(self, message: str, **options: Any) -> None:
        """A toast; the text is shown as it is (an alert's message is not markup)."""
        self.notify(message, markup=False, **options)

    def publish(self, what: str) -> None:
        self.changed.publish(what)

    # -- API calls -------------------------------------------------------------------------
    async def api(self, call: Call[T], *, quiet: bool = False) -> T:
        """Send a call; on failure tell the person (unless ``quiet``) and raise ``Handled``."""
        try:
            result = await self.client.run(call)
        except Exception as exc:
            self.handle_error(exc, quiet=quiet)
            raise Handled(str(exc)) from exc
        self._note_quota()
        self.publish("status")
        return result

    def _note_quota(self) -> None:
        """The requests left this hour: answers to parallel calls arrive in any order, so the
        lowest count of the current window is the true one (a later window replaces it)."""
        rl, seen = self.client.rate_limit, self.requests_left
        if rl is None:
            return
        if (
            seen is None
            or rl.reset > seen.reset
            or (rl.reset == seen.reset and rl.remaining < seen.remaining)
        ):
            self.requests_left = rl

    def handle_error(self, exc: BaseException, *, quiet: bool = False) -> None:
        """What each failure means on screen; the catch-all logs the traceback."""
        if isinstance(exc, NotLoggedIn) or (isinstance(exc, ApiError) and exc.status == 401):
            self.logged_out(getattr(exc, "message", _("Log in again.")))
        elif isinstance(exc, ApiError) and exc.status == 429:
            self.store.quota = _("quota used, frees at {time}").format(time=self.quota_frees(exc))
            self.say(self.store.quota, title=_("Request quota"), severity="warning")
        elif isinstance(exc, ApiError) and exc.status == 403:
            if not quiet:
                self.say(exc.message, title=_("Your plan"), severity="warning")
        elif isinstance(exc, ApiError):
            if not quiet:
                self.say(exc.message, severity="error")
        elif isinstance(exc, Unreachable):
            self.store.connection = "unreachable"
            if not quiet:
                self.say(exc.message, severity="error")
        else:
            log.error("unexpected error", exc_info=exc)
            self.say(
                _("Something went wrong ({error}); details in {file}").format(
                    error=type(exc).__name__, file=log_file()
                ),
                severity="error",
            )
        self.publish("status")

    def quota_frees(self, exc: ApiError | None = None) -> str:
        """When the hour's quota frees, in the person's timezone (HH:MM)."""
        rl = self.client.rate_limit
        if rl is not None and rl.reset:
            at = datetime.fromtimestamp(rl.reset, UTC)
        else:
            wait = exc.retry_after if exc is not None and exc.retry_after else 60
            at = self.clock() + timedelta(seconds=wait)
        return self.local(at).strftime("%H:%M")

    def local(self, when: datetime) -> datetime:
        prefs = self.store.preferences
        try:
            zone = ZoneInfo(prefs.timezone) if prefs is not None else UTC
        except (KeyError, ValueError):
            zone = UTC
        return when.astimezone(zone)

    def logged_out(self, why: str) -> None:
        from tradealerts.tui.screens.login import LoginScreen

        self.store.connection = "logged out"
        self.workers.cancel_group(self, "stream")
        self.publish("status")
        if not self._logging_in:
            self._logging_in = True
            self.push_screen(LoginScreen(why), self._after_login)

    def _after_login(self, _ok: Any) -> None:
        self._logging_in = False
        self.start_session()

    # -- the chart -------------------------------------------------------------------------
    async def fetch_chart(self) -> None:
        """The open chart's payload (the whole window; price frames move it after).

        Conditional: with the ``ETag`` of the payload held, an unchanged one is a bodiless 304
        and the payload held stays (it is the server's, moved by the frames since)."""
        s = self.store
        sym, tf = s.chart.symbol, s.chart.timeframe
        held = s.etags.get((sym, tf)) if (sym, tf) in s.payloads else None
        answer = await self.api(endpoints.indicators_if_changed(sym, tf, CHART_BARS, held))
        if answer.payload is not None:
            s.payloads[(sym, tf)] = answer.payload
        s.etags[(sym, tf)] = answer.etag
        self.not_modified += answer.payload is None
        self.publish("chart")

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

    async def _fetch_chart_quietly(self) -> None:
        with contextlib.suppress(Handled):
            await self.fetch_chart()

    # -- the stream ------------------------------------------------------------------------
    def restart_stream(self) -> None:
        spawn(self, self._stream, group="stream", exclusive=True)

    async def _stream(self) -> None:
        """One stream for the session; reconnects with back-off and ``Last-Event-ID``."""
        while True:
            s = self.store
            floor = 0.0
            try:
                last = str(s.last_event_id) if s.last_event_id is not None else None
                maintenance = None
                async for ev in self.client.events(
                    s.stream_pairs(),
                    last_event_id=last,
                    read_timeout=STREAM_READ_TIMEOUT,
                    on_retry=self._connected,
                ):
                    self._on_event(ev.event, ev.data, ev.id)
                    if ev.event == "reconnect":
                        maintenance = maintenance_wait(ev.retry, ev.data)
                why = "the server closed the stream"
                if maintenance is not None:  # the owner's announced window (issue #29)
                    await self._wait_maintenance(maintenance, ev.data)
                    continue
            except asyncio.CancelledError:
                raise
            except NotLoggedIn as exc:
                self.logged_out(exc.message)
                return
            except ApiError as exc:
                if exc.status == 401:
                    self.logged_out(exc.message)
                    return
                if exc.status == 429:
                    self.handle_error(exc)
                floor = float(exc.retry_after or 0)
                why = exc.message
            except Unreachable as exc:
                why = exc.message
            except Exception as exc:
                log.error("stream failed", exc_info=exc)
                why = type(exc).__name__
            log.info("stream down: %s", why)
            await self._back_off(floor)

    def _connected(self, _retry_ms: int) -> None:
        self._attempt = 0
        if self._streamed:  # a reconnect: alerts changed meanwhile sent no alerts_changed
            spawn(self, self._reload_alerts, group="alerts", exclusive=True)
            # nor feed frames (live only): the state now
            spawn(self, self._load_feed_state, group="feedstate", exclusive=True)
        self._streamed = True
        if self.store.connection != "live":
            self.store.connection = "live"
            self.publish("status")

    async def _back_off(self, floor: float) -> None:
        """Full-jitter exponential back-off, counted down on the status bar."""
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**self._attempt)
        delay = min(BACKOFF_CAP, max(floor, 0.5 + random.random() * ceiling))  # noqa: S311
        self._attempt += 1
        end = asyncio.get_running_loop().time() + delay
        while (left := end - asyncio.get_running_loop().time()) > 0:
            self.store.connection = f"reconnecting in {math.ceil(left)}s"
            self.publish("status")
            await asyncio.sleep(min(1.0, left))
        self.store.connection = "connecting"
        self.publish("status")

    def _on_event(self, kind: str, data: Any, event_id: str | None) -> None:
        s = self.store
        if kind == "price" and isinstance(data, dict):
            if s.apply_price(data):
                self._price_moved()
        elif kind == "bar" and isinstance(data, dict):
            if s.apply_bar(data):
                self.publish("bar")
                if (data.get("symbol"), data.get("timeframe")) == (
                    s.chart.symbol,
                    s.chart.timeframe,
                ):  # the lines may have changed: the payload is re-read once per closed bar
                    spawn(self, self._fetch_chart_quietly, group="chart", exclusive=True)
        elif kind == "alert" and isinstance(data, dict) and event_id and event_id.isdigit():
            if s.apply_alert(int(event_id), data):
                self._announce(data)
                self.publish("feed")
                spawn(self, self._reload_alerts, group="alerts", exclusive=True)
        elif kind == "alerts_changed":
            # made anywhere (the CLI, another TUI, an alerts file, a tier change): the
            # chart's lines, the table and the watchlist's bells follow without a key
            spawn(self, self._reload_alerts, group="alerts", exclusive=True)
        elif kind == "tier":
            self.say(
                _("Your plan is now {tier}.").format(tier=data.get("tier", "?")),
                title=_("Plan changed"),
            )
            spawn(self, self._tier_changed, group="load", exclusive=True)
        elif kind == "feed" and isinstance(data, dict):
            s.apply_feed(data)  # the status bar and the chart's title say it
            self.publish("status")
            self.publish("chart")
        elif kind == "gap" and isinstance(data, dict):
            self.say(str(data.get("message", "")), severity="warning", timeout=10)
        elif kind == "notice" and isinstance(data, dict) and isinstance(data.get("id"), int):
            self._on_notice(data)

    # -- maintenance notices (issue #29) ---------------------------------------------------
    def _on_notice(self, data: dict[str, Any]) -> None:
        """The banner shows the notice (a withdrawn one goes); a toast the first time."""
        known = data["id"] in self.store.notices
        if data.get("cancelled"):
            if self.store.notices.pop(data["id"], None) is not None:
                title, body = describe(data, self.local(self.clock()).tzinfo)
                self.say(body, title=title, timeout=10)
        else:
            self.store.notices[data["id"]] = data
            if not known:
                title, body = describe(data, self.local(self.clock()).tzinfo)
                self.say(body, title=title, severity="warning", timeout=15)
        self.publish("notices")

    async def _wait_maintenance(self, delay: float, data: Any) -> None:
        """Stay away as the server asked (bounded by ``MAINTENANCE_WAIT_CAP``), counting down
        on the status bar."""
        self._attempt = 0
        until = data.get("until") if isinstance(data, dict) else None
        self.say(
            _("The server is down for maintenance; reconnecting in {minutes} min.").format(
                minutes=math.ceil(delay / 60)
            ),
            title=_("Maintenance"),
            severity="warning",
            timeout=15,
        )
        log.info("maintenance until %s: reconnecting in %.0f s", until, delay)
        end = asyncio.get_running_loop().time() + delay
        while (left := end - asyncio.get_running_loop().time()) > 0:
            shown = f"{math.ceil(left)}s" if left < 120 else f"{math.ceil(left / 60)}m"
            self.store.connection = f"maintenance: reconnecting in {shown}"
            self.publish("status")
            await asyncio.sleep(min(1.0, left))
        self.store.connection = "connecting"
        self.publish("status")

    def _price_moved(self) -> None:
        """Publish "price" at once, or, within PRICE_EVERY of the last one, when that time is
        up: a fast symbol (or a stream catching up) costs the widgets at most 1/PRICE_EVERY
        updates a second, and the store always holds the newest price when they read it."""
        if self._price_due:
            return
        self._price_due = True
        wait = self._price_at + PRICE_EVERY - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._publish_price)
        else:
            self._publish_price()

    def _publish_price(self) -> None:
        self._price_due, self._price_at = False, time.monotonic()
        self.publish("price")

    def _announce(self, data: dict[str, Any]) -> None:
        critical = data.get("condition") in LINE_CONDITIONS
        title = _("{pair} alert").format(
            pair=f"{data.get('symbol', '')} {data.get('timeframe', '')}"
        )
        self.say(
            str(data.get("message", "")),
            title=title,
            severity="error" if critical else "information",
            timeout=20 if critical else 8,
        )
        prefs = self.store.preferences
        if self.ring_bell and (prefs is None or prefs.alert_bell):
            self.bell()

    async def _load_feed_state(self) -> None:
        """Each symbol's feed state now (a ``feed`` frame only says when it changes); a
        server without ``/api/feed`` leaves it unknown."""
        with contextlib.suppress(Handled):
            got = await self.api(endpoints.feed(), quiet=True)
            for item in got.get("symbols", []):
                self.store.apply_feed(item)
            self.publish("status")
            self.publish("chart")

    def feed_label(self, symbol: str) -> str:
        """``market closed (opens …)``, ``data delayed since HH:MM`` on the person's clock,
        or "" while the symbol is live (or nothing is known)."""
        from tradealerts.client.feedstate import LIVE, feed_label, zone_of

        item = self.store.market.get(symbol)
        if not item or item.get("state") == LIVE:
            return ""
        prefs = self.store.preferences
        zone = zone_of(prefs.timezone if prefs is not None else None)
        return feed_label(item, zone, self.clock())

    async def _reload_alerts(self) -> None:
        try:
            self.store.alerts = await self.api(endpoints.alerts(), quiet=True)
        except Handled:
            return
        self.publish("alerts")

    async def _tier_changed(self) -> None:
        s = self.store
        try:
            s.me = await self.api(endpoints.me())
            s.set_symbols(await self.api(endpoints.symbols()))
            s.alerts = await self.api(endpoints.alerts())
        except Handled:
            return
        self.publish("all")
        self.restart_stream()

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
