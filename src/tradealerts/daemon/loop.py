"""``Daemon``: the stream loop. Connect with the stored login and ``Last-Event-ID``, store each
alert event (one transaction with the last id), deliver it (``--exec``, then the notifier),
mark it delivered; reconnect with backoff on any failure.

    start ─► deliver what was stored but not shown (a crash or a stop before the mark)
      └─► connect ─► alert: store ─► hook mark ─► exec ─► notify ─► mark ─────────────────┐
            ▲            gap: one "may have been missed" notice                           │
            │            reauth: the client refreshes and reconnects at once              │
            └── backoff (full jitter, 1 s → 60 s, never sooner than the server's retry:) ◄┘
                 not logged in: one "log in again" notice, then look for a new login slowly

The notification is exactly once; the ``--exec`` hook at most once: its start is recorded
before it runs, so a crash while it runs never runs it again (it gets ``TRADEALERTS_EVENT_ID``
for hooks that want to catch up themselves).

Time and randomness are injected (``clock``, ``sleep``, ``rng``) so tests can drive them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradealerts.client.lang import _, follow_language
from tradealerts.client.notices import describe, maintenance_wait
from tradealerts.daemon.feedwatch import FeedAlarm
from tradealerts.daemon.notify import Backend, BellBackend, ExecHook, Notice, notice_for
from tradealerts.daemon.options import Options
from tradealerts.daemon.push import PushTargets
from tradealerts.daemon.state import DELIVERED, FILTERED, HELD, PENDING, StateDB

if TYPE_CHECKING:
    from tradealerts.client import AsyncClient
    from tradealerts.daemon.control import StatusFile

__all__ = ["KILL_AFTER_STORE_ENV", "Daemon", "backoff_delay"]

log = logging.getLogger("tradealerts.daemon")

#: Test hook only: SIGKILL this process right after the N-th alert is stored (before it is
#: delivered), to prove that a crash in that window loses and duplicates nothing.
KILL_AFTER_STORE_ENV = "TRADEALERTS_DAEMON_KILL_AFTER_STORE"
QUIET_CHECK_SECONDS = 60.0


def backoff_delay(
    attempt: int, base: float, cap: float, floor: float, rng: Callable[[], float]
) -> float:
    """Exponential backoff with full jitter (``uniform(0, min(cap, base·2^attempt))``), never
    below the server's ``retry:`` (``floor``) and never above ``cap``."""
    ceiling = min(cap, base * float(2 ** min(attempt, 30)))
    return min(cap, max(floor, rng() * ceiling))


class Daemon:
    """One server's subscriber. ``await run()`` until ``stop()``."""

    def __init__(
        self,
        options: Options,
        state: StateDB,
        backend: Backend,
        *,
        client_factory: Callable[[], AsyncClient] | None = None,
        status: StatusFile | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.options = options
        self.state = state
        self.backend = backend
        self.exec = ExecHook(options.exec_cmd) if options.exec_cmd else None
        #: the feed alarm (issue #29): one notice when a watched symbol's data is down long
        self.feed_alarm = FeedAlarm(
            options.feed_down_after, self._show, symbols=options.symbols, sound=options.sound
        )
        self.push = PushTargets(options.notify_urls) if options.notify_urls else None
        self._client_factory = client_factory or self._default_client
        self._status = status
        self.clock = clock
        self._sleep = sleep
        self._rng = rng
        self._retry_floor = 0.0  # the server's retry: (s), once it has sent one
        self._attempt = 0
        self._stopping = False
        self._busy = False  # delivering: a stop waits for the mark instead of cancelling
        self._task: asyncio.Task[None] | None = None
        self._stored_here = 0
        kill = os.environ.get(KILL_AFTER_STORE_ENV, "")
        self._kill_after = int(kill) if kill.isdigit() else 0
        self.info: dict[str, Any] = {
            "server": options.server,
            "backend": backend.name,
            # why the notifier is not the one expected (the bell after a failure)
            "notifier_problem": getattr(backend, "why", None),
            "state": "starting",
            "connected": False,
            "connected_since": None,
            "reconnects": 0,
            "last_event_id": state.last_event_id(),
            "last_event_at": None,
            "last_error": None,
        }

    def _default_client(self) -> AsyncClient:
        from tradealerts.client import AsyncClient

        return AsyncClient(self.options.server)

    # -- status ----------------------------------------------------------------------------
    def _publish(self, **changes: Any) -> None:
        self.info.update(changes)
        if self._status is not None:
            self._status.write(self.info)

    # -- lifecycle -------------------------------------------------------------------------
    async def run(self) -> None:
        """Deliver what is waiting, then stream until ``stop()``."""
        self._task = asyncio.current_task()
        self._publish(state="starting")
        try:
            await self._deliver_waiting()
            quiet = None
            if self.options.quiet_hours:
                quiet = asyncio.create_task(self._quiet_hours_watch())
            try:
                while not self._stopping:
                    await self._connect_once()
            finally:
                if quiet is not None:
                    quiet.cancel()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            self._publish(state="stopped", connected=False)

    def stop(self) -> None:
        """Stop soon: at once when waiting, after the mark when delivering (signal-safe)."""
        self._stopping = True
        if self._task is not None and not self._busy:
            self._task.cancel()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # Windows: signal.signal instead
                signal.signal(sig, lambda s, f: loop.call_soon_threadsafe(self._on_signal, s))

    def _on_signal(self, sig: int) -> None:
        log.info("received %s: stopping", signal.Signals(sig).name)
        self.stop()

    # -- one connection --------------------------------------------------------------------
    async def _connect_once(self) -> None:
        from tradealerts.client import ApiError, NotLoggedIn, Unreachable

        client = self._client_factory()
        last = self.state.last_event_id()
        self._publish(state="connecting", last_event_id=last)
        log.info("connecting to %s (Last-Event-ID %s)", self.options.server, last or "none")
        ended = "the server closed the stream"
        maintenance: float | None = None  # seconds the server asked us to stay away
        try:
            if last is None:
                last = await self._starting_point(client)
            await self._feed_now(client)
            async for ev in client.events(
                last_event_id=str(last),
                read_timeout=self.options.dead_after,
                on_retry=self._on_retry,
            ):
                await self._on_event(ev.event, ev.data, ev.id)
                if ev.event == "overflow":
                    ended = "the server says we fell behind"
                elif ev.event == "reconnect":
                    maintenance = maintenance_wait(ev.retry, ev.data, self.options.maintenance_cap)
                    if maintenance is not None:
                        ended = "the server stopped for maintenance"
        except NotLoggedIn as exc:
            self._went_down(exc.message)
            await self._wait_for_login(exc.message)
            return
        except ApiError as exc:
            self._went_down(f"{exc.message} ({exc.detail})")
            await self._pause(float(exc.retry_after) if exc.retry_after else None)
            return
        except Unreachable as exc:
            self._went_down(exc.detail or exc.message)
            await self._pause()
            return
        finally:
            await client.aclose()
        self._went_down(ended)
        if maintenance is not None:
            await self._wait_maintenance(maintenance)
            return
        await self._pause()

    async def _starting_point(self, client: Any) -> int:
        """Where a daemon that never ran starts: after the newest alert the server holds for
        this user. Alerts from before its first start are history (``tradealerts alerts
        history``), not a burst of desktop notifications; everything after it is delivered,
        even what fires while the daemon cannot connect yet (a stream without Last-Event-ID
        would start live and miss those)."""
        from tradealerts.client import endpoints

        page = await client.run(endpoints.alert_history(per_page=1))
        newest = page.items[0].id if page.items else 0
        log.info("first start: alerts after event %d will be shown", newest)
        return self.state.start_at(newest)

    async def _feed_now(self, client: Any) -> None:
        """The watchlist and every symbol's feed state now (``feed`` events are live only);
        a server without them (or a failure here) leaves the alarm to the events."""
        from tradealerts.client import ApiError, NotLoggedIn

        try:
            await self.feed_alarm.refresh(client)
        except NotLoggedIn:
            raise
        except (ApiError, ValueError, KeyError, TypeError) as exc:
            log.info("feed state not read: %s", exc)

    def _on_retry(self, milliseconds: int) -> None:
        """The server's ``retry:`` frame, the first of every connection: we are connected.

        The client reconnects by itself after ``reauth`` (with a refreshed token and the id of
        the last event we processed), so a second call without a drop in between is that."""
        self._retry_floor = max(0.0, milliseconds / 1000.0)
        if self.info["connected"]:
            log.info("connected to %s again with a refreshed token", self.options.server)
            return
        self._attempt = 0
        log.info("connected to %s", self.options.server)
        self._publish(
            state="connected", connected=True, connected_since=time.time(), last_error=None
        )

    def _went_down(self, why: str) -> None:
        if self._stopping:
            return
        log.warning("stream down: %s", why)
        self._publish(
            state="reconnecting",
            connected=False,
            connected_since=None,
            last_error=why,
            reconnects=self.info["reconnects"] + 1,
        )

    async def _pause(self, at_least: float | None = None) -> None:
        if self._stopping:
            return
        delay = backoff_delay(
            self._attempt,
            self.options.backoff_base,
            self.options.backoff_cap,
            self._retry_floor,
            self._rng,
        )
        if at_least is not None:
            delay = max(delay, at_least)
        self._attempt += 1
        log.info("reconnecting in %.1f s (attempt %d)", delay, self._attempt)
        await self._sleep(delay)

    async def _wait_for_login(self, why: str) -> None:
        """One notice, then look for a new login every ``login_poll`` seconds."""
        from tradealerts.client.credentials import CredentialStore

        self._publish(state="logged_out")
        follow_language(self.options.server)
        await self._show(
            Notice(
                _("tradealerts: log in again"),
                why + " " + _("Alerts wait on the server until you do."),
                True,
                self.options.sound,
            )
        )
        store = CredentialStore(self.options.server)
        before = store.load()
        while not self._stopping:
            await self._sleep(self.options.login_poll)
            now = store.load()
            if now is not None and (
                before is None
                or now.refresh_token != before.refresh_token
                or now.access_token != before.access_token
            ):
                log.info("a new login is stored: reconnecting")
                self._attempt = 0
                return

    # -- events ----------------------------------------------------------------------------
    async def _on_event(self, kind: str, data: Any, event_id: str | None) -> None:
        follow_language(self.options.server)
        if kind == "alert" and isinstance(data, dict) and event_id and event_id.isdigit():
            await self._on_alert(int(event_id), data)
        elif kind == "gap":
            message = data.get("message") if isinstance(data, dict) else None
            log.warning("gap: %s", message)
            await self._show(
                Notice(
                    _("tradealerts: alerts may have been missed"),
                    str(message or _("Some alerts are older than the server keeps.")),
                    False,
                    self.options.sound,
                )
            )
        elif kind == "overflow":
            log.warning("overflow: reconnecting with Last-Event-ID to catch up")
        elif kind == "tier":
            log.info("your plan changed: %s", data)
        elif kind == "feed":
            self.feed_alarm.on_feed(data)
        elif kind == "notice" and isinstance(data, dict):
            await self._on_notice(data)

    # -- maintenance notices (issue #29) ---------------------------------------------------
    async def _on_notice(self, data: dict[str, Any]) -> None:
        """One desktop notification per notice, however often the stream repeats it (every
        connection starts with the current ones); one more if a notice shown is withdrawn."""
        nid = data.get("id")
        if not isinstance(nid, int):
            return
        if data.get("cancelled"):
            if not self.state.seen_before(f"notice:{nid}") or not self.state.first_time(
                f"notice:{nid}:cancelled"
            ):
                return
        elif not self.state.first_time(f"notice:{nid}"):
            log.info("notice %d already shown", nid)
            return
        title, body = describe(data)
        log.info("notice %d: %s: %s", nid, title, body)
        heading = _("tradealerts: {title}").format(title=title)
        await self._show(Notice(heading, body, False, self.options.sound))

    async def _wait_maintenance(self, delay: float) -> None:
        """Stay away as long as the server's ``retry:`` said (bounded by
        ``MAINTENANCE_WAIT_CAP``), and say so in the log and ``daemon status``."""
        if self._stopping:
            return
        back = datetime.now().astimezone().timestamp() + delay
        log.info(
            "server maintenance: reconnecting in %.0f s (at %s)",
            delay,
            datetime.fromtimestamp(back).astimezone().strftime("%H:%M:%S"),
        )
        self._publish(state="maintenance", reconnect_at=back)
        self._attempt = 0
        await self._sleep(delay)

    async def _on_alert(self, event_id: int, data: dict[str, Any]) -> None:
        received = time.perf_counter()
        wanted = self.options.wants(str(data.get("symbol") or ""))
        if not self.state.receive(event_id, data, PENDING if wanted else FILTERED):
            log.info("event %d already stored: dropped", event_id)
            return
        self._stored_here += 1
        if self._kill_after and self._stored_here >= self._kill_after:
            log.warning(
                "%s: killing this process after storing event %d", KILL_AFTER_STORE_ENV, event_id
            )
            os.kill(os.getpid(), signal.SIGKILL)
        if wanted:
            await self._deliver(event_id, data, received)
        else:
            log.info(
                "event %d (%s) is outside --symbols: stored, not shown",
                event_id,
                data.get("symbol"),
            )
        self._publish(last_event_id=event_id, last_event_at=time.time())

    async def _deliver(
        self, event_id: int, data: dict[str, Any], received: float, hook_started: bool = False
    ) -> None:
        """Exec hook (at most once), then the notification (or hold it in quiet hours), then
        the mark."""
        self._busy = True
        try:
            if self.exec is not None:
                if hook_started:
                    log.warning(
                        "event %d: --exec was already started for it before the last stop; "
                        "not run again (at most once)",
                        event_id,
                    )
                else:
                    # Recorded before the start: a crash from here on must never run it twice.
                    self.state.hook_started(event_id)
                    await self.exec.run(data, event_id)
            if self._quiet_now():
                self.state.mark(event_id, HELD)
                log.info("event %d held: quiet hours %s", event_id, self.options.quiet_hours)
                return
            await self._show(notice_for(data, self.options.sound))
            if self.push is not None:  # bounded, never raises: the mark is not held up long
                await self.push.send(data)
            took = (time.perf_counter() - received) * 1000  # received → notification returned
            self.state.mark(event_id, DELIVERED)
            log.info(
                "delivered event %d %s in %.1f ms (%s)",
                event_id,
                data.get("symbol"),
                took,
                self.backend.name,
            )
        finally:
            self._busy = False
        if self._stopping and self._task is not None:
            self._task.cancel()

    async def _show(self, notice: Notice) -> None:
        """The chosen back end; when it fails, the bell/log shows the notice and every later
        one (a notifier that failed once, say its server went away, would fail each alert
        again, later): the log and ``daemon status`` say which notifier works now."""
        try:
            await self.backend.send(notice)
        except Exception as exc:
            failed = self.backend.name
            why = f"{failed} failed: {str(exc) or type(exc).__name__}"
            log.error("%s; notifications go to the bell and the log from now on", why)
            self.backend = BellBackend(why)
            self._publish(backend=self.backend.name, notifier_problem=why)
            await self.backend.send(notice)

    async def _deliver_waiting(self) -> None:
        """Events stored but not delivered by an earlier run (a crash or a stop in between)."""
        waiting = self.state.with_status(PENDING)
        if waiting:
            log.info("delivering %d event(s) stored before the last stop", len(waiting))
        for row in waiting:
            await self._deliver(row.event_id, row.data, time.perf_counter(), row.hook_started)
        if not self._quiet_now():
            await self._release_held()

    # -- quiet hours -----------------------------------------------------------------------
    def _quiet_now(self) -> bool:
        quiet = self.options.quiet_hours
        return quiet is not None and quiet.contains(self.clock())

    async def _quiet_hours_watch(self) -> None:
        while True:
            await self._sleep(QUIET_CHECK_SECONDS)
            if not self._quiet_now():
                await self._release_held()

    async def _release_held(self) -> None:
        """Quiet hours are over: one notification for what they held, then mark it."""
        held = self.state.with_status(HELD)
        if not held:
            return
        follow_language(self.options.server)
        if len(held) == 1:
            notice = notice_for(held[0].data, self.options.sound)
        else:
            lines = [str(r.data.get("message") or r.symbol) for r in held[-5:]]
            more = (
                "\n" + _("… and {count} more").format(count=len(held) - 5) if len(held) > 5 else ""
            )
            notice = Notice(
                _("tradealerts: {count} alerts during quiet hours").format(count=len(held)),
                "\n".join(lines) + more,
                False,
                self.options.sound,
            )
        self._busy = True
        try:
            await self._show(notice)
            for row in held:
                self.state.mark(row.event_id, DELIVERED)
        finally:
            self._busy = False
        log.info("quiet hours over: %d held event(s) shown", len(held))
