"""charts on a known replay file: the candles' price range and the line labels, in an 80×24
terminal, a wide one and an ASCII one; expectations come from the server's own payload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import Cli, make_home, serve_finished
from tests.server.serverkit import Running, register_and_login

from tradealerts.core.symbols import format_price


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    yield from serve_finished(module_tmp)


@pytest.fixture(scope="module")
def viewer(server: Running, module_tmp: Path) -> Cli:
    root = module_tmp / "viewer"
    make_home(root)
    person = Cli(server, root, "viewer@example.com")
    person.tokens = register_and_login(server, person.email)
    person.login()
    return person


def _expected(viewer: Cli, bars: int) -> tuple[str, str, list[str]]:
    """The range and the line labels the chart must show, from the server's payload."""
    p = viewer.json("indicators", "EURUSD", "H1", "--bars", str(bars))
    lows, highs = list(p["bars"]["low"]), list(p["bars"]["high"])
    if p.get("forming"):
        lows.append(p["forming"]["low"])
        highs.append(p["forming"]["high"])
    lo, hi = min(lows), max(highs)
    labels = [
        f"{'R' if ln['kind'] == 'resistance' else 'S'} {format_price('EURUSD', ln['price'])}"
        for ln in p["horizontal_lines"]
        if ln["broken_time"] is None and lo <= ln["price"] <= hi
    ]
    return format_price("EURUSD", lo), format_price("EURUSD", hi), labels


def _bars_drawn(out: str) -> int:
    m = re.search(r"(\d+) bars", out)
    assert m, out
    return int(m.group(1))


def test_chart_in_80x24(viewer: Cli) -> None:
    out = viewer.ok("charts", "eurusd", "h1", COLUMNS="80", LINES="24")
    lines = out.rstrip("\n").splitlines()
    assert len(lines) <= 24 and max(len(ln) for ln in lines) <= 80
    n = _bars_drawn(out)
    lo, hi, labels = _expected(viewer, n)
    assert f"range {lo}–{hi}" in out
    assert labels, "the replay file has active lines inside the window"
    for label in labels:
        assert label in out
    assert "last " in out and "\x1b[" not in out  # not a terminal: no colour codes


def test_chart_in_a_wide_terminal_draws_more_bars(viewer: Cli) -> None:
    narrow = _bars_drawn(viewer.ok("charts", "EURUSD", "H1", COLUMNS="80", LINES="24"))
    out = viewer.ok("charts", "EURUSD", "H1", COLUMNS="220", LINES="60")
    lines = out.rstrip("\n").splitlines()
    assert len(lines) <= 60 and max(len(ln) for ln in lines) <= 220
    n = _bars_drawn(out)
    assert n > narrow
    lo, hi, labels = _expected(viewer, n)
    assert f"range {lo}–{hi}" in out
    for label in labels:
        assert label in out


def test_chart_bars_option_and_no_lines(viewer: Cli) -> None:
    out = viewer.ok("charts", "EURUSD", "H1", "--bars", "40", "--no-lines")
    assert _bars_drawn(out) == 41 or _bars_drawn(out) == 40  # 40 closed (+ forming if any)
    lo, hi, labels = _expected(viewer, 40)
    assert f"range {lo}–{hi}" in out
    for label in labels:
        assert label not in out
    # hidden, not absent: the legend said "none active near the price"
    assert "Lines: hidden (--no-lines)" in out and "none active" not in out


def test_chart_degrades_to_ascii(viewer: Cli) -> None:
    out = viewer.ok("charts", "EURUSD", "H1", COLUMNS="80", LINES="24", PYTHONIOENCODING="ascii")
    assert out.isascii()
    lo, hi, labels = _expected(viewer, _bars_drawn(out))
    assert f"range {lo}-{hi}" in out
    for label in labels:
        assert label in out


def test_a_far_trendline_does_not_squeeze_the_candles() -> None:
    from tradealerts.client.chart import ChartOptions, render

    n, t0 = 60, 1_767_225_600
    closes = [1.0800 + 0.0010 * ((i % 10) - 5) / 5 for i in range(n)]
    payload = {
        "symbol": "EURUSD",
        "timeframe": "H1",
        "bars": {
            "time": [t0 + 3600 * i for i in range(n)],
            "open": closes,
            "high": [c + 0.0004 for c in closes],
            "low": [c - 0.0004 for c in closes],
            "close": closes,
        },
        "fractals": {"up": [], "down": []},
        "horizontal_lines": [],
        "diagonal_lines": [  # from 1.20 sixty bars ago down to the candles: mostly off-chart
            {"kind": "resistance", "t1": t0, "slope_per_bar": -0.002, "value_now": 1.0805,
             "broken_time": None},
            {"kind": "support", "t1": t0, "slope_per_bar": 0.0, "value_now": 1.30,
             "broken_time": None},  # nowhere near: not drawn, not listed
        ],
    }  # fmt: skip
    out = render(payload, ChartOptions(width=80, height=24, colour=False))
    lo, hi = min(closes) - 0.0004, max(closes) + 0.0004
    margin = (hi - lo) * 0.15  # the 10% band, and an axis label's rounding
    axis = [float(m) for m in re.findall(r"^\s*(\d\.\d+)┤", out, flags=re.MULTILINE)]
    assert axis and max(axis) <= hi + margin and min(axis) >= lo - margin, axis
    assert "TR 1.08050" in out and "TS 1.30000" not in out


def test_a_live_chart_draws_price_frames_as_plotext_draws_the_candle() -> None:
    """``LiveChart`` keeps the closed part between frames and puts the forming candle, the
    last price and the title on top: for frames inside the price axis its text is plotext's
    drawing of the same candle as a closed bar (colours, ASCII, fractals, lines and levels
    under and over it), and plotext drew the closed part once per options, not per frame."""
    import random

    from tradealerts.client.chart import ChartOptions, LiveChart, move_forming, render

    rnd = random.Random(3)
    n, t0 = 80, 1_767_225_600
    closes = [1.0800 + 0.0030 * ((i * 7 % 23) - 11) / 11 for i in range(n)]
    times = [t0 + 3600 * i for i in range(n)]
    payload = {
        "symbol": "EURUSD",
        "timeframe": "H1",
        "bars": {
            "time": times,
            "open": [c - 0.0003 for c in closes],
            "high": [c + 0.0006 for c in closes],
            "low": [c - 0.0008 for c in closes],
            "close": closes,
            "volume": [100] * n,
        },
        "forming": None,
        "fractals": {
            "up": [{"time": times[i], "price": closes[i] + 0.0006} for i in range(3, n, 9)],
            "down": [{"time": times[i], "price": closes[i] - 0.0008} for i in range(5, n, 11)],
        },
        "horizontal_lines": [
            {"kind": k, "price": p, "broken_time": None}
            for k, p in (("resistance", 1.0815), ("support", 1.0790), ("support", 1.0801))
        ],
        "diagonal_lines": [
            {"kind": "support", "t1": times[20], "slope_per_bar": 0.00003,
             "value_now": 1.0795, "broken_time": None},
        ],
    }  # fmt: skip
    t_new = times[-1] + 3600
    for opts in (
        ChartOptions(width=100, height=30, levels=(("#7", 1.0807),)),
        ChartOptions(width=60, height=20, colour=False, unicode=False),
    ):
        live = LiveChart()
        payload["forming"] = None
        lo, hi = min(payload["bars"]["low"]), max(payload["bars"]["high"])
        checked = 0
        for _ in range(60):
            move_forming(payload, min(hi - 1e-4, max(lo + 1e-4, rnd.uniform(lo, hi))), t_new)
            forming = payload["forming"]
            closed = {k: [*v, forming.get(k, 0)] for k, v in payload["bars"].items()}
            whole = render({**payload, "bars": closed, "forming": None}, opts)
            assert live.render(payload, opts) == whole
            rows = live.lines(payload, opts)
            assert "\n".join(a for a, _ in rows) == whole
            checked += 1
        assert checked == 60 and live.static_draws == 1


# -- issue #24: indicators, nearest first -------------------------------------------------
def _listed(out: str, ids: list[str]) -> list[str]:
    """The ids of ``ids`` in the order the table lists them."""
    at = {i: out.find(f" {i} ") for i in ids}
    return sorted((i for i in ids if at[i] >= 0), key=at.__getitem__)


def test_indicators_lists_the_nearest_active_lines_first_with_their_distance(viewer: Cli) -> None:
    payload = viewer.json("indicators", "EURUSD", "H1")
    last = payload["forming"]["close"] if payload.get("forming") else payload["bars"]["close"][-1]
    lines = payload["horizontal_lines"]
    active = sorted((ln for ln in lines if ln["broken_time"] is None),
                    key=lambda ln: abs(ln["price"] - last))  # fmt: skip
    broken = [ln for ln in lines if ln["broken_time"] is not None]
    assert active and broken, "the replay of EURUSD H1 has both"
    out = viewer.ok("indicators", "EURUSD", "H1")
    ids = [ln["id"] for ln in lines]
    shown = _listed(out, ids)
    assert shown == [ln["id"] for ln in active[:10]], (shown, out)
    nearest = active[0]
    pips = (nearest["price"] - last) / 0.0001
    row = next(r for r in out.splitlines() if f" {nearest['id']} " in r)
    assert f"{pips:+,.1f} pips" in row, row
    assert "--all" in out
    everything = _listed(viewer.ok("indicators", "EURUSD", "H1", "--all"), ids)
    assert sorted(everything) == sorted(ids)
    # active before broken
    assert set(everything[: len(active)]) == {ln["id"] for ln in active}
