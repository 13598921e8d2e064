"""A small keep-alive HTTP/1.1 load generator (asyncio streams), run as its own process.

    python bench/loadgen.py URL SECONDS (--concurrency N | --rate R) [--header 'K: V']...

Prints one JSON line: requests, errors, req/s, p50 and p99 latency in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def one_connection(
    host: str,
    port: int,
    request: bytes,
    until: float,
    latencies: list[float],
    errors: list[int],
    pace: asyncio.Queue[float] | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            if pace is not None:
                try:
                    await asyncio.wait_for(pace.get(), timeout=until - time.perf_counter())
                except TimeoutError:
                    return
            t0 = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not status.startswith(b"HTTP/1.1 200"):
                errors.append(int(status.split()[1]))
    finally:
        writer.close()


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("seconds", type=float)
    p.add_argument("--concurrency", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--header", action="append", default=[])
    a = p.parse_args()
    u = urlsplit(a.url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    path = u.path + (f"?{u.query}" if u.query else "")
    head = "".join(f"{h}\r\n" for h in a.header)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode()
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + a.seconds
    pace: asyncio.Queue[float] | None = None
    conns = a.concurrency or 32
    tasks = []
    if a.rate:
        pace = asyncio.Queue()

        async def ticker() -> None:
            start = time.perf_counter()
            n = 0
            while time.perf_counter() < until:
                n += 1
                pace.put_nowait(time.perf_counter())
                await asyncio.sleep(max(0.0, start + n / a.rate - time.perf_counter()))

        tasks.append(asyncio.create_task(ticker()))
    started = time.perf_counter()
    await asyncio.gather(
        *tasks,
        *(
            one_connection(host, port, request, until, latencies, errors, pace)
            for _ in range(conns)
        ),
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else 0

    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": len(errors),
                "rps": len(latencies) / elapsed,
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
