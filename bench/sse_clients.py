"""Load generator for bench_stream.py: N open SSE streams, plus one calibration stream of
EURUSD prices. Prints JSON: for every ``alert`` frame, (receive wall time, receive time minus
the event's tick time, the stream's index in the tokens file, the event id), so the bench can
count lost and doubled frames per stream; for every calibration ``price`` frame, the first two.

A thousand streams in one process: httpx (h11 in pure Python, several layers per line) spent
more time per frame than the server, so the client's own queue showed up as "latency". This
speaks HTTP/1.1 with chunked bodies on plain asyncio streams: a few microseconds a frame.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

OPEN = [0]
REFUSED = [0]


async def one(
    host: str,
    port: int,
    token: str,
    out: list[tuple[float, ...]],
    kind: str = "alert",
    query: str = "",
    index: int = -1,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /api/stream{query} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        print(f"stream refused: {head[:200]!r}", file=sys.stderr)
        REFUSED[0] += 1
        writer.close()
        return
    if b"transfer-encoding: chunked" not in head.lower():
        raise RuntimeError("expected a chunked body")
    OPEN[0] += 1
    marker = f"event: {kind}\n".encode()
    buf = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            now = time.time()
            buf += data
            # chunked framing: <hex size>\r\n<bytes>\r\n; each chunk is one or more SSE frames
            while True:
                eol = buf.find(b"\r\n")
                if eol < 0:
                    break
                size = int(buf[:eol], 16)
                end = eol + 2 + size + 2
                if len(buf) < end:
                    break
                chunk, buf = buf[eol + 2 : end - 2], buf[end:]
                if size == 0:
                    return
                at = chunk.find(marker)
                while at >= 0:
                    start = chunk.index(b"data: ", at) + 6
                    stop = chunk.index(b"\n", start)
                    data = json.loads(chunk[start:stop])
                    t = data["time"]
                    tick = datetime.fromisoformat(t).timestamp() if isinstance(t, str) else t
                    if index >= 0:
                        out.append((now, now - tick, index, data["id"]))
                    else:
                        out.append((now, now - tick))
                    at = chunk.find(marker, stop)
    finally:
        writer.close()


async def report_ready(want: int, marker: Path) -> None:
    while OPEN[0] < want:
        await asyncio.sleep(0.1)
    marker.write_text(str(time.time()))


async def main() -> None:
    base, tokens_file, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    marker = Path(tokens_file).with_suffix(".ready")
    tokens = json.loads(Path(tokens_file).read_text())
    alerts: list[tuple[float, ...]] = []
    prices: list[tuple[float, ...]] = []
    stop = time.time() + seconds
    tasks = [asyncio.create_task(one(host, port, t, alerts, index=i)) for i, t in enumerate(tokens)]
    tasks.append(
        asyncio.create_task(one(host, port, tokens[0], prices, "price", "?symbols=EURUSD:H1"))
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
    failed = len(errors) + REFUSED[0]
    print(json.dumps({"alerts": alerts, "prices": prices, "failed_streams": failed}))


if __name__ == "__main__":
    try:  # the server runs on uvloop (uvicorn[standard]); so does its load generator
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
