"""Synthetic history for 15 symbols x 9 timeframes x 5,000 bars: wall time and peak RSS.

Each measurement runs in a fresh interpreter so the RSS is the feed's, not the benchmark's.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchkit import Targets, smoke

RUNS = smoke(3, 1)
CHILD = r"""
import asyncio, json, resource, time
from tradealerts.server.feeds import FeedOptions, create_feed
async def main():
    t0 = time.perf_counter()
    feed = create_feed("synthetic", FeedOptions(history_bars=5000, start_time=1764001234))
    await feed.start()
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bars = 0
    for sym in feed.symbols():
        for tf in feed.timeframes(sym):
            bars += len(await feed.bars(sym, tf, 5000))
    print(json.dumps({"wall": wall, "rss": rss, "bars": bars}))
asyncio.run(main())
"""
BASE = (
    "import resource, numpy, tradealerts.server.feeds.synthetic; "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
)


def main() -> None:
    targets = Targets()
    runs = [json.loads(subprocess.check_output([sys.executable, "-c", CHILD])) for _ in range(RUNS)]
    base = float(subprocess.check_output([sys.executable, "-c", BASE]))
    wall = sorted(r["wall"] for r in runs)[len(runs) // 2]
    rss = max(r["rss"] for r in runs)
    # measure what the line below claims: 15 symbols x 9 timeframes x 5,000 closed bars
    if any(r["bars"] != 15 * 9 * 5000 for r in runs):
        sys.exit(f"built {runs[0]['bars']:,} bars, expected {15 * 9 * 5000:,}")
    print(
        f"synthetic history 15 x 9 x 5,000 bars: {wall:.2f} s (median of {RUNS})  "
        + targets.at_most(wall, 2, " s", "build time")
    )
    print(
        f"peak RSS: {rss:.0f} MB ({rss - base:.0f} MB above the interpreter with numpy and the"
        f" module loaded)  " + targets.at_most(rss, 100, " MB", "peak RSS")
    )
    targets.exit()


if __name__ == "__main__":
    main()
