"""The ``/metrics`` families the owner's alert rules need (``deploy/prometheus/
tradealerts-rules.yml``) besides those ``server.metrics`` had: each incident condition can be
written as a Prometheus rule over these."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from tradealerts.core.market_hours import is_open
from tradealerts.server.incidents.checks import existing_folder, queue_depths
from tradealerts.server.incidents.signals import STREAM_BUCKETS, Signals
from tradealerts.server.scale.procs import GONE_AFTER

__all__ = ["IncidentMetrics"]


class IncidentMetrics:
    """A prometheus_client collector over ``app.state`` (read at scrape time)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.started = time.time()

    def collect(self) -> Iterator[Metric]:
        state = self.app.state
        settings = state.settings
        yield from self._feed(state, settings)
        yield from self._bridge(state, settings)
        alerts = state.alerts
        status = alerts.health().get("status") if alerts is not None else "off"
        yield GaugeMetricFamily(
            "tradealerts_alert_log_retrying",
            "1 while the alert log's writer cannot write (fires wait)",
            1.0 if status in ("retrying", "paused") else 0.0,
        )
        signals: Signals = state.signals
        failures = CounterMetricFamily(
            "tradealerts_stripe_webhook_failures",
            "Stripe webhooks refused (signature) or failed (processing)",
            labels=["reason"],
        )
        for reason in ("signature", "processing"):
            failures.add_metric([reason], signals.stripe_failures.get(reason, 0))
        yield failures
        hist = HistogramMetricFamily(
            "tradealerts_tick_to_stream_seconds",
            "A live price or bar frame's time from the engine to its stream",
        )
        buckets, seen = [], 0
        for bound, n in zip([*STREAM_BUCKETS, float("inf")], signals.stream_counts, strict=True):
            seen += n
            buckets.append(("+Inf" if bound == float("inf") else str(bound), float(seen)))
        hist.add_metric([], buckets, sum_value=signals.stream_sum)
        yield hist
        yield from self._scale(state)
        free = shutil.disk_usage(existing_folder(settings.data_dir)).free
        yield GaugeMetricFamily(
            "tradealerts_data_free_bytes", "Free space under the data folder", float(free)
        )
        with state.sessions() as s:
            q = queue_depths(s, datetime.now(UTC), timedelta(hours=1))
        yield GaugeMetricFamily(
            "tradealerts_webhook_quarantined",
            "Webhook deliveries quarantined in the last hour",
            q["webhook_quarantined"],
        )
        monitor = getattr(state, "incidents", None)
        yield GaugeMetricFamily(
            "tradealerts_incidents_open",
            "Open owner incidents (the process that runs the engine)",
            len(monitor.open) if monitor is not None else 0,
        )

    def _feed(self, state: Any, settings: Any) -> Iterator[Metric]:
        engine = state.engine
        health: dict[str, Any] = engine.health() if engine is not None else {}
        feed = health.get("feed", {})
        running = health.get("engine", {}).get("status") == "ok"
        yield GaugeMetricFamily(
            "tradealerts_feed_connected",
            "1 while the feed is connected and the engine runs",
            1.0 if feed.get("connected") and running else 0.0,
        )
        since = GaugeMetricFamily(
            "tradealerts_symbol_seconds_since_tick",
            "Seconds since the symbol's last tick",
            labels=["symbol"],
        )
        market = GaugeMetricFamily(
            "tradealerts_symbol_market_open",
            "1 while the symbol's market is open (market hours)",
            labels=["symbol"],
        )
        now = datetime.now(UTC)
        for sym, s in sorted(feed.get("symbols", {}).items()):
            since.add_metric([sym], float(s["seconds_since_tick"]))
            market.add_metric([sym], 1.0 if is_open(sym, now, settings.market_hours) else 0.0)
        yield since
        yield market

    def _bridge(self, state: Any, settings: Any) -> Iterator[Metric]:
        engine = state.engine
        owner = getattr(engine, "owner", state.owner_lines)
        since = GaugeMetricFamily(
            "tradealerts_bridge_seconds_since_sent",
            "Seconds since the owner's bridge sent a series' lines (since start if never)",
            labels=["symbol", "timeframe"],
        )
        limit = GaugeMetricFamily(
            "tradealerts_bridge_silent_limit_seconds",
            "incident_bridge_silent_bars of the series' bars, in seconds",
            labels=["symbol", "timeframe"],
        )
        if owner is not None and owner.source.uses_mt5:
            now = time.time()
            for name, ser in owner.health().get("series", {}).items():
                if ser.get("source") != "mt5":
                    continue
                sym, _, tf = name.rpartition(":")
                ago = ser.get("seconds_since_sent")
                since.add_metric([sym, tf], float(now - self.started if ago is None else ago))
                bar = _seconds(tf)
                limit.add_metric([sym, tf], float(settings.incident_bridge_silent_bars * bar))
        yield since
        yield limit

    def _scale(self, state: Any) -> Iterator[Metric]:
        """Scaled out, from the heartbeats an API process reads; constant 0 embedded."""
        beat = getattr(state.alerts, "beat", None)
        epoch, standbys = 0.0, 0.0
        if beat is not None:
            now = time.time()
            fresh = [b for b in beat.seen.values() if now - b.get("at", 0) <= GONE_AFTER]
            leader = beat.leader()
            epoch = float((leader or {}).get("epoch") or 0)
            standbys = float(sum(1 for b in fresh if b.get("role") == "standby"))
        want = state.settings.incident_standbys if beat is not None else 0
        yield GaugeMetricFamily(
            "tradealerts_engine_epoch", "The leading engine's epoch (0 embedded)", epoch
        )
        yield GaugeMetricFamily(
            "tradealerts_engine_standbys_missing",
            "Standby engines fewer than incident_standbys (scaled out)",
            max(0.0, want - standbys),
        )


def _seconds(tf: str) -> int:
    from tradealerts.core.timeframes import Timeframe

    return Timeframe(tf).seconds
