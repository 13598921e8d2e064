"""The conditions: each check reads state the server already keeps (the engine's health, the
alert log's writer, the owner's lines, the usage aggregate, the queues, ``Signals``, the data
folder) and names what is wrong now as ``Finding``s. The monitor turns findings into
incidents; nothing here sends or stores anything.

Staleness and the bridge's silence count on the server's clock and follow market hours
(``core.market_hours``): a closed market is quiet, not down.
"""

from __future__ import annotations

import shutil
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds import BarClose, Tick
from tradealerts.server.incidents.signals import Signals, quantile_between
from tradealerts.server.settings import Settings

__all__ = ["Checks", "Finding", "Sources", "queue_depths"]

MarketOpen = Callable[[str, datetime], bool]


@dataclass(frozen=True)
class Finding:
    """One condition that holds now. ``key`` is the incident's identity (one open incident
    per key); ``grace``: wait ``incident_grace_seconds`` before opening (False: at once)."""

    key: str
    kind: str
    title: str
    detail: str
    grace: bool = True


@dataclass
class Sources:
    """Where the checks read from; any part may be None (not in this process)."""

    settings: Settings
    engine: Any = None  # engine.runner.Engine
    alerts: Any = None  # alerts.runtime.AlertRuntime
    owner: Any = None  # engine.owner_lines.OwnerLines
    usage: Any = None  # usage.Usage
    signals: Signals | None = None
    #: scaled out: alive standby engines, and this leader's epoch (None: embedded)
    standbys: Callable[[], int | None] | None = None
    epoch: int | None = None


def queue_depths(s: Session, now: datetime, window: timedelta) -> dict[str, int]:
    """Mails waiting and quarantined; webhooks pending and quarantined, and pushes quarantined,
    within ``window``."""
    from tradealerts.server.db.models import Delivery, MailMessage

    def count(*where: Any) -> int:
        return int(s.scalar(select(func.count()).where(*where)) or 0)

    return {
        "mail": count(MailMessage.sent_at.is_(None), MailMessage.quarantined_at.is_(None)),
        "mail_quarantined": count(MailMessage.quarantined_at.is_not(None)),
        "webhook": count(Delivery.channel == "webhook", Delivery.status == "pending"),
        "webhook_quarantined": count(
            Delivery.channel == "webhook",
            Delivery.status == "quarantined",
            Delivery.done_at >= now - window,
        ),
        "push_quarantined": count(
            Delivery.channel == "push",
            Delivery.status == "quarantined",
            Delivery.done_at >= now - window,
        ),
    }


class Checks:
    """Every condition of issue #29, evaluated at ``now`` (the server's clock)."""

    def __init__(self, src: Sources, started: datetime, market_open: MarketOpen) -> None:
        self.src = src
        self.settings = src.settings
        self.market_open = market_open
        self.started = started
        #: the server's time of each symbol's last tick (the ``listener`` keeps it)
        self.last_tick: dict[str, datetime] = {}
        self._clock: Callable[[], datetime] | None = None
        #: (time, requests, 5xx, stream histogram, stripe failures) per check, for rates
        self._samples: deque[tuple[datetime, int, int, list[int], int]] = deque()
        self._leader_whole = src.epoch is None or src.epoch <= 1
        self._feed_down = False

    def listener(self, clock: Callable[[], datetime]) -> Any:
        """An engine listener: the server's time of every tick, per symbol."""
        self._clock = clock
        seen = self.last_tick

        def listen(event: Tick | BarClose, _changes: object) -> None:
            if isinstance(event, Tick):
                seen[event.symbol] = clock()

        return listen

    # -- on the event loop: the in-memory parts -------------------------------------------

    def collect(self, now: datetime) -> list[Finding]:
        """The findings that need no database (call on the engine's loop)."""
        out: list[Finding] = []
        out += self._feed(now)
        out += self._bridge(now)
        out += self._alert_log()
        out += self._rates(now)
        out += self._lag()
        out += self._scale()
        out += self._disk()
        return out

    def _feed(self, now: datetime) -> list[Finding]:
        engine = self.src.engine
        if engine is None:
            return []
        status = engine.feed.status()
        state = engine.state
        self._feed_down = state in ("starting", "retrying") or (
            state == "running" and not status.connected
        )
        if self._feed_down:
            reason = status.error or engine.error or state
            return [
                Finding(
                    "feed:down",
                    "feed",
                    f"the {engine.feed.name} feed is disconnected",
                    f"feed {engine.feed.name}: {reason}; subscribers get no prices or alerts",
                )
            ]
        if state != "running":  # paused (the alert log's hold, its own incident), finished
            return []
        limit = timedelta(seconds=self.settings.incident_feed_stale_seconds)
        out = []
        for sym in sorted(engine.market.symbols()):
            last = self.last_tick.get(sym, self.started)
            if now - last > limit and self.market_open(sym, now):
                out.append(
                    Finding(
                        f"feed:stale:{sym}",
                        "feed",
                        f"{sym} is stale",
                        f"no {sym} tick since {_hm(last)} UTC ({_ago(now - last)}) while its "
                        f"market is open (threshold {_secs(limit)})",
                    )
                )
        return out

    def knows(self, key: str, now: datetime) -> bool:
        """Whether ``key``'s condition being absent now means it is over. Not yet after a
        restart, for a stale symbol or a silent series: those show only after their
        threshold (unless a tick or a post came since); nor for a stale symbol while the
        whole feed is down (that incident speaks for it)."""
        elapsed = (now - self.started).total_seconds()
        kind, _, rest = key.partition(":")
        if kind == "feed" and rest.startswith("stale:"):
            sym = rest.removeprefix("stale:")
            if self._feed_down:
                return False
            return (
                sym in self.last_tick
                or elapsed > self.settings.incident_feed_stale_seconds
                or not self.market_open(sym, now)
            )
        if kind == "bridge" and self.src.owner is not None:
            sym, _, tf = rest.rpartition(":")
            try:
                frame = Timeframe(tf)
            except ValueError:
                return True
            sent = self.src.owner.last_sent.get((sym, frame))
            return (
                (sent is not None and sent >= self.started.timestamp())
                or elapsed > self.settings.incident_bridge_silent_bars * frame.seconds
                or not self.market_open(sym, now)
            )
        return True

    def _bridge(self, now: datetime) -> list[Finding]:
        owner = self.src.owner
        engine = self.src.engine
        if owner is None or engine is None or not owner.source.uses_mt5:
            return []
        bars = self.settings.incident_bridge_silent_bars
        out = []
        for sym, tf in sorted(engine.market.series, key=lambda k: (k[0], k[1].seconds)):
            if owner.source.of(sym, tf.value) != "mt5":
                continue
            sent = owner.last_sent.get((sym, tf))
            last = self.started if sent is None else datetime.fromtimestamp(sent, now.tzinfo)
            limit = timedelta(seconds=bars * Timeframe(tf).seconds)
            if now - last > limit and self.market_open(sym, now):
                said = "nothing since the server started" if sent is None else f"last {_hm(last)}"
                out.append(
                    Finding(
                        f"bridge:{sym}:{tf.value}",
                        "bridge",
                        f"the bridge is silent on {sym} {tf.value}",
                        f"the owner's bridge sent no {sym} {tf.value} lines for {bars} bars "
                        f"({said} UTC); that series shows lines from before",
                    )
                )
        return out

    def _alert_log(self) -> list[Finding]:
        alerts = self.src.alerts
        if alerts is None:
            return []
        h = alerts.health()
        if h["status"] == "ok":
            return []
        return [
            Finding(
                "alert_log",
                "alert_log",
                "the alert log's writer is retrying",
                f"{h.get('error', h['status'])}; {h.get('waiting', 0)} fires wait",
            )
        ]

    def _rates(self, now: datetime) -> list[Finding]:
        """5xx share, tick-to-stream p99 and Stripe failures over the window."""
        st = self.settings
        usage, signals = self.src.usage, self.src.signals
        requests = errors = 0
        if usage is not None:
            totals, _latency = usage.current_totals()
            for (_family, slot), n in totals.items():
                requests += n
                errors += n if slot == 4 else 0  # STATUS_CLASSES: 2xx 3xx 4xx 429 5xx
        hist = list(signals.stream_counts) if signals is not None else []
        stripe = sum(signals.stripe_failures.values()) if signals is not None else 0
        self._samples.append((now, requests, errors, hist, stripe))
        window = timedelta(seconds=st.incident_window_seconds)
        # the oldest sample still inside the window is the base (one outside it at most)
        while len(self._samples) > 2 and now - self._samples[1][0] >= window:
            self._samples.popleft()
        base = self._samples[0]
        out = []
        dreq, derr = requests - base[1], errors - base[2]
        if dreq >= st.incident_5xx_min_requests and derr / dreq > st.incident_5xx_ratio:
            out.append(
                Finding(
                    "http:5xx",
                    "errors",
                    "5xx answers over the threshold",
                    f"{derr} of {dreq} requests answered 5xx in the last {_secs(window)} "
                    f"(threshold {st.incident_5xx_ratio:.0%}); see `tradealerts-server admin "
                    "errors`",
                )
            )
        if hist and base[3]:
            p99 = quantile_between(base[3], hist, 0.99)
            if p99 is not None and p99 > st.incident_stream_p99_seconds:
                out.append(
                    Finding(
                        "stream:p99",
                        "latency",
                        "tick-to-stream p99 over the threshold",
                        f"99% of live frames reached their streams within {p99:g} s over the "
                        f"last {_secs(window)} (threshold {st.incident_stream_p99_seconds:g} s)",
                    )
                )
        if stripe > base[4]:
            reasons = dict(signals.stripe_failures) if signals is not None else {}
            out.append(
                Finding(
                    "stripe:webhooks",
                    "billing",
                    "Stripe webhooks are failing",
                    f"{stripe - base[4]} Stripe webhook(s) failed in the last {_secs(window)} "
                    f"(since start, by reason: {reasons}); a signature failure means "
                    "TRADEALERTS_STRIPE_WEBHOOK_SECRET differs from the endpoint's",
                    grace=False,
                )
            )
        return out

    def _lag(self) -> list[Finding]:
        engine = self.src.engine
        limit = self.settings.incident_engine_lag_seconds
        if engine is None or engine.lag <= limit:
            return []
        return [
            Finding(
                "engine:lag",
                "latency",
                "the engine lags",
                f"the engine took {engine.lag:.3f} s on a feed event (threshold {limit:g} s)",
            )
        ]

    def _scale(self) -> list[Finding]:
        src = self.src
        if src.standbys is None:
            return []
        out = []
        alive = src.standbys()
        want = self.settings.incident_standbys
        if alive is not None and alive < want:
            out.append(
                Finding(
                    "scale:standby",
                    "scale",
                    "a standby engine is missing",
                    f"{alive} standby engine(s) alive, {want} expected: a failure of the "
                    "leader would stop the market until one starts",
                )
            )
        if not self._leader_whole:
            if alive is not None and alive >= want:
                self._leader_whole = True  # the new leader has its standbys again
            else:
                out.append(
                    Finding(
                        "scale:leader",
                        "scale",
                        "the engine leader changed",
                        f"a standby took the lease (epoch {src.epoch}): the previous "
                        "leader stopped or lost the database",
                        grace=False,
                    )
                )
        return out

    def _disk(self) -> list[Finding]:
        folder = existing_folder(self.settings.data_dir)
        free_mb = shutil.disk_usage(folder).free / 2**20
        limit = self.settings.incident_disk_free_mb
        if free_mb >= limit:
            return []
        return [
            Finding(
                "disk:free",
                "disk",
                "disk space is low",
                f"{free_mb:.0f} MiB free under {folder} (threshold {limit:g} MiB)",
            )
        ]

    # -- in a worker thread: the queues ---------------------------------------------------

    def collect_db(self, s: Session, now: datetime) -> list[Finding]:
        """The queue depths and quarantines (one session; call off the loop)."""
        st = self.settings
        q = queue_depths(s, now, timedelta(hours=1))
        out = []
        if q["mail"] > st.incident_mail_queue_depth:
            out.append(
                Finding(
                    "queue:mail",
                    "queue",
                    "the mail queue is growing",
                    f"{q['mail']} mails wait (threshold {st.incident_mail_queue_depth}); "
                    "is the SMTP server reachable?",
                )
            )
        if q["webhook"] > st.incident_webhook_queue_depth:
            out.append(
                Finding(
                    "queue:webhook",
                    "queue",
                    "the webhook queue is growing",
                    f"{q['webhook']} webhook deliveries pending "
                    f"(threshold {st.incident_webhook_queue_depth})",
                )
            )
        if q["mail_quarantined"] or q["webhook_quarantined"] or q["push_quarantined"]:
            out.append(
                Finding(
                    "quarantine",
                    "quarantine",
                    "items are quarantined",
                    f"{q['mail_quarantined']} mail(s) quarantined (`tradealerts-server admin "
                    f"quarantine`), {q['webhook_quarantined']} webhook delivery(ies) and "
                    f"{q['push_quarantined']} push(es) quarantined in the last hour (`admin "
                    "quarantine`)",
                    grace=False,
                )
            )
        return out


def existing_folder(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _hm(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _secs(d: timedelta) -> str:
    s = d.total_seconds()
    return f"{s / 60:.0f} min" if s >= 120 else f"{s:.0f} s"


def _ago(d: timedelta) -> str:
    return _secs(d) + " ago"
