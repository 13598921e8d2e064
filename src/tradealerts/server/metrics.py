"""``GET /metrics``: the Prometheus exposition, off unless ``metrics_enabled``.

Read at scrape time from what the server already keeps (the usage aggregate, the engine's
health, the bus, the queue tables), so a request pays nothing for it. Without
``metrics_token`` only loopback clients may scrape; with it, ``Authorization: Bearer <token>``
is required from anywhere.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from tradealerts.core.messages import _
from tradealerts.server.errors import Forbidden, NotFound, NotLoggedIn
from tradealerts.server.usage import LATENCY_BUCKETS, STATUS_CLASSES, Usage

__all__ = ["install"]

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_STATUS = tuple(c[1:] for c in STATUS_CLASSES)  # 2xx, 3xx, 4xx, 429, 5xx


class _Collector:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        state = self.app.state
        usage: Usage = state.usage
        totals, latency = usage.current_totals()
        requests = CounterMetricFamily(
            "tradealerts_requests",
            "HTTP requests by route family and status class",
            labels=["family", "status"],
        )
        for (family, slot), n in sorted(totals.items()):
            requests.add_metric([family, _STATUS[slot]], n)
        yield requests
        hist = HistogramMetricFamily(
            "tradealerts_request_latency_seconds",
            "Time to the response's first byte, by route family",
            labels=["family"],
        )
        for family, counts in sorted(latency.items()):
            buckets: list[tuple[str, float]] = []
            seen = 0
            for bound, n in zip([*LATENCY_BUCKETS, float("inf")], counts[:-1], strict=True):
                seen += n
                buckets.append(("+Inf" if bound == float("inf") else str(bound), seen))
            hist.add_metric([family], buckets, sum_value=float(counts[-1]))
        yield hist
        bus = state.bus
        yield GaugeMetricFamily("tradealerts_open_streams", "Open event streams", bus.open_streams)
        engine = state.engine
        health: dict[str, Any] = engine.health() if engine is not None else {}
        eng = health.get("engine", {})
        feed = health.get("feed", {})
        yield GaugeMetricFamily(
            "tradealerts_engine_lag_seconds",
            "Engine lag behind the feed",
            eng.get("lag_seconds", 0),
        )
        up = GaugeMetricFamily(
            "tradealerts_feed_up", "1 when the feed is connected and fresh", labels=["feed"]
        )
        up.add_metric([str(feed.get("name", "off"))], 1.0 if feed.get("status") == "ok" else 0.0)
        yield up
        yield from self._queues()

    def _queues(self) -> Iterator[Metric]:
        from tradealerts.server.db.models import Delivery, Event, MailMessage

        with self.app.state.sessions() as s:
            mail = (
                s.scalar(
                    select(func.count()).where(
                        MailMessage.sent_at.is_(None), MailMessage.quarantined_at.is_(None)
                    )
                )
                or 0
            )
            held = (
                s.scalar(select(func.count()).where(MailMessage.quarantined_at.is_not(None))) or 0
            )
            hooks = (
                s.scalar(
                    select(func.count()).where(
                        Delivery.channel == "webhook", Delivery.status == "pending"
                    )
                )
                or 0
            )
            fires = s.scalar(select(func.count()).where(Event.kind == "alert")) or 0
            parked = s.scalar(select(func.count()).where(Delivery.status == "quarantined")) or 0
        yield GaugeMetricFamily("tradealerts_mail_queue", "Mails not yet sent", mail)
        yield GaugeMetricFamily(
            "tradealerts_mail_quarantined", "Mails set aside: no try can send them", held
        )
        yield GaugeMetricFamily("tradealerts_webhook_queue", "Webhook deliveries pending", hooks)
        yield GaugeMetricFamily(
            "tradealerts_deliveries_quarantined",
            "Alert deliveries (webhooks, pushes) set aside: no try can send them",
            parked,
        )
        yield CounterMetricFamily(
            "tradealerts_fires", "Alert fires in the event log (within its retention)", fires
        )


def install(app: FastAPI) -> None:
    """Add ``GET /metrics`` to ``app`` (it answers 404 while metrics are off)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(app))
    # the families the owner's alert rules read (issue #29)
    from tradealerts.server.incidents.exported import IncidentMetrics

    registry.register(IncidentMetrics(app))
    from tradealerts.server.push.stats import PushMetrics

    registry.register(PushMetrics(app))

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        settings = request.app.state.settings
        if not settings.metrics_enabled:
            raise NotFound(_("Metrics are off: set TRADEALERTS_METRICS_ENABLED=1."))
        token = settings.metrics_token
        if token is not None:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {token.get_secret_value()}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise NotLoggedIn(_("Send 'Authorization: Bearer <metrics token>'."))
        elif (request.client.host if request.client else "") not in _LOOPBACK:
            raise Forbidden(_("Metrics answer loopback clients only unless a token is set."))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
