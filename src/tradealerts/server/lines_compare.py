"""``tradealerts-server lines compare``: the owner's lines against our computed spec.

Both are built over the same bars (the feed the server is configured with) and listed as
``/api/indicators`` would list them for the last ``window`` bars; lines are matched by their
stable id. ``missing``: a computed line the owner's indicator does not draw; ``extra``: an
owner's line the spec does not draw; ``moved``: the same id (same fractal or anchor bars) at
another price, through other points, or broken at another bar.
"""

from __future__ import annotations

from typing import Any

from tradealerts.core.bars import Bars
from tradealerts.core.indicators import IndicatorState
from tradealerts.core.ingest import BufferMap
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.engine.market import SeriesState
from tradealerts.server.engine.owner_lines import OwnerIndicators, Row
from tradealerts.server.engine.payload import indicator_payload

__all__ = ["compare_lines"]

_SHAPE = {
    "horizontal": ("price", "broken_time"),
    "diagonal": ("t1", "p1", "t2", "p2", "broken_time"),
}


def compare_lines(
    symbol: str,
    tf: Timeframe,
    bars: Bars,
    values: dict[int, Row],
    bmap: BufferMap,
    window: int = 300,
    n: int = 2,
) -> dict[str, Any]:
    """The differences, and how many lines each side lists in the window."""
    computed = SeriesState(
        symbol, tf, bars, IndicatorState.from_arrays(bars.high, bars.low, bars.close, n)
    )
    owner = SeriesState(symbol, tf, bars, OwnerIndicators.build(bmap, values, bars))
    ours, theirs = indicator_payload(computed, window), indicator_payload(owner, window)
    diffs: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {"computed": {}, "owner": {}}
    for shape, fields in _SHAPE.items():
        key = f"{shape}_lines"
        a = {ln["id"]: ln for ln in ours[key]}
        b = {ln["id"]: ln for ln in theirs[key]}
        counts["computed"][shape], counts["owner"][shape] = len(a), len(b)
        for line_id in sorted(a.keys() | b.keys(), key=lambda i: (_first_time(i), i)):
            x, y = a.get(line_id), b.get(line_id)
            if y is None or x is None:
                status = "missing" if y is None else "extra"
            elif any(x[f] != y[f] for f in fields):
                status = "moved"
            else:
                continue
            diffs.append(
                {
                    "status": status,
                    "id": line_id,
                    "shape": shape,
                    "kind": (x or y or {})["kind"],
                    "computed": None if x is None else {f: x[f] for f in fields},
                    "owner": None if y is None else {f: y[f] for f in fields},
                }
            )
    times = set(bars.time.tolist())
    shown = [int(t) for t in bars.time[-window:].tolist()]
    return {
        "symbol": symbol,
        "timeframe": tf.value,
        "bars": window,
        "owner_bars": sum(1 for t in values if t in times),
        # which bars: the owner compares them with what `serve` was given (its feed and
        # --history-bars), so a compare on other settings shows at once
        "compared": {
            "first": shown[0] if shown else None,
            "last": shown[-1] if shown else None,
            "count": len(shown),
            "feed_bars": len(bars.time),
            "owner_bars": sum(1 for t in shown if t in values),
        },
        "lines": counts,
        "summary": {s: sum(d["status"] == s for d in diffs) for s in ("missing", "extra", "moved")},
        "differences": diffs,
    }


def _first_time(line_id: str) -> int:
    return int(line_id.split("-")[1])
