"""Fires on the chart: where an alert would have fired (a backtest, ``POST
/api/alerts/backtest``) or really fired (its history), as the chart's fire markers
(``Store.fire_marks``, drawn by ``client.chart``), and the one-line summary the chart's ``t``
and the alert form's **Test** show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradealerts.client.lang import N_, _, ngettext

__all__ = ["history_marks", "result_marks", "said"]

#: The verdicts as the alert health says them.
_VERDICT = {
    "dormant": N_("dormant (none)"),
    "chatty": N_("chatty (over 10 a day)"),
    "ok": N_("ok"),
}


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def result_marks(result: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    """(time, price) of each fire of a backtest result, for ``ChartOptions.marks``."""
    out = []
    for f in result.get("fires") or []:
        t = _epoch(f.get("bar_time") or f.get("time"))
        if t is not None and isinstance(f.get("price"), int | float):
            out.append((t, float(f["price"])))
    return tuple(out)


def history_marks(items: list[Any]) -> tuple[tuple[float, float], ...]:
    """(time, price) of each fired alert of a history page (``AlertHistoryItem``)."""
    return tuple((ev.time.timestamp(), float(ev.price)) for ev in items if ev.price is not None)


def said(result: dict[str, Any]) -> str:
    """``12 fires over 500 bars (0.3 a day): ok; intra-bar on each bar's OHLC path``."""
    count = int(result.get("count") or 0)
    per_day = result.get("per_day")
    rate = (
        _(", {rate} a day").format(rate=f"{per_day:g}") if isinstance(per_day, int | float) else ""
    )
    verdict = str(result.get("verdict") or "")
    how = (
        _("intra-bar: run on each bar's OHLC path")
        if result.get("intrabar") == "ohlc_path"
        else _("bar-close: exact")
    )
    fires = ngettext("{count} fire", "{count} fires", count).format(count=count)
    if result.get("capped"):
        fires = _("{count} fires (the replay stopped there)").format(count=count)
    verdict_said = _(_VERDICT[verdict]) if verdict in _VERDICT else verdict
    return _("{fires} over {bars} bars{rate}: {verdict}; {how}").format(
        fires=fires, bars=result.get("bars"), rate=rate, verdict=verdict_said, how=how
    )
