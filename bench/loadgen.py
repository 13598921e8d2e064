"""A fixed-rate keep-alive HTTP/1.1 load generator (asyncio streams), run as its own process,
corrected for coordinated omission as wrk2 is.

    python bench/loadgen.py URL SECONDS --rate R [--connections N] [--header 'K: V']...
        [--tokens FILE --per-token K --token-offset I]

Request n is due at ``start + n / R`` on a fixed timetable, whether or not a connection is
free then; its latency is measured from that intended start, not from when it was sent. A
server that stalls for 100 ms therefore shows every request that was due during the stall
as late, as its users would see it, instead of one slow request followed by fast ones (a
closed-loop generator only sends when a connection frees, so it omits exactly the requests
a stall delays). The time from the actual send is printed too (``service_*``).

``--tokens`` (a file, one access token a line, from line I) gives each request an
``Authorization: Bearer`` header: each token serves K requests, then is done, so every user
stays inside its hourly quota while the quota is counted on every request. ``--group`` G
users (default: the connections) take turns request by request, like G clients each with
its own connection.

Prints one JSON line: requests, errors (non-200 answers, failed or unfinished requests),
the rate achieved, and p50/p99/p99.9/max latency in ms from the intended start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

#: after the last due request, how long the stragglers may take before they count as errors
DRAIN_SECONDS = 10.0


class Run:
    """The timetable and what was measured against it."""

    def __init__(
        self, rate: float, seconds: float, requests: list[bytes], per: int, group: int
    ) -> None:
        self.rate = rate
        self.total = int(rate * seconds)  # requests due in the run
        self.requests = requests
        self.per = per
        self.group = group
        self.next = 0
        self.start = 0.0
        self.latencies: list[float] = []  # from the intended start
        self.service: list[float] = []  # from the actual send
        self.errors: list[str] = []

    def take(self) -> tuple[int, float] | None:
        """The next request's number and due time, or None when the timetable is done."""
        if self.next >= self.total:
            return None
        n = self.next
        self.next += 1
        return n, self.start + n / self.rate

    def request(self, n: int) -> bytes:
        g = self.group
        return self.requests[min(n // (self.per * g) * g + n % g, len(self.requests) - 1)]


async def connection(host: str, port: int, run: Run) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (slot := run.take()) is not None:
            n, due = slot
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = time.perf_counter()
            writer.write(run.request(n))
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done = time.perf_counter()
            run.latencies.append(done - due)
            run.service.append(done - sent)
            if not status.startswith(b"HTTP/1.1 200"):
                run.errors.append(status.decode("latin-1").strip())
    finally:
        writer.close()


def pct(values: list[float], q: float) -> float:
    """The q-quantile of sorted ``values``, in ms (nearest rank)."""
    return values[min(len(values) - 1, int(q * len(values)))] * 1e3 if values else 0.0


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("seconds", type=float)
    p.add_argument("--rate", type=float, required=True, help="requests per second")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--tokens", type=Path, help="a file of access tokens, one a line")
    p.add_argument("--per-token", type=int, default=300)
    p.add_argument("--token-offset", type=int, default=0)
    p.add_argument("--group", type=int, default=0, help="users taking turns (connections)")
    a = p.parse_args()
    u = urlsplit(a.url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    path = u.path + (f"?{u.query}" if u.query else "")
    head = "".join(f"{h}\r\n" for h in a.header)
    heads = [head]
    if a.tokens is not None:
        tokens = a.tokens.read_text().split()[a.token_offset :]
        group = a.group or a.connections
        need = -(-int(a.rate * a.seconds) // (a.per_token * group)) * group
        if len(tokens) < need:
            sys.exit(f"loadgen: {need} tokens needed, {len(tokens)} given")
        heads = [f"{head}Authorization: Bearer {t}\r\n" for t in tokens[:need]]
    requests = [f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{h}\r\n".encode() for h in heads]
    run = Run(a.rate, a.seconds, requests, a.per_token, a.group or a.connections)
    run.start = time.perf_counter()
    tasks = [asyncio.create_task(connection(host, port, run)) for _ in range(a.connections)]
    _, pending = await asyncio.wait(tasks, timeout=a.seconds + DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    failures = [
        repr(t.exception()) for t in tasks if not t.cancelled() and t.exception() is not None
    ]
    elapsed = time.perf_counter() - run.start
    unfinished = run.total - len(run.latencies)
    lat = sorted(run.latencies)
    service = sorted(run.service)
    print(
        json.dumps(
            {
                "requests": len(lat),
                "due": run.total,
                # a failed connection's request never finishes: counted once, as unfinished
                "errors": len(run.errors) + unfinished,
                "first_error": (run.errors or failures or [None])[0],
                "rps": len(lat) / elapsed,
                "p50_ms": pct(lat, 0.50),
                "p99_ms": pct(lat, 0.99),
                "p999_ms": pct(lat, 0.999),
                "max_ms": lat[-1] * 1e3 if lat else 0.0,
                "service_p50_ms": pct(service, 0.50),
                "service_p99_ms": pct(service, 0.99),
            }
        )
    )


if __name__ == "__main__":
    try:  # the server runs on uvloop (uvicorn[standard]); so does its load generator
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
