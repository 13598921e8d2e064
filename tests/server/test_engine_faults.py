"""The engine never dies silently: ``tradealerts-server serve`` as a real process refuses an
owner's configuration error at start in one line, and an engine failure after start (the
MT5 terminal's history not there yet, through the stand-in over a real rpyc bridge; its
stream breaking, through the stand-in loaded directly) is logged, shown by health with its
reason, retried, and recovered from."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.server.serverkit import free_port
from tests.server.test_feed_mt5 import STANDIN, standin_bridge

from tradealerts.server.engine import Engine
from tradealerts.server.feeds import FeedOptions, create_feed

EXE = Path(sys.executable).parent / "tradealerts-server"

# copy_rates_from_pos answers None while _state["no_history"] is set, as a terminal does
# whose history for the symbol is not synchronised yet
NO_HISTORY = """
import MetaTrader5 as m
_real = m.copy_rates_from_pos
def copy_rates_from_pos(symbol, timeframe, start_pos, count):
    if m._state.get("no_history"):
        m._fail(-1, "Terminal: history not synchronized")
        return None
    return _real(symbol, timeframe, start_pos, count)
m.copy_rates_from_pos = copy_rates_from_pos
m._state["no_history"] = True
"""


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TRADEALERTS_HOME": str(home), **extra}
    env.pop("TRADEALERTS_DATABASE_URL", None)
    return env


@pytest.mark.parametrize(
    ("feed", "says"),
    [
        ("replay:{tmp}/EURUSD_H1.csv", "EURUSD_H1.csv: no such file"),
        ("replay:{tmp}/prices.csv", "prices.csv: no such file"),  # before the symbol
        ("replay", "unknown feed 'replay'"),
        ("mt5", "the MetaTrader5 module is not installed"),
    ],
)
def test_a_configuration_error_stops_serve_at_start_in_one_line(
    tmp_path: Path, feed: str, says: str
) -> None:
    feed = feed.format(tmp=tmp_path)
    port = free_port()
    r = subprocess.run(
        [str(EXE), "serve", "--port", str(port), "--feed", feed],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: feed: ") and says in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_a_database_that_cannot_be_opened_stops_serve_in_one_line(tmp_path: Path) -> None:
    r = subprocess.run(
        [str(EXE), "serve", "--port", str(free_port()), "--database-url", "nosuch://db"],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: database: "), r.stderr


@pytest.fixture
def bridge() -> Iterator[tuple[int, Any]]:
    """The stand-in MetaTrader5 served over a real rpyc classic bridge: (port, its control)."""
    with standin_bridge() as running:
        yield running


def test_a_history_load_that_fails_is_logged_shown_retried_and_recovered(
    tmp_path: Path, bridge: tuple[int, Any]
) -> None:
    bridge_port, control = bridge
    mt5 = control.modules.MetaTrader5
    mt5._configure(symbols={"EURUSD": 1.08}, server_utc_offset_hours=2, start=time.time())
    control.execute(NO_HISTORY)
    port = free_port()
    log = tmp_path / "serve.log"
    env = env_for(
        tmp_path,
        TRADEALERTS_FEED=f"mt5-rpyc://127.0.0.1:{bridge_port}",
        TRADEALERTS_MT5_UTC_OFFSET="2",
        TRADEALERTS_HISTORY_BARS="50",
        # stale after 3 polls: 6 s, so the feed is still fresh while the owner's `status`
        # (a process start: seconds on a loaded machine) asks, after the last tick moved
        TRADEALERTS_MT5_POLL_INTERVAL="2",
    )
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [str(EXE), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}/api/system/health"
    try:
        failing = poll(url, proc, lambda r, b: b["engine"]["status"] == "retrying")
        assert failing.status_code == 503
        engine = failing.json()["engine"]
        assert engine["error"].startswith("loading history: MT5 gave no ")
        assert "history not synchronized" in engine["error"]
        assert engine["failures"] >= 1 and engine["retry_in_seconds"] >= 0
        text = log.read_text()
        assert "feed mt5 unavailable: MT5 gave no" in text and "retrying in 1s" in text
        said = status(env, port)  # the owner's command says the same, and fails for a monitor
        assert said.returncode == 1 and "degraded" in said.stdout, said
        assert re.search(r"engine\s+retrying\s.*error loading history: MT5 gave no", said.stdout)

        mt5._state["no_history"] = False  # the terminal has synchronised

        def ticking(r: httpx.Response, b: dict[str, Any]) -> bool:
            mt5._advance(1.0)  # the market moves: fresh ticks keep the feed "ok"
            return r.status_code == 200

        ok = poll(url, proc, ticking).json()
        assert ok["engine"]["status"] == "ok" and "error" not in ok["engine"]
        assert ok["feed"]["symbols"]["EURUSD"]["status"] == "ok"
        assert "engine running again after" in log.read_text()
        said = status(env, port)
        assert said.returncode == 0 and re.search(r"engine\s+ok", said.stdout), said
    finally:
        proc.terminate()
        proc.wait(15)
    gone = status(env, port)
    assert gone.returncode == 1 and "no tradealerts server answers" in gone.stderr
    assert "Traceback" not in gone.stderr


def status(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """``tradealerts-server status`` on the embedded default (no Redis): the server's health."""
    env = {k: v for k, v in env.items() if k != "TRADEALERTS_REDIS_URL"}
    return subprocess.run(
        [str(EXE), "status", "--server", f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def poll(url: str, proc: subprocess.Popen[bytes], until: Any, timeout: float = 60) -> Any:
    """GET ``url`` every 0.1 s until ``until(response, body)``; fails if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            r = httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if until(r, r.json()):
            return r
        time.sleep(0.1)
    raise AssertionError(f"health never reached the state: {r.json()}")


@pytest.fixture
def standin() -> Iterator[Any]:
    """The stand-in MetaTrader5 module, loaded directly (the ``mt5`` feed)."""
    sys.path.insert(0, str(STANDIN))
    try:
        yield importlib.import_module("MetaTrader5")
    finally:
        sys.path.remove(str(STANDIN))
        sys.modules.pop("MetaTrader5", None)


async def test_a_stream_that_breaks_is_logged_shown_and_retried(
    standin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    mt5 = standin
    mt5._configure(symbols={"EURUSD": 1.08}, server_utc_offset_hours=2, start=1_764_001_000.0)
    opts = FeedOptions(
        symbols=("EURUSD",),
        mt5_utc_offset=2,
        mt5_poll_interval=0.01,
        clock=lambda: mt5._state["now"],
    )
    engine = Engine(create_feed("mt5", opts), history_bars=50, stale_after=60, retry_first=0.05)

    async def market() -> None:
        while True:
            mt5._advance(1.0)
            await asyncio.sleep(0.01)

    async def until(what: str, predicate: Any) -> None:
        for _ in range(1000):
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}: {engine.health()['engine']}")

    moving = asyncio.create_task(market())
    try:
        with caplog.at_level(logging.INFO, logger="tradealerts.engine"):
            await engine.start()
            assert engine.state == "running"
            await until("ticks", lambda: engine.events > 5)
            # the terminal goes, and comes back without the product's symbols: the feed's
            # stream ends on a configuration error, which used to end the engine for good
            mt5._disconnect()
            await until("the loss", lambda: "lost" in (engine.feed.status().error or ""))
            mt5._state["symbols"] = {}
            mt5._reconnect()
            await until("a retry", lambda: engine.state == "retrying")
            body = engine.health()["engine"]
            assert body["status"] == "retrying" and body["failures"] >= 1
            assert body["error"] == "the MT5 terminal has none of the product's symbols"
            assert "feed mt5 failed: the MT5 terminal has none of the product's symbols; " \
                "retrying in 0.05s" in caplog.text  # fmt: skip
            mt5._state["symbols"] = {"EURUSD": 1.08}  # the owner fixes the terminal
            before = engine.events
            await until("recovery", lambda: engine.state == "running" and engine.events > before)
            assert "error" not in engine.health()["engine"]
            assert "engine running again after" in caplog.text
    finally:
        moving.cancel()
        await engine.stop()
