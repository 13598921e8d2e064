"""A backtest's answer, made in a process of its own.

A replay never waits: in the server's process it would hold the GIL for the interpreter's
whole switch interval each time it got it, and every other request (and the live engine)
would wait behind it (measured: another user's ``GET /api/user`` p99 515 ms during
100-alert calls). So the replays and the answer's JSON are made in one worker process
(``Replays``, started on the first backtest, spawned: the server's threads are not forked);
the server sends the bytes it gets back. The rules are ``server.alerts.backtest``'s; here
the answer's shape (docs/api.md, "Alert backtests").
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic_core import to_json

from tradealerts.core.alerts import CHATTY_PER_DAY
from tradealerts.core.bars import Bars
from tradealerts.core.timeframes import BarClock, Timeframe
from tradealerts.server.alerts.backtest import (
    INTRABAR_NOTE,
    BacktestAlert,
    BacktestRun,
    Window,
    backtest_series,
    intrabar,
    reasons,
)

__all__ = ["WORKERS", "Groups", "Replays", "answer_json", "answer_part", "results"]

#: each series' bars and the positions of its alerts in the call
Groups = dict[tuple[str, Timeframe], tuple[Bars, list[int]]]


@lru_cache(maxsize=1 << 16)  # a window's bar times recur: across fires, alerts and calls
def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _result(
    item: BacktestAlert, window: Window, run: BacktestRun, ms: float, language: str = "en"
) -> dict[str, Any]:
    spec = item.spec
    rows, count = run.rows, run.count
    # a capped replay's rate is the one until it stopped (the rest was not replayed)
    until = rows[-1][0] if run.capped else window.end
    days = (until - window.start) / 86400 if window.bars else 0.0
    per_day = count / days if days > 0 else 0.0
    verdict = "dormant" if not count else ("chatty" if per_day > CHATTY_PER_DAY else "ok")
    end = run.ended
    confirmed = run.confirmed
    fires = []
    for (t, price, level, line_id, _, bar), reason in zip(
        rows, reasons(spec, run, language), strict=True
    ):
        bar_time = _iso(bar)
        fires.append({
            "time": _iso(t),
            "bar_time": bar_time,
            "price": price,
            "level": level,
            "reason": reason,
            "line_id": line_id,
            "confirm_bar_time": bar_time if confirmed else None,
        })  # fmt: skip
    return {
        "symbol": spec.symbol,
        "timeframe": spec.timeframe.value,
        "condition": spec.condition.value,
        "bars": window.bars,
        "from": _iso(window.start) if window.bars else None,
        "to": _iso(window.end) if window.bars else None,
        "intrabar": intrabar(spec),
        "note": INTRABAR_NOTE.into(language),
        "fires": fires,
        "count": count,
        "first": _iso(rows[0][0]) if count else None,
        "last": _iso(rows[-1][0]) if count else None,
        "per_day": round(per_day, 3),
        "verdict": verdict,
        "capped": run.capped,
        "ended": None
        if end is None
        else {"status": end.status.value, "reason": end.reason, "time": _iso(end.time)},
        "server_ms": round(ms, 2),
    }


def results(
    groups: Groups,
    alerts: list[BacktestAlert],
    window: int,
    clock: BarClock,
    n: int,
    language: str = "en",
) -> list[dict[str, Any]]:
    """Replay each series once for all of its alerts; results in the alerts' order."""
    out: list[dict[str, Any] | None] = [None] * len(alerts)
    # A replay makes ~10^5 short-lived objects (events, fires, sentences) and no cycles: the
    # cyclic collector would walk the whole server heap a few times for nothing (~20% of
    # the replay). Paused for its span only (one replay at a time: the route's semaphore).
    paused = gc.isenabled()
    gc.disable()
    try:
        for (symbol, tf), (bars, indices) in groups.items():
            t0 = time.perf_counter()
            win, runs = backtest_series(
                bars, window, [alerts[i] for i in indices], symbol=symbol, timeframe=tf,
                clock=clock, n=n,
            )  # fmt: skip
            ms = (time.perf_counter() - t0) * 1000
            for i, run in zip(indices, runs, strict=True):
                out[i] = _result(alerts[i], win, run, ms, language)
    finally:
        if paused:
            gc.enable()
    return [r for r in out if r is not None]


def answer_json(
    groups: Groups,
    alerts: list[BacktestAlert],
    window: int,
    clock: BarClock,
    n: int,
    language: str,
    batch: bool,
) -> bytes:
    """The answer as JSON, without its ``server_ms`` (the route adds it): ``{"results":
    [… with index]}`` for a ``batch`` call, else the one result. pydantic-core's writer
    (already a dependency): ~9x ``json.dumps`` on a 10 MB answer; NaN as null."""
    out = results(groups, alerts, window, clock, n, language)
    payload: dict[str, Any] = out[0]
    if batch:
        for i, r in enumerate(out):
            r["index"] = i
        payload = {"results": out}
    return to_json(payload, inf_nan_mode="null")


def answer_part(
    groups: Groups,
    alerts: list[BacktestAlert],
    window: int,
    clock: BarClock,
    n: int,
    language: str,
    first: int,
) -> bytes:
    """The results of ``alerts`` (the call's from position ``first`` on), each with its
    ``index``, as JSON list items without the brackets (the route joins the parts)."""
    out = results(groups, alerts, window, clock, n, language)
    for i, r in enumerate(out):
        r["index"] = first + i
    return to_json(out, inf_nan_mode="null")[1:-1]


def _part(groups: Groups, lo: int, hi: int) -> Groups:
    """The series of the alerts at positions ``lo .. hi - 1``, counted from ``lo``."""
    out: Groups = {}
    for key, (bars, indices) in groups.items():
        mine = [i - lo for i in indices if lo <= i < hi]
        if mine:
            out[key] = (bars, mine)
    return out


#: the worker processes: a batch's alerts are split in two halves, one each (a replay is
#: CPU-bound; two cores answer a 100-alert call in ~0.6 of the time)
WORKERS = 2


def _detach() -> None:
    """A worker's stdin and stdout are /dev/null: it says nothing there, and a parent that
    speaks a protocol on its own (a test runner's worker, a supervisor) keeps it whole."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)


#: the workers stop after this long without a backtest (~100 MB each while they live)
IDLE_SECONDS = 300.0


class Replays:
    """The worker processes the backtests replay in, started on the first call (spawned:
    the server's threads are not forked), stopped after ``idle`` seconds without one, and
    started again after one died (a replay killed by the machine: that call fails, the next
    starts afresh)."""

    def __init__(self, idle: float = IDLE_SECONDS) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._idle = idle
        self._stop_at: asyncio.TimerHandle | None = None  # stops the workers when idle

    async def answer(
        self,
        groups: Groups,
        alerts: list[BacktestAlert],
        window: int,
        clock: BarClock,
        n: int,
        language: str,
        batch: bool,
    ) -> bytes:
        """``answer_json``'s bytes, made in the workers: a batch of two or more alerts in
        two halves at once, joined in order."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                WORKERS, mp_context=multiprocessing.get_context("spawn"), initializer=_detach
            )
        loop, pool = asyncio.get_running_loop(), self._pool
        if self._stop_at is not None:
            self._stop_at.cancel()
        try:
            if not batch or len(alerts) < 2:
                return await loop.run_in_executor(
                    pool, answer_json, groups, alerts, window, clock, n, language, batch
                )
            half = (len(alerts) + 1) // 2
            calls = [
                loop.run_in_executor(
                    pool, answer_part, _part(groups, lo, hi), alerts[lo:hi], window, clock, n,
                    language, lo,
                )
                for lo, hi in ((0, half), (half, len(alerts)))
            ]  # fmt: skip
            parts = await asyncio.gather(*calls)
        except BrokenProcessPool:
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            self._stop_at = loop.call_later(self._idle, self.close)
        return b'{"results":[' + b",".join(parts) + b"]}"

    def close(self) -> None:
        """Stop the workers (a replay under way is abandoned: nothing is stored)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
