"""The indicator payload as the chart reads it, and kept up to date from stream frames: its
candles (the forming one last), the lines near them, the bars holding a fire's moment, a
window of it, and the forming candle and closed bars the frames bring."""

from __future__ import annotations

from typing import Any

__all__ = [
    "add_bar",
    "candles",
    "marked_bars",
    "move_forming",
    "price_band",
    "visible_lines",
    "window",
]


def price_band(lows: list[float], highs: list[float]) -> tuple[float, float]:
    """The prices the chart shows: the candles' range and 10% of it beyond each side."""
    lo, hi = min(lows), max(highs)
    pad = (hi - lo) * 0.10
    return lo - pad, hi + pad


def visible_lines(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Active horizontal lines near the candles (within 10% of their range beyond it)."""
    lows, highs = payload["bars"]["low"], payload["bars"]["high"]
    if not lows:
        return []
    bottom, top = price_band(lows, highs)
    return [
        ln
        for ln in payload.get("horizontal_lines", [])
        if ln.get("broken_time") is None and bottom <= ln["price"] <= top
    ]


def candles(payload: dict[str, Any]) -> dict[str, list[float]]:
    bars = payload["bars"]
    data = {k: list(bars[k]) for k in ("time", "open", "high", "low", "close")}
    forming = payload.get("forming")
    if forming:
        for key in data:
            data[key].append(forming[key])
    return data


def marked_bars(
    times: list[float], marks: tuple[tuple[float, float], ...]
) -> list[tuple[int, float]]:
    """(bar index, price) of each mark: the bar whose span holds its moment (the newest bar
    holds a bar's length after its open); a moment outside the bars is left out."""
    import bisect

    if not times or not marks:
        return []
    span = times[-1] - times[-2] if len(times) > 1 else 0
    out = []
    for t, price in marks:
        i = bisect.bisect_right(times, t) - 1
        if i < 0 or (i == len(times) - 1 and t >= times[-1] + max(span, 1)):
            continue
        out.append((i, price))
    return out


def move_forming(payload: dict[str, Any], bid: float, t: int) -> None:
    """A ``price`` frame: the forming candle's close (and high/low) follow the bid."""
    forming = payload.get("forming")
    if not forming:
        payload["forming"] = {"time": t, "open": bid, "high": bid, "low": bid, "close": bid}
        return
    forming["close"] = bid
    forming["high"] = max(forming["high"], bid)
    forming["low"] = min(forming["low"], bid)


def add_bar(payload: dict[str, Any], bar: dict[str, Any], keep: int | None = None) -> bool:
    """A ``bar`` frame: append the closed bar (once) and drop the forming candle it closes.

    Returns False for a bar already held. ``keep`` caps the bars held (oldest dropped)."""
    bars = payload["bars"]
    times = bars["time"]
    if times and bar["time"] <= times[-1]:
        return False
    for key in ("time", "open", "high", "low", "close", "volume"):
        bars.setdefault(key, [])
        bars[key] = [*bars[key], bar.get(key, 0)]
        if keep is not None and len(bars[key]) > keep:
            bars[key] = bars[key][-keep:]
    forming = payload.get("forming")
    if forming and forming["time"] <= bar["time"]:
        payload["forming"] = None
    return True


def window(payload: dict[str, Any], count: int, offset: int = 0) -> dict[str, Any]:
    """The payload's last ``count`` bars, ``offset`` bars back from the newest (panning).

    Panned back (``offset`` > 0) the forming candle is left out: it is not in that window."""
    bars = payload["bars"]
    n = len(bars["time"])
    offset = max(0, min(offset, max(0, n - 1)))
    end = n - offset
    start = max(0, end - count)
    out = dict(payload)
    out["bars"] = {k: list(v[start:end]) for k, v in bars.items()}
    if offset:
        out["forming"] = None
    return out
