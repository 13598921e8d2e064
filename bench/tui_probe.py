"""The real ``tradealerts tui`` app, run in a real terminal (tmux) by the TUI benchmarks, with
timestamps taken where a frame arrives and where the screen is written.

    python bench/tui_probe.py live OUT.json --seconds 15 --idle 10
    python bench/tui_probe.py memory OUT.json --frames 72000

Built as ``tradealerts tui`` builds it (``make_tui`` over an ``AsyncClient`` with the stored
login), plus two probes that change nothing: each price frame's arrival time, taken just before
the app handles it, and every write of the terminal driver (bytes on their way to the
terminal). A frame counts as repainted at the first driver write after the chart was redrawn
with it or a newer price (the chart coalesces bursts: the newest price always shows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from tradealerts.client import AsyncClient
from tradealerts.tui import make_tui
from tradealerts.tui.app import TradeAlertsApp
from tradealerts.tui.widgets import chart_view


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Probe:
    def __init__(self) -> None:
        self.arrived: list[float] = []  # perf_counter of each price frame
        self.drawn_upto = 0  # frames received before the chart's latest redraw began
        self.done_upto = 0  # frames whose repaint has been written
        self.latency: list[float] = []
        self.recording = False
        self.draws: list[float] = []  # seconds each chart redraw took
        self.writes = 0

    def frame(self) -> None:
        self.arrived.append(time.perf_counter())

    def drew(self) -> None:
        self.drawn_upto = len(self.arrived)

    def wrote(self) -> None:
        self.writes += 1
        if self.drawn_upto > self.done_upto:
            now = time.perf_counter()
            if self.recording:
                self.latency += [now - t for t in self.arrived[self.done_upto : self.drawn_upto]]
            self.done_upto = self.drawn_upto


def instrument(app: TradeAlertsApp, probe: Probe) -> None:
    on_event = app._on_event

    def _on_event(kind: str, data: Any, event_id: str | None) -> None:
        if kind == "price":
            probe.frame()
        on_event(kind, data, event_id)

    app._on_event = _on_event  # type: ignore[method-assign]
    draw = chart_view.ChartView._draw

    def _draw(self: Any, width: int, height: int) -> Any:
        probe.drew()
        t0 = time.perf_counter()
        try:
            return draw(self, width, height)
        finally:
            probe.draws.append(time.perf_counter() - t0)

    chart_view.ChartView._draw = _draw  # type: ignore[method-assign]


def wrap_driver(app: TradeAlertsApp, probe: Probe) -> None:
    driver: Any = app._driver
    write = driver.write

    def _write(data: str) -> None:
        write(data)
        probe.wrote()

    driver.write = _write


async def quiet_for(probe: Probe, seconds: float) -> None:
    """Until no price frame has come for ``seconds`` (the replay has ended)."""
    while True:
        seen = len(probe.arrived)
        await asyncio.sleep(seconds)
        if len(probe.arrived) == seen:
            return


async def live(app: TradeAlertsApp, probe: Probe, args: argparse.Namespace) -> dict[str, Any]:
    while not probe.arrived:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # past the first bursts of the load
    probe.latency.clear()
    probe.draws.clear()
    probe.writes = 0
    n0, c0, t0 = len(probe.arrived), cpu_s(), time.perf_counter()
    probe.recording = True
    await asyncio.sleep(args.seconds)
    probe.recording = False
    n1, c1, t1 = len(probe.arrived), cpu_s(), time.perf_counter()
    draws, writes = sorted(probe.draws), probe.writes
    await quiet_for(probe, 2.0)
    await asyncio.sleep(2.0)  # let the last repaint and re-read settle
    i0, w0 = cpu_s(), time.perf_counter()
    await asyncio.sleep(args.idle)
    i1, w1 = cpu_s(), time.perf_counter()
    return {
        "frames": n1 - n0,
        "seconds": t1 - t0,
        "cpu_busy": (c1 - c0) / (t1 - t0),
        "latency_ms": sorted(x * 1e3 for x in probe.latency),
        "draw_ms": [x * 1e3 for x in draws],
        "writes": writes,
        "cpu_idle": (i1 - i0) / (w1 - w0),
        "idle_seconds": w1 - w0,
        "connection": app.store.connection,
    }


async def memory(app: TradeAlertsApp, probe: Probe, args: argparse.Namespace) -> dict[str, Any]:
    import tracemalloc

    trace = bool(os.environ.get("BENCH_TUI_TRACEMALLOC"))  # where growth comes from, to read
    first = None
    samples: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    marks = [args.frames * k // 8 for k in range(1, 9)]
    while marks:
        await asyncio.sleep(0.5)
        n = len(probe.arrived)
        while marks and n >= marks[0]:
            samples.append((n, rss_mb()))
            marks.pop(0)
            if trace and first is None:
                tracemalloc.start(12)
                first = tracemalloc.take_snapshot()
        if time.perf_counter() - t0 > args.timeout:
            break
        if n >= args.frames:
            break
        if n and time.perf_counter() - probe.arrived[-1] > 10:
            break  # the replay ended early
    growth: list[str] = []
    if first is not None:
        diff = tracemalloc.take_snapshot().compare_to(first, "traceback")
        for stat in diff[:8]:
            growth.append(f"{stat.size_diff / 1024:.0f} KiB in {stat.count_diff} blocks:\n"
                          + "\n".join(stat.traceback.format()[-12:]))  # fmt: skip
    return {
        "growth": growth,
        "frames": len(probe.arrived),
        "seconds": time.perf_counter() - t0,
        "samples": samples,
        "rss_mb": rss_mb(),
        "feed": len(app.store.feed),
        "bars": len(app.store.chart_payload()["bars"]["time"]) if app.store.chart_payload() else 0,
        "connection": app.store.connection,
        "quota": app.store.quota,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["live", "memory"])
    parser.add_argument("out")
    parser.add_argument("--symbol", default="EURUSD")
    parser.add_argument("--timeframe", default="H1")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--idle", type=float, default=10)
    parser.add_argument("--frames", type=int, default=72_000)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    probe = Probe()
    app = make_tui(AsyncClient(), symbol=args.symbol, timeframe=args.timeframe, bell=False)
    instrument(app, probe)
    result: dict[str, Any] = {}

    async def run() -> None:
        await app.session_started.wait()
        wrap_driver(app, probe)
        try:
            work = live if args.mode == "live" else memory
            result.update(await work(app, probe, args))
        except Exception as exc:  # reported, not swallowed: the bench prints it
            result["error"] = repr(exc)
        app.exit()

    app.call_later(lambda: app.run_worker(run(), exit_on_error=False))
    profile = os.environ.get("BENCH_TUI_PROFILE")  # a cProfile of the whole run, to read
    if profile:
        import cProfile

        cProfile.runctx("app.run()", globals(), {"app": app}, profile)
    else:
        app.run()
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
