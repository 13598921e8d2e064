"""The owner's buffer values in the database: one row per (symbol, timeframe, bar time).

Writing is idempotent by that key: a bar sent again with the same values changes nothing, with
new values (the indicator repainted it: a fractal is marked two bars later) replaces the
values of the buffers it carries. A batch is written in one transaction, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tradealerts.server.db.models import IndicatorValues

__all__ = ["Row", "last_received", "load_values", "received_since", "write_values"]

#: buffer index -> value (None: nothing on the bar)
Row = dict[int, float | None]

_CHUNK = 500  # rows per statement: far below SQLite's bound-variable limit


def write_values(
    s: Session, symbol: str, timeframe: str, rows: dict[int, Row], now: datetime
) -> tuple[dict[int, Row], int]:
    """Merge ``rows`` (bar time -> values) into the stored ones; returns the bars whose
    values changed (time -> the full merged values) and how many were unchanged. The caller
    commits."""
    times = sorted(rows)
    stored: dict[int, Row] = {}
    for k in range(0, len(times), _CHUNK):
        part = times[k : k + _CHUNK]
        q = select(IndicatorValues.time, IndicatorValues.values).where(
            IndicatorValues.symbol == symbol,
            IndicatorValues.timeframe == timeframe,
            IndicatorValues.time.in_(part),
        )
        for t, values in s.execute(q):
            stored[int(t)] = {int(b): v for b, v in values.items()}
    changed: dict[int, Row] = {}
    for t in times:
        old = stored.get(t)
        merged = {**(old or {}), **rows[t]}
        if merged != old:
            changed[t] = merged
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    items = list(changed.items())
    for k in range(0, len(items), _CHUNK):
        batch = [
            {
                "symbol": symbol,
                "timeframe": timeframe,
                "time": t,
                "values": {str(b): v for b, v in sorted(row.items())},
                "received_at": now,
            }
            for t, row in items[k : k + _CHUNK]
        ]
        stmt = insert(IndicatorValues).values(batch)
        stmt = stmt.on_conflict_do_update(
            index_elements=["symbol", "timeframe", "time"],
            set_={"values": stmt.excluded["values"], "received_at": stmt.excluded.received_at},
        )
        s.execute(stmt)
    return changed, len(times) - len(changed)


def load_values(
    s: Session, keep: Callable[[str, str], bool] | None = None
) -> dict[tuple[str, str], dict[int, Row]]:
    """Stored values per (symbol, timeframe): bar time -> values; every series, or those
    ``keep(symbol, timeframe)`` accepts (only those are held in memory)."""
    q = select(
        IndicatorValues.symbol, IndicatorValues.timeframe, IndicatorValues.time,
        IndicatorValues.values,
    ).order_by(IndicatorValues.time)  # fmt: skip
    if keep is None:
        keep = _every
    out: dict[tuple[str, str], dict[int, Row]] = {}
    for sym, tf, t, values in s.execute(q).yield_per(2000):
        if keep(sym, tf):
            out.setdefault((sym, tf), {})[int(t)] = {int(b): v for b, v in values.items()}
    return out


def last_received(s: Session) -> dict[tuple[str, str], datetime]:
    """When the bridge's values of each series last arrived."""
    q = select(
        IndicatorValues.symbol, IndicatorValues.timeframe, func.max(IndicatorValues.received_at)
    ).group_by(IndicatorValues.symbol, IndicatorValues.timeframe)
    return {(sym, tf): at for sym, tf, at in s.execute(q)}


def _every(_symbol: str, _timeframe: str) -> bool:
    return True


def received_since(
    s: Session, since: datetime | None, keep: Callable[[str, str], bool]
) -> list[tuple[str, str, int, Row, datetime]]:
    """Rows (symbol, timeframe, time, values, received_at) that arrived at ``since`` or
    later, oldest first, of the series ``keep`` accepts: what another process's ingest route
    wrote, for an engine that runs apart from it."""
    q = select(
        IndicatorValues.symbol, IndicatorValues.timeframe, IndicatorValues.time,
        IndicatorValues.values, IndicatorValues.received_at,
    ).order_by(IndicatorValues.received_at)  # fmt: skip
    if since is not None:
        q = q.where(IndicatorValues.received_at >= since)
    return [
        (sym, tf, int(t), {int(b): v for b, v in values.items()}, at)
        for sym, tf, t, values, at in s.execute(q)
        if keep(sym, tf)
    ]
