"""The indicator payload of ``GET /api/indicators/{symbol}/{timeframe}`` (DESIGN.md's shape)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tradealerts.core.indicators import DiagonalLine, HorizontalLine
from tradealerts.core.line_ids import diagonal_line_id, horizontal_line_id
from tradealerts.server.engine.market import SeriesState

__all__ = ["indicator_payload"]


def indicator_payload(st: SeriesState, count: int) -> dict[str, Any]:
    """Bars, fractals and lines for the last ``count`` closed bars.

    Indicators are computed over the full history (so they never depend on ``count``); the
    window only decides which fractals and broken lines are listed. Active lines are always
    listed. ``value_now`` is the trendline's value at the forming bar (the newest bar on a
    chart), or at the last closed bar when nothing is forming.
    """
    bars = st.bars
    size = len(bars)
    start = max(0, size - count)
    times = bars.time.tolist()

    def t(i: int) -> int:
        return int(times[i])

    window = {
        "time": times[start:],
        "open": bars.open[start:].tolist(),
        "high": bars.high[start:].tolist(),
        "low": bars.low[start:].tolist(),
        "close": bars.close[start:].tolist(),
        "volume": bars.volume[start:].tolist(),
    }
    ind = st.indicators
    fractals = {
        side: [{"time": t(i), "price": p} for i, p in zip(at, price, strict=True) if i >= start]
        for side, at, price in (("up", ind.up, ind.up_price), ("down", ind.down, ind.down_price))
    }
    # lines are stored in columns: make objects only for the ones listed
    hc, dc = ind.horizontal, ind.diagonal
    horizontal = [_horizontal(hc.line(k), t) for k in hc.since(start)]
    now_index = size if bars.forming is not None else size - 1
    diagonal = [_diagonal(dc.line(k), t, now_index) for k in dc.since(start)]
    f = bars.forming
    return {
        "symbol": st.symbol,
        "timeframe": st.timeframe.value,
        "updated_at": datetime.fromtimestamp(st.updated_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bars": window,
        "forming": None
        if f is None
        else {"time": f.time, "open": f.open, "high": f.high, "low": f.low, "close": f.close},
        "fractals": fractals,
        "horizontal_lines": horizontal,
        "diagonal_lines": diagonal,
    }


def _horizontal(ln: HorizontalLine, t: Any) -> dict[str, Any]:
    origin = t(ln.origin)
    return {
        "id": horizontal_line_id(ln.kind, origin),
        "kind": ln.kind,
        "price": ln.price,
        "origin_time": origin,
        "confirmed_time": t(ln.confirmed),
        "broken_time": None if ln.broken is None else t(ln.broken),
    }


def _diagonal(dl: DiagonalLine, t: Any, now_index: int) -> dict[str, Any]:
    t1, t2 = t(dl.i1), t(dl.i2)
    return {
        "id": diagonal_line_id(dl.kind, t1, t2),
        "kind": dl.kind,
        "t1": t1,
        "p1": dl.p1,
        "t2": t2,
        "p2": dl.p2,
        "slope_per_bar": dl.slope,
        "value_now": dl.value_at(now_index),
        "broken_time": None if dl.broken is None else t(dl.broken),
    }
