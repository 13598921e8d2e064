"""The words a chart draws, in the user's language (``client.lang``): its title and shorter
forms of it, the lines' tags, the legend of their prices, and the time axis's labels (numbers:
prices and times stay as the axes write them)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from rich.cells import cell_len, set_cell_size

from tradealerts.client.chart._options import LEGEND_ROWS, price_text
from tradealerts.client.lang import _, ngettext

__all__ = [
    "as_cells",
    "full_title",
    "hidden_lines",
    "last_label",
    "legend_rows",
    "line_label",
    "no_bars_title",
    "time_label",
    "title_forms",
]


def full_title(payload: dict[str, Any], c: dict[str, list[float]]) -> str:
    symbol = payload["symbol"]
    span = _("range {low}–{high}").format(
        low=price_text(symbol, min(c["low"])), high=price_text(symbol, max(c["high"]))
    )
    return " · ".join([_head(payload), _bars(c), span, _last(symbol, c)])


def _head(payload: dict[str, Any]) -> str:
    return f"{payload['symbol']} {payload['timeframe']}"


def _bars(c: dict[str, list[float]]) -> str:
    n = len(c["time"])
    return ngettext("{count} bar", "{count} bars", n).format(count=n)


def _last(symbol: str, c: dict[str, list[float]]) -> str:
    return last_label(symbol, c["close"][-1])


def last_label(symbol: str, price: float) -> str:
    """The last price's label: on the price's line and in the title."""
    return _("last {price}").format(price=price_text(symbol, price))


def no_bars_title(payload: dict[str, Any]) -> str:
    return _("{pair}: no bars yet").format(pair=_head(payload))


def title_forms(payload: dict[str, Any], c: dict[str, list[float]]) -> list[str]:
    """The title, then shorter forms of it for a narrow chart, the pair and timeframe last.
    A ``feed_state`` in the payload (``market closed``, ``data delayed since 14:05``: put
    there by the TUI, issue #29) ends every form but the last, before the range goes."""
    head, last = _head(payload), _last(payload["symbol"], c)
    forms = [full_title(payload, c), f"{head} · {_bars(c)} · {last}", f"{head} · {last}"]
    state = payload.get("feed_state")
    if state:
        forms = [f"{f} · {state}" for f in forms] + [f"{head} · {state}"]
    return [*forms, head]


def line_label(kind: str, diagonal: bool, price: str) -> str:
    """A line's tag and price, on the chart and in its legend: ``R 1.09120`` (resistance),
    ``S`` (support), ``TR``/``TS`` (trendlines)."""
    if diagonal:
        tag = _("TR {price}") if kind == "resistance" else _("TS {price}")
    else:
        tag = _("R {price}") if kind == "resistance" else _("S {price}")
    return tag.format(price=price)


def hidden_lines(hint: str) -> str:
    """The legend with the lines toggled off (hidden, not absent: "none active near the
    price" would say there were none); ``hint``: how to show them again."""
    text = _("Lines: hidden")
    return text + f" ({hint})" if hint else text


def legend_rows(labels: list[str], width: int) -> list[str]:
    """``Lines: R 1.09120  S 1.08400 …`` wrapped to ``LEGEND_ROWS`` rows of ``width`` cells."""
    if not labels:
        return [_("Lines: none active near the price")]
    lead = _("Lines:")
    rows, row = [], lead
    for i, label in enumerate(labels):
        if cell_len(row) + 2 + cell_len(label) <= width:
            row += ("  " if row != lead else " ") + label
            continue
        rows.append(row)
        if len(rows) == LEGEND_ROWS:
            return [*rows[:-1], _with_more(row, len(labels) - i, width)]
        row = " " * cell_len(lead) + label
    rows.append(row)
    return rows


def _with_more(row: str, left: int, width: int) -> str:
    """``row`` and " +N more", dropping whole labels from its end until it fits."""
    labels = row.split("  ")
    while True:
        text = "  ".join(labels) + "  " + _("+{count} more").format(count=left)
        if cell_len(text) <= width or len(labels) <= 1:
            return text if cell_len(text) <= width else set_cell_size(text, width)
        labels.pop()
        left += 1


def as_cells(text: str) -> list[str]:
    """``text`` one terminal cell an item, for plotext's matrix: a wide character (Japanese)
    fills two, its own and an empty one after it, so that a row keeps its width."""
    out: list[str] = []
    for ch in text:
        out.append(ch)
        if cell_len(ch) == 2:
            out.append("")
    return out


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
