"""The app's live half: one stream for the session (reconnected with full-jitter back-off and
``Last-Event-ID``, or after the owner's announced maintenance), and what each frame does to the
store and the screen (prices coalesced to at most 1/PRICE_EVERY updates a second, an alert's
toast and bell, a tier change, a maintenance notice).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any

from tradealerts.client import ApiError, NotLoggedIn, Unreachable, endpoints
from tradealerts.client.lang import _
from tradealerts.client.notices import describe, maintenance_wait
from tradealerts.tui.base import spawn
from tradealerts.tui.calls import ServerCalls
from tradealerts.tui.errors import Handled, log

__all__ = ["BACKOFF_CAP", "StreamSession"]

BACKOFF_BASE, BACKOFF_CAP = 1.0, 30.0
#: Seconds without a byte (the server beats every 15 s) before the stream counts as dead.
STREAM_READ_TIMEOUT = 45.0
#: Seconds between two "price" updates of the widgets at most (frames between are coalesced).
PRICE_EVERY = 1 / 30
LINE_CONDITIONS = ("line_break", "trendline_break")


class StreamSession(ServerCalls):
    """The session's stream and its frames."""

    ring_bell: bool
    _attempt: int
    #: the stream connected before (``alerts_changed`` is live only: a reconnect re-reads)
    _streamed: bool
    _price_due: bool
    _price_at: float

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
