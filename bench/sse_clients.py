"""Load generator for bench_stream.py: N open SSE streams, plus one calibration stream of
EURUSD prices. Prints JSON: for every ``alert`` frame and every calibration ``price`` frame,
(receive wall time, receive time minus the event's tick time)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx


async def one(
    client: httpx.AsyncClient,
    token: str,
    out: list[tuple[float, float]],
    stop: float,
    kind: str = "alert",
    params: dict[str, str] | None = None,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with client.stream("GET", "/api/stream", headers=headers, params=params) as r:
        if r.status_code != 200:
            await r.aread()
            print(f"stream refused: {r.status_code} {r.text[:200]}", file=sys.stderr)
            return
        event = None
        OPEN[0] += 1
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == kind:
                now = time.time()
                t = json.loads(line[5:])["time"]
                tick = datetime.fromisoformat(t).timestamp() if isinstance(t, str) else t
                out.append((now, now - tick))
            elif line == "":
                event = None
            if time.time() > stop:
                return


OPEN = [0]


async def report_ready(want: int, marker: Path) -> None:
    while OPEN[0] < want:
        await asyncio.sleep(0.1)
    marker.write_text(str(time.time()))


async def main() -> None:
    base, tokens_file, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    marker = Path(tokens_file).with_suffix(".ready")
    tokens = json.loads(Path(tokens_file).read_text())
    alerts: list[tuple[float, float]] = []
    prices: list[tuple[float, float]] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(30.0)  # heartbeats arrive every 15 s
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
        stop = time.time() + seconds
        tasks = [asyncio.create_task(one(client, t, alerts, stop)) for t in tokens]
        tasks.append(
            asyncio.create_task(
                one(client, tokens[0], prices, stop, "price", {"symbols": "EURUSD:H1"})
            )
        )
        tasks.append(asyncio.create_task(report_ready(len(tokens) + 1, marker)))
        stop_file = marker.with_suffix(".stop")
        while time.time() < stop and not stop_file.exists():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        print(f"{len(errors)} streams failed, e.g. {errors[0]!r}", file=sys.stderr)
    print(json.dumps({"alerts": alerts, "prices": prices}))


if __name__ == "__main__":
    asyncio.run(main())
