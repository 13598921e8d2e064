"""The words a chart draws: its title and shorter forms of it, the legend of the lines'
prices, and the time axis's labels."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from tradealerts.client.chart._options import LEGEND_ROWS, price_text

__all__ = ["full_title", "legend_rows", "time_label", "title_forms"]


def full_title(payload: dict[str, Any], c: dict[str, list[float]]) -> str:
    symbol = payload["symbol"]
    span = f"{price_text(symbol, min(c['low']))}–{price_text(symbol, max(c['high']))}"
    last = f"last {price_text(symbol, c['close'][-1])}"
    return f"{symbol} {payload['timeframe']} · {len(c['time'])} bars · range {span} · {last}"


def title_forms(payload: dict[str, Any], c: dict[str, list[float]]) -> list[str]:
    """The title, then shorter forms of it for a narrow chart, the pair and timeframe last.
    A ``feed_state`` in the payload (``market closed``, ``data delayed since 14:05``: put
    there by the TUI, issue #29) ends every form but the last, before the range goes."""
    full = full_title(payload, c)
    head = f"{payload['symbol']} {payload['timeframe']}"
    last = f"last {price_text(payload['symbol'], c['close'][-1])}"
    forms = [full, f"{head} · {len(c['time'])} bars · {last}", f"{head} · {last}"]
    state = payload.get("feed_state")
    if state:
        forms = [f"{f} · {state}" for f in forms] + [f"{head} · {state}"]
    return [*forms, head]


def legend_rows(labels: list[str], width: int) -> list[str]:
    """``Lines: R 1.09120  S 1.08400 …`` wrapped to ``LEGEND_ROWS`` rows of ``width``."""
    if not labels:
        return ["Lines: none active near the price"]
    rows, row = [], "Lines:"
    for i, label in enumerate(labels):
        if len(row) + 2 + len(label) <= width:
            row += ("  " if row != "Lines:" else " ") + label
            continue
        rows.append(row)
        if len(rows) == LEGEND_ROWS:
            return [*rows[:-1], _with_more(row, len(labels) - i, width)]
        row = "      " + label
    rows.append(row)
    return rows


def _with_more(row: str, left: int, width: int) -> str:
    """``row`` and " +N more", dropping whole labels from its end until it fits."""
    labels = row.split("  ")
    while True:
        text = "  ".join(labels) + f"  +{left} more"
        if len(text) <= width or len(labels) <= 1:
            return text[:width]
        labels.pop()
        left += 1


def time_label(t: float, timeframe: str, zone: str = "UTC") -> str:
    """A bar's place on the time axis: its open on the user's clock; a D1 bar by its own day
    (the date of its middle)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if timeframe == "D1":
        # A broker's D1 bar opens the evening before in UTC (Monday's at 22:00 UTC Sunday on
        # the New-York-close clock): its date is the one of its middle, on any bar clock.
        return datetime.fromtimestamp(t + 43_200, UTC).strftime("%m-%d")
    dt = datetime.fromtimestamp(t, UTC)
    # a zone this machine lacks: UTC, as on the wire
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        dt = dt.astimezone(ZoneInfo(zone))
    return dt.strftime("%m-%d %H:%M")
