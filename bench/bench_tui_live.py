"""TUI live benchmark: ``tradealerts tui`` in a real terminal (tmux, 120 x 40) on the EURUSD
H1 chart while a real server replays M5 bars at 5 bars a second: 20 price frames a second on
the open chart through the real stream (token, tier check, one SSE connection), plus an H1 bar
every 2.4 s, each of which re-reads the chart's payload (far more bars than a live H1 chart
sees: the conservative side).

Figures, for the app's process alone (the server runs on the other core):
- price frame received → screen written: p50/p99 over LIVE_SECONDS (15 s), target p99 <= 100 ms
  (frames may be coalesced into one repaint; each is timed to the repaint that shows it or a
  newer price);
- CPU while the frames come, in % of one core: target <= 30 %;
- CPU once the replay has ended (no frames; heartbeats, the status bar's clock) over 10 s:
  target <= 1 %.
Exits 1 when a target is missed."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from benchkit import Targets, smoke
from tuikit import TICKS_PER_BAR, need_tmux, replay_server, run_probe

FRAMES_PER_S = 20
LIVE_SECONDS = float(os.environ.get("BENCH_TUI_SECONDS", smoke("15", "3")))
IDLE_SECONDS = smoke(10.0, 2.0)
P99_MS, BUSY_CPU, IDLE_CPU = 100.0, 30.0, 1.0


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> None:
    need_tmux("tradealerts tui live")
    speed = FRAMES_PER_S / TICKS_PER_BAR
    # enough bars for the start, the measured window and a margin; then the replay ends
    bars = int((LIVE_SECONDS + 12) * speed)
    with tempfile.TemporaryDirectory() as tmp, replay_server(Path(tmp), bars, speed) as env:
        args = ["live", "--seconds", str(LIVE_SECONDS), "--idle", str(IDLE_SECONDS)]
        r = run_probe(env, Path(tmp) / "live.json", args, timeout=LIVE_SECONDS + 90)
    lat = r["latency_ms"]
    t = Targets()
    rate = r["frames"] / r["seconds"]
    p50, p99 = quantile(lat, 0.50), quantile(lat, 0.99)
    print(f"price frames on the open chart: {r['frames']} in {r['seconds']:.1f} s "
          f"({rate:.1f}/s; {len(lat)} timed to their repaint)")  # fmt: skip
    print(f"frame received -> screen written: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {max(lat, default=float('nan')):.1f} ms "
          f"{t.at_most(p99, P99_MS, ' ms', 'live p99')}")  # fmt: skip
    draws = sorted(r["draw_ms"])
    print(f"chart redraws: {len(draws)} ({len(draws) / r['seconds']:.1f}/s), each p50 "
          f"{quantile(draws, 0.5):.1f} ms, p99 {quantile(draws, 0.99):.1f} ms; "
          f"{r['writes']} screen writes")  # fmt: skip
    print(f"CPU at {FRAMES_PER_S} frames/s: {r['cpu_busy'] * 100:.1f}% of one core "
          f"{t.at_most(r['cpu_busy'] * 100, BUSY_CPU, '%', 'live CPU')}")  # fmt: skip
    print(f"CPU idle (no frames, {r['idle_seconds']:.0f} s): {r['cpu_idle'] * 100:.2f}% of one "
          f"core {t.at_most(r['cpu_idle'] * 100, IDLE_CPU, '%', 'idle CPU')}")  # fmt: skip
    t.at_least(rate, FRAMES_PER_S * 0.9, "/s", "the frame rate reached")
    t.at_least(len(lat), r["frames"] * 0.95, "", "frames timed")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    t.exit()


if __name__ == "__main__":
    sys.exit(main())
