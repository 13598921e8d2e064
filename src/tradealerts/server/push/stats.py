"""Push deliveries on ``/metrics``: attempts by outcome, their latency, the queue.

The sender (``sender.py``) counts each attempt as it ends (``PushStats``, in the process that
runs the alert runtime); ``PushMetrics`` reads those counts and the ``deliveries`` table at
scrape time, like the webhook families of ``server/metrics.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import func, select

__all__ = ["BUCKETS", "OUTCOMES", "PushMetrics", "PushStats"]

#: how an attempt ended: the service took it; it said no or the connection broke; the whole
#: call's deadline passed; its answer passed the cap; the SSRF guard refused its address (not
#: called); not sent at all (no PRO, the channel removed); set aside (quarantined)
OUTCOMES = ("sent", "failed", "timed_out", "too_large", "refused", "skipped", "quarantined")
#: seconds, from the push handed to a thread to its result (the deadline is 10 s by default)
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PushStats:
    """Counts of one sender's attempts (written on the event loop, read by a scrape)."""

    def __init__(self) -> None:
        self.attempts = dict.fromkeys(OUTCOMES, 0)
        self.counts = [0] * (len(BUCKETS) + 1)  # the last: above every bucket
        self.seconds = 0.0

    def attempt(self, outcome: str, seconds: float | None = None) -> None:
        """One attempt ended with ``outcome``; ``seconds`` when the service was called."""
        self.attempts[outcome] = self.attempts.get(outcome, 0) + 1
        if seconds is not None:
            slot = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
            self.counts[slot] += 1
            self.seconds += seconds


class PushMetrics:
    """The ``tradealerts_push_*`` families (a collector for ``metrics.install``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        state = self.app.state
        runtime = getattr(state, "alerts", None)
        sender = getattr(runtime, "pushes", None)
        stats: PushStats = getattr(sender, "stats", None) or PushStats()
        attempts = CounterMetricFamily(
            "tradealerts_push_attempts",
            "Push delivery attempts by outcome (this process's sender)",
            labels=["outcome"],
        )
        for outcome, n in stats.attempts.items():
            attempts.add_metric([outcome], n)
        yield attempts
        hist = HistogramMetricFamily(
            "tradealerts_push_latency_seconds",
            "A called push attempt's time, from its thread to its result",
        )
        buckets, seen = [], 0
        for bound, n in zip([*BUCKETS, float("inf")], list(stats.counts), strict=True):
            seen += n
            buckets.append(("+Inf" if bound == float("inf") else str(bound), float(seen)))
        hist.add_metric([], buckets, sum_value=stats.seconds)
        yield hist
        yield GaugeMetricFamily(
            "tradealerts_push_in_flight",
            "Push attempts holding a thread now",
            sender.in_flight if sender is not None else 0,
        )
        yield from self._queue()

    def _queue(self) -> Iterator[Metric]:
        from tradealerts.server.db.models import Delivery

        def count(status: str) -> int:
            where = (Delivery.channel == "push", Delivery.status == status)
            return int(s.scalar(select(func.count()).where(*where)) or 0)

        with self.app.state.sessions() as s:
            pending, parked = count("pending"), count("quarantined")
        yield GaugeMetricFamily("tradealerts_push_queue", "Push deliveries pending", pending)
        yield GaugeMetricFamily(
            "tradealerts_push_quarantined",
            "Push deliveries set aside: no try can send them",
            parked,
        )
