"""What the server counts for the owner's alerts and ``/metrics`` that nothing else kept:
Stripe webhooks refused or failed, and each live frame's time from the engine to a stream.

One ``Signals`` per process (``app.state.signals``); every method runs on the event loop.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter

__all__ = ["STREAM_BUCKETS", "Signals", "Stamped", "quantile_between", "stamp"]

#: bounds (seconds) of the tick-to-stream histogram
STREAM_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Stamped(str):
    """A rendered ``price``/``bar`` frame that knows when the engine handed it to the bus
    (``perf_counter``), so the stream that writes it can say how long it took."""

    t0: float


class Signals:
    """Counters and one histogram, read by ``/metrics`` and the incident checks."""

    def __init__(self) -> None:
        #: Stripe webhook failures by reason: ``signature`` (refused) or ``processing``
        self.stripe_failures: Counter[str] = Counter()
        #: tick-to-stream counts per ``STREAM_BUCKETS`` bound, then +Inf
        self.stream_counts = [0] * (len(STREAM_BUCKETS) + 1)
        self.stream_sum = 0.0

    def stripe_failed(self, reason: str) -> None:
        """A Stripe webhook was refused (``signature``) or failed (``processing``)."""
        self.stripe_failures[reason] += 1

    def stream_wrote(self, frame: str) -> None:
        """A stream wrote ``frame``: count its time since the engine published it."""
        t0 = getattr(frame, "t0", None)
        if t0 is None:
            return
        took = time.perf_counter() - t0
        self.stream_counts[bisect.bisect_left(STREAM_BUCKETS, took)] += 1
        self.stream_sum += took


def stamp(text: str) -> Stamped:
    """``text`` as a frame stamped now."""
    out = Stamped(text)
    out.t0 = time.perf_counter()
    return out


def quantile_between(before: list[int], after: list[int], q: float) -> float | None:
    """The ``q`` quantile (a bucket's upper bound; +Inf as the largest bound x 2) of the
    observations counted between two copies of a histogram; None when there were none."""
    diff = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(diff)
    if total <= 0:
        return None
    rank, seen = q * total, 0
    for i, n in enumerate(diff):
        seen += n
        if seen >= rank:
            return STREAM_BUCKETS[i] if i < len(STREAM_BUCKETS) else STREAM_BUCKETS[-1] * 2
    return STREAM_BUCKETS[-1] * 2
