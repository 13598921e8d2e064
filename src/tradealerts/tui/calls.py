"""The app's half that talks to the server: every API call goes through ``api()``, which turns
errors into what the person sees (401 → the login screen, 403 → the tier's message, 429 →
"quota used, frees at HH:MM", unreachable → reconnecting; anything unexpected is logged to
``tui.log``), and the reads the session repeats (the chart, the alerts, the feed's state).
``TradeAlertsApp`` builds on it (its ``__init__`` sets what is declared here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from textual.app import App
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
from tradealerts.client.lang import _
from tradealerts.tui.errors import Handled, log, log_file
from tradealerts.tui.store import CHART_BARS, Store

__all__ = ["ServerCalls"]

T = TypeVar("T")


class ServerCalls(App[None]):
    """The API calls of a session and what their failures mean on screen."""

    client: AsyncClient
    store: Store
    clock: Callable[[], datetime]
    #: published with what changed: "all", "price", "bar", "chart", "alerts", "feed",
    #: "status", "watchlist"
    changed: Signal[str]
    requests_left: RateLimit | None
    #: chart re-reads the server answered 304 (nothing new, no body)
    not_modified: int
    _logging_in: bool

    def start_session(self) -> None:
        """Load the session (``TradeAlertsApp``'s): after a login."""
        raise NotImplementedError

    def say(self, message: str, **options: Any) -> None:
        """A toast; the text is shown as it is (an alert's message is not markup)."""
        self.notify(message, markup=False, **options)

    def publish(self, what: str) -> None:
        self.changed.publish(what)

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

    # -- the reads a session repeats --------------------------------------------------------
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

    async def _fetch_chart_quietly(self) -> None:
        with contextlib.suppress(Handled):
            await self.fetch_chart()

    async def _reload_alerts(self) -> None:
        try:
            self.store.alerts = await self.api(endpoints.alerts(), quiet=True)
        except Handled:
            return
        self.publish("alerts")

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
