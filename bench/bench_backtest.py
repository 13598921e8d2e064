"""Alert backtests (issue #26): ``POST /api/alerts/backtest`` against a real server holding
5,000 H1 bars per series (the synthetic feed). Times 20 alerts of one series over 5,000 bars
and 100 alerts over 5 series (20 each) over 5,000 bars: the server's own time (``server_ms``
in the answer: parsing, the replays, the answer) and the wall time of the request, each the
median of several runs. The alerts are a user's mix: crossings, states, channels, movements,
touches, breaks, bounces and fractals, some with cooldown and max_fires.
While the 100-alert calls run, another user's plain requests (``GET /api/user`` every 20 ms,
from their own process): their p99 against a target, beside the same on an idle server.
Then the core alone, in this process: the CPU time of ``backtest_series`` over the same mix
(the least of a few runs; CPU time moves less with the machine's load than wall time).
Exits 1 when a target is missed."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchkit import BIN, Targets, free_port, smoke, wait_up

EMAIL, PASSWORD = "bench-backtest@example.com", "a long benchmark passphrase"
SECRET = "bench-backtest-secret-key-0123456789"  # noqa: S105 (a throwaway server)
BARS = smoke(5000, 300)
RUNS = smoke(5, 1)
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "AUDUSD")
TARGET_ONE_MS = 100.0  # 20 alerts, one series, 5,000 bars
TARGET_FIVE_MS = 500.0  # 100 alerts, 5 series, 5,000 bars
#: another user's plain request while the 100-alert call replays: one user's backtest never
#: stalls the others (the replay runs in a process of its own: alerts/backtest_answer.py)
TARGET_NEIGHBOUR_P99_MS = 50.0
OTHER_EMAIL = "bench-backtest-other@example.com"
#: the other user, in a process of their own (this one is busy reading the big answer):
#: GET /api/user every 20 ms until a line arrives on stdin, then the times as JSON
PROBE = r"""
import json, select, sys, time
import httpx
base, token = sys.argv[1], sys.argv[2]
took = []
with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
    print("ready", flush=True)
    while True:  # at least one request, however short the call
        t = time.perf_counter()
        c.get("/api/user").raise_for_status()
        took.append((time.perf_counter() - t) * 1000)
        if select.select([sys.stdin], [], [], 0.02)[0]:
            break
print(json.dumps(took), flush=True)
"""


def mix(symbol: str, price: float) -> list[dict[str, Any]]:
    """20 alerts of one series around its last price ``price``."""
    p = price

    def lv(k: float) -> float:
        return round(p * (1 + k / 100), 5)

    base = {"symbol": symbol, "timeframe": "H1"}
    bodies: list[dict[str, Any]] = [
        {"condition": "crossing", "level": lv(-1), "frequency": "once_per_bar"},
        {"condition": "crossing_up", "level": lv(1), "frequency": "once_per_bar"},
        {"condition": "crossing_down", "level": lv(-2), "frequency": "once_per_minute"},
        {"condition": "crossing", "level": lv(0.5), "frequency": "once_per_bar",
         "cooldown": "4h"},
        {"condition": "crossing", "level": lv(-0.5), "frequency": "once_per_bar",
         "max_fires": 5},
        {"condition": "crossing_up", "level": lv(2), "frequency": "once_per_bar_close"},
        {"condition": "greater_than", "level": lv(3), "frequency": "once_per_bar"},
        {"condition": "less_than", "level": lv(-3), "frequency": "once_per_bar"},
        {"condition": "entering_channel", "lower": lv(-0.3), "upper": lv(0.3),
         "frequency": "once_per_bar"},
        {"condition": "exiting_channel", "lower": lv(-1.5), "upper": lv(1.5),
         "frequency": "once_per_bar"},
        {"condition": "moving_up", "amount": round(p * 0.004, 5), "bars": 3,
         "frequency": "once_per_bar"},
        {"condition": "moving_down_pct", "amount": 0.5, "bars": 5, "frequency": "once_per_bar"},
        {"condition": "line_touch", "distance": round(p * 0.0003, 5), "side": "support",
         "frequency": "once_per_bar"},
        {"condition": "line_touch", "distance": round(p * 0.0003, 5), "side": "resistance",
         "frequency": "once_per_bar_close"},
        {"condition": "line_break", "frequency": "once_per_bar_close"},
        {"condition": "line_break", "side": "resistance", "buffer": round(p * 0.0005, 5),
         "confirm_bars": 2, "frequency": "once_per_bar_close"},
        {"condition": "trendline_break", "frequency": "once_per_bar_close"},
        {"condition": "line_bounce", "distance": round(p * 0.0005, 5), "side": "support",
         "frequency": "once_per_bar_close"},
        {"condition": "new_fractal", "frequency": "once_per_bar_close"},
        {"condition": "crossing", "level": lv(0), "frequency": "once"},
    ]  # fmt: skip
    return [{**base, **b} for b in bodies]


def _cpu(proc: psutil.Process | None) -> float:
    """CPU seconds of the server and its children (the backtest workers replay there)."""
    if proc is None:
        return 0.0
    total = 0.0
    for p in (proc, *proc.children(recursive=True)):
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def timed(
    c: httpx.Client, body: dict[str, Any], proc: psutil.Process | None = None
) -> tuple[float, float, dict[str, Any], float]:
    """(server_ms, wall ms, answer, CPU ms) of one backtest request. The CPU time (every
    thread of the server and of its backtest workers, which replay a batch in two halves at
    once) tells what the call cost the machine; the others grow with the load."""
    t0 = time.perf_counter()
    cpu0 = _cpu(proc)
    r = c.post("/api/alerts/backtest", json=body)
    cpu = (_cpu(proc) - cpu0) * 1000
    wall = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"backtest refused: {r.status_code} {r.text[:300]}")
    answer = r.json()
    return float(answer["server_ms"]), wall, answer, cpu


def main() -> None:
    targets = Targets()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")},
            "TRADEALERTS_HOME": str(home),
            "TRADEALERTS_SECRET_KEY": SECRET,
            "TRADEALERTS_HISTORY_BARS": str(BARS),
            "TRADEALERTS_LOG_LEVEL": "WARNING",
        }
        server_cmd = str(BIN / "tradealerts-server")
        for email, tier in ((EMAIL, "PRO"), (OTHER_EMAIL, "FREE")):
            subprocess.run(
                [server_cmd, "admin", "create-user", email, "--tier", tier, "--password-stdin"],
                input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
            )  # fmt: skip
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [server_cmd, "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_up(f"{base}/api/system/health", server)
            tokens = httpx.post(
                f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
                alerts: dict[str, list[dict[str, Any]]] = {}
                for sym in SYMBOLS:
                    r = c.get(f"/api/indicators/{sym}/H1", params={"bars": 1})
                    r.raise_for_status()
                    alerts[sym] = mix(sym, float(r.json()["bars"]["close"][-1]))
                one = {"alerts": alerts["EURUSD"], "bars": BARS}
                five = {"alerts": [a for sym in SYMBOLS for a in alerts[sym]], "bars": BARS}
                timed(c, one)  # warm-up: imports, first allocations
                proc = psutil.Process(server.pid)
                report(targets, c, proc, one, "20 alerts, 1 series", TARGET_ONE_MS, 20)
                report(targets, c, proc, five, "100 alerts, 5 series", TARGET_FIVE_MS, 100)
                other = httpx.post(
                    f"{base}/api/auth/login", json={"email": OTHER_EMAIL, "password": PASSWORD},
                    timeout=30,
                ).json()["access_token"]  # fmt: skip
                neighbour(targets, c, five, base, other)
        finally:
            server.terminate()
            server.wait(20)
    core()
    print(
        "(measured on a shared machine: other processes may be running; the server time is "
        "the request's time inside the server, from the route's start to its answer)"
    )
    targets.exit()


def core() -> None:
    """The replay alone, in process: CPU ms of ``backtest_series`` for the mix of one series
    and of five (the server's synthetic history, built here the same way)."""
    import asyncio
    import gc
    from datetime import UTC, datetime

    from tradealerts.core.alerts import validate_alert
    from tradealerts.core.timeframes import Timeframe
    from tradealerts.server.alerts.backtest import BacktestAlert, backtest_series
    from tradealerts.server.feeds import FeedOptions, create_feed

    async def history() -> dict[str, Any]:
        feed = create_feed("synthetic", FeedOptions(history_bars=BARS))
        await feed.start()
        return {s: await feed.bars(s, Timeframe.H1, BARS) for s in SYMBOLS}

    bars = asyncio.run(history())
    now = datetime.now(UTC)
    tested = {
        s: [BacktestAlert(validate_alert(b, now=now)) for b in mix(s, float(bars[s].close[-1]))]
        for s in SYMBOLS
    }

    def replay(symbols: tuple[str, ...]) -> tuple[float, int]:
        gc.disable()  # as the route does
        try:
            t0 = time.process_time()
            fires = 0
            for s in symbols:
                _, runs = backtest_series(
                    bars[s], BARS, tested[s], symbol=s, timeframe=Timeframe.H1
                )
                fires += sum(len(r.fires) for r in runs)
            return (time.process_time() - t0) * 1000, fires
        finally:
            gc.enable()

    for what, symbols in (("20 alerts, 1 series", SYMBOLS[:1]), ("100 alerts, 5 series", SYMBOLS)):
        runs = [replay(symbols) for _ in range(max(1, RUNS // 2 + 1))]
        cpu, fires = min(runs)
        print(f"core {what} over {BARS} bars: backtest_series CPU {cpu:.1f} ms ({fires} fires)")
    sys.stdout.flush()


def neighbour(
    targets: Targets, c: httpx.Client, body: dict[str, Any], base: str, token: str
) -> None:
    """Another user's requests while ``body`` replays (``RUNS`` calls), from their own
    process; their p99 against the target, and the same requests' with no backtest."""
    took: dict[bool, list[float]] = {}
    for busy in (False, True):
        probe = subprocess.Popen(
            [sys.executable, "-c", PROBE, base, token],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert probe.stdin is not None and probe.stdout is not None
        try:
            if probe.stdout.readline().strip() != "ready":
                raise RuntimeError("the other user's probe did not start")
            if busy:
                for _ in range(RUNS):
                    timed(c, body)
            else:
                time.sleep(2)  # what the same requests take on an idle server
            probe.stdin.write("stop\n")
            probe.stdin.flush()
            took[busy] = json.loads(probe.stdout.readline())
        finally:
            probe.wait(30)
    quiet, busy_ms = (sorted(took[b]) for b in (False, True))

    def p99(v: list[float]) -> float:
        return v[max(0, int(len(v) * 0.99) - 1)]

    what = "another user's GET /api/user during the 100-alert calls"
    print(
        f"{what}: p50 {statistics.median(busy_ms):.1f} ms, p99 {p99(busy_ms):.1f} ms "
        f"{targets.at_most(p99(busy_ms), TARGET_NEIGHBOUR_P99_MS, ' ms', what)}, "
        f"max {busy_ms[-1]:.1f} ms ({len(busy_ms)} requests; idle server: p50 "
        f"{statistics.median(quiet):.1f} ms, p99 {p99(quiet):.1f} ms)"
    )
    sys.stdout.flush()


def report(
    targets: Targets,
    c: httpx.Client,
    proc: psutil.Process,
    body: dict[str, Any],
    what: str,
    target: float,
    n: int,
) -> None:
    server, wall, cpu = [], [], []
    answer: dict[str, Any] = {}
    for _ in range(RUNS):
        s, w, answer, u = timed(c, body, proc)
        server.append(s)
        wall.append(w)
        cpu.append(u)
    results = answer["results"]
    fires = sum(r["count"] for r in results)
    print(
        f"{what} over {BARS} bars: server {statistics.median(server):.1f} ms "
        f"{targets.at_most(statistics.median(server), target, ' ms', what)}, "
        f"wall {statistics.median(wall):.1f} ms, "
        f"server + workers CPU {statistics.median(cpu):.1f} ms "
        f"(median of {RUNS}; {fires} fires; load average {os.getloadavg()[0]:.1f})"
    )
    print(f"  results {len(results)} {targets.exactly(len(results), n, f'{what}: results')}")
    bars = {r["bars"] for r in results}
    print(f"  bars replayed {sorted(bars)} {targets.exactly(min(bars), BARS, f'{what}: bars')}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
