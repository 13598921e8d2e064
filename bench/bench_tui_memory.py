"""TUI memory benchmark: the RSS of ``tradealerts tui`` (a real terminal, tmux 120 x 40) after an
hour's worth of price frames at 20 a second (72,000) through a real server's stream.

**Time is compressed**: the server replays the hour's frames as fast as the app takes them
(REPLAY_SPEED bars a second, 4 frames each), not over an hour of wall time. Memory that grows
with frames (a feed, a history of prices, payloads that never drop a bar) grows the same;
memory that grows with wall time alone (none known) would not show. The app sits on the D1
chart of an M5 replay (a bar of D1 closes every 1,152 frames, each re-reading the chart: 62
re-reads, inside PRO's 300 requests an hour), so bar frames, re-reads and price frames all
flow. The RSS is sampled at each eighth of the frames: "no growth with time" is the second
half's growth (the first fills caches: Rich's and Textual's style caches, the allocator's
arenas, the chart's D1 candles as they close).

Targets: RSS <= 150 MB at the end; growth over the second half of the frames <= 5 MB.
Exits 1 when a target is missed."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from benchkit import Targets, smoke
from tuikit import TICKS_PER_BAR, need_tmux, replay_server, run_probe

FRAMES = int(os.environ.get("BENCH_TUI_FRAMES", smoke(str(20 * 3600), "2000")))
REPLAY_SPEED = float(os.environ.get("BENCH_TUI_REPLAY_SPEED", "75"))  # bars/s: 300 frames/s
RSS_MB, GROWTH_MB = 150.0, 5.0


def main() -> None:
    need_tmux("tradealerts tui memory")
    # the replay starts with the server, before the app is up: a lead-in of bars (20 s of
    # them) that the app may miss, then the probe stops at FRAMES frames received
    bars = FRAMES // TICKS_PER_BAR + int(20 * REPLAY_SPEED)
    timeout = bars / REPLAY_SPEED * 3 + 120
    with tempfile.TemporaryDirectory() as tmp, replay_server(Path(tmp), bars, REPLAY_SPEED) as env:
        args = ["memory", "--timeframe", "D1", "--frames", str(FRAMES),
                "--timeout", str(timeout)]  # fmt: skip
        r = run_probe(env, Path(tmp) / "memory.json", args, timeout=timeout + 60)
    t = Targets()
    samples = r["samples"]
    half = samples[len(samples) // 2 - 1][1] if len(samples) >= 2 else r["rss_mb"]
    growth = r["rss_mb"] - half
    rate = r["frames"] / max(r["seconds"], 1e-9)
    print(f"price frames received: {r['frames']:,} of {FRAMES:,} in {r['seconds']:.0f} s "
          f"(an hour at 20/s, compressed: {rate:.0f}/s)")  # fmt: skip
    print("RSS along the way: " + ", ".join(f"{n:,} frames {mb:.1f} MB" for n, mb in samples))
    print(f"RSS at the end: {r['rss_mb']:.1f} MB {t.at_most(r['rss_mb'], RSS_MB, ' MB', 'RSS')}")
    print(f"growth over the second half: {growth:+.1f} MB "
          f"{t.at_most(growth, GROWTH_MB, ' MB', 'growth')}")  # fmt: skip
    print(f"(chart holds {r['bars']} bars, feed {r['feed']} alerts; connection "
          f"{r['connection']}{'; ' + r['quota'] if r['quota'] else ''})")  # fmt: skip
    t.at_least(r["frames"], FRAMES, "", "frames received", timing=False)
    for where in r["growth"]:  # BENCH_TUI_TRACEMALLOC=1: the biggest growth, to read
        print(where)
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    t.exit()


if __name__ == "__main__":
    sys.exit(main())
