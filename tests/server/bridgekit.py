"""A stand-in for the MT5 bridge EA (mql5/TradeAlertsBridge.mq5), which cannot run here.

It sends what the EA's wire format says (``tradealerts.core.ingest.IngestBatch``, the one
schema), the way the EA sends it: on start the last N closed bars of every buffer, then, on
each newly closed bar, the last ``resend`` bars again (a fractal is marked on its bar only
when later bars close, so the EA re-sends a short look-back). Its indicator is Bill Williams'
fractals with a window of its own (1, where our spec uses 2): buffer 0 holds the up
fractal's high or EMPTY_VALUE, buffer 1 the down fractal's low, as MT5's Fractals does.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tradealerts.core.indicators import find_fractals
from tradealerts.core.ingest import EMPTY_VALUE, MAX_BARS, IngestBatch

OWNER_WINDOW = 1  # the owner's fractal window; ours is 2


def read_bars(path: Path) -> dict[str, np.ndarray]:
    """A plain replay CSV (ISO times) as columns."""
    rows = list(csv.DictReader(path.open()))
    cols: dict[str, np.ndarray] = {
        "time": np.array(
            [
                int(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp())
                for r in rows
            ]
        )
    }
    for k in ("open", "high", "low", "close"):
        cols[k] = np.array([float(r[k]) for r in rows])
    return cols


def fractal_buffers(bars: dict[str, np.ndarray], n: int = OWNER_WINDOW) -> list[list[float]]:
    """The two buffers of a fractal indicator with window ``n``, one row per bar."""
    up, down = find_fractals(bars["high"], bars["low"], n)
    rows = [[EMPTY_VALUE, EMPTY_VALUE] for _ in range(len(bars["time"]))]
    for i in up:
        rows[i][0] = float(bars["high"][i])
    for i in down:
        rows[i][1] = float(bars["low"][i])
    return rows


def batch(
    symbol: str, timeframe: str, times: list[int], rows: list[list[float]], buffers: list[int]
) -> dict[str, Any]:
    """One request body, built and checked by the wire schema."""
    body = IngestBatch(
        symbol=symbol,
        timeframe=timeframe,
        indicator="Fractals(1)",
        buffers=buffers,
        bars=[{"time": t, "values": v} for t, v in zip(times, rows, strict=True)],  # type: ignore[misc]
    )
    return body.model_dump(mode="json")


class StandInBridge:
    """Posts to ``POST /api/ingest/indicators`` with the ingest token, like the EA."""

    def __init__(self, url: str, token: str, symbol: str = "EURUSD", timeframe: str = "H1"):
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.symbol, self.timeframe = symbol, timeframe
        self.sent: list[dict[str, Any]] = []

    def post(self, body: dict[str, Any]) -> httpx.Response:
        self.sent.append(body)
        return self.client.post("/api/ingest/indicators", json=body)

    def start(
        self, times: list[int], rows: list[list[float]], buffers: tuple[int, ...] = (0, 1)
    ) -> None:
        """The EA's OnInit: every bar given (the last N), in batches the endpoint takes."""
        for k in range(0, len(times), MAX_BARS):
            r = self.post(
                batch(self.symbol, self.timeframe, times[k : k + MAX_BARS], rows[k : k + MAX_BARS],
                      list(buffers))
            )  # fmt: skip
            assert r.status_code == 200, r.text

    def closed(
        self, times: list[int], rows: list[list[float]], upto: int, resend: int = 10
    ) -> dict[str, Any]:
        """The EA on a newly closed bar ``upto``: it and the ``resend`` - 1 bars before it."""
        lo = max(0, upto - resend + 1)
        r = self.post(batch(self.symbol, self.timeframe, times[lo : upto + 1],
                            rows[lo : upto + 1], [0, 1]))  # fmt: skip
        assert r.status_code == 200, r.text
        return dict(r.json())

    def close(self) -> None:
        self.client.close()
